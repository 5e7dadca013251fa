import { describe, expect, it } from 'vitest';
import { suspiciousLine } from '../../lib/suspicious-output.ts';

describe('a suspicious exit 0', () => {
  it.each([
    ['bash', 'line 4: configcli: command not found', 'line 4: configcli: command not found'],
    [
      'dash',
      '/opt/guestconfig/app/startscript: 4: ccli: not found',
      '/opt/guestconfig/app/startscript: 4: ccli: not found',
    ],
    [
      'a missing file',
      'cat: /etc/app.conf: No such file or directory',
      'cat: /etc/app.conf: No such file or directory',
    ],
    ['a script that cannot run', 'sh: 1: ./setup.sh: Permission denied', 'sh: 1: ./setup.sh: Permission denied'],
    ['Python', 'ModuleNotFoundError: No module named configcli', 'ModuleNotFoundError: No module named configcli'],
    [
      'Perl',
      "Can't locate JSON.pm in @INC (you may need to install the JSON module)",
      "Can't locate JSON.pm in @INC (you may need to install the JSON module)",
    ],
  ])('is found in %s output, first line first', (_what, line, found) => {
    expect(suspiciousLine(`starting\n${line}\nwarning: other\n${line} again\n`)).toBe(found);
  });

  it('leaves ordinary stderr alone', () => {
    expect(suspiciousLine('WARNING: heap is small\nnotice: found 3 nodes\nerror count: 0\n')).toBeUndefined();
    expect(suspiciousLine('')).toBeUndefined();
  });
});
