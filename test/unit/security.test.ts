import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '../../lib/logger.ts';
import { REDACTED, redact, secretValues } from '../../lib/secrets.ts';
import { scanShell, scanTypeScript } from '../../testing/source-scan.ts';

// The scan of kdflow's own source is part of `npm run lint` (scripts/lint-shell-strings.ts).
describe('no shell strings built from input', () => {
  it('would find each kind it looks for', () => {
    const source = `import { exec, spawn } from 'node:child_process';
import * as cp from 'child_process';
exec('ls ' + dir);
spawn(\`tar \${flags}\`);
cp.spawnSync('sh', ['-c', 'echo ' + name]);
spawn('ls', [], { shell: true });
const argv = ['bash', '-c', \`rm -rf \${dir}\`];
eval(code);
spawn('tar', ['-x', '-f', file]);
const fine = ['sh', '-c', SCRIPT, 'kdflow', dir];`;
    expect(scanTypeScript('x.ts', source).map((f) => `${f.line}: ${f.what}`)).toEqual([
      '3: exec() runs a shell command line',
      '4: spawn() with a command built from strings',
      '5: sh -c with a script built from strings (pass values as positional parameters)',
      '6: shell: true in process options',
      '7: sh -c with a script built from strings (pass values as positional parameters)',
      '8: eval()',
    ]);
    expect(
      scanShell('x.sh', 'exec "$@"\nexec $@\neval "$x"\n# eval here is a comment\necho "$*"\n').map(
        (f) => `${f.line}: ${f.what}`,
      ),
    ).toEqual(['2: unquoted $@ or $*', '3: eval']);
  });
});

describe('secrets', () => {
  const env = [
    { name: 'DB_PASSWORD', value: 'hunter2-secret' },
    { name: 'api_token', value: 'tok-123456' },
    { name: 'SSH_KEY', value: 'k' },
    { name: 'LOG_LEVEL', value: 'debug-verbose' },
  ];

  it('takes the values of secret-looking names of 4 characters or more', () => {
    expect(secretValues(env)).toEqual(['hunter2-secret', 'tok-123456']);
  });

  it('redacts every occurrence, and the end of one a tail cut in half', () => {
    const secrets = secretValues(env);
    expect(redact('DB_PASSWORD=hunter2-secret\nagain hunter2-secret LOG_LEVEL=debug-verbose', secrets)).toBe(
      `DB_PASSWORD=${REDACTED}\nagain ${REDACTED} LOG_LEVEL=debug-verbose`,
    );
    expect(redact('r2-secret\nrest', secrets)).toBe(`${REDACTED}\nrest`);
    expect(redact('nothing here', [])).toBe('nothing here');
  });

  it('keeps role env values out of log lines at every path kdflow logs them', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
    const roleEnv = [{ name: 'DB_PASSWORD', value: 'hunter2-secret' }];
    log.info({ env: roleEnv }, 'top level');
    log.info({ request: { env: roleEnv } }, 'a script request');
    log.info({ spec: { roles: [{ id: 'w', env: roleEnv }] } }, 'a spec');
    log.info({ input: { spec: { roles: [{ id: 'w', env: roleEnv }] } } }, 'a workflow input');
    log.info({ args: { input: { spec: { roles: [{ id: 'w', env: roleEnv }] } } } }, 'an activity call');
    log.info({ activity: { request: { env: roleEnv } } }, 'nested deeper');
    log.info(
      { headers: { authorization: 'Bearer tok-123456' }, password: 'pw-123456', token: 'tok-123456' },
      'credentials',
    );
    expect(lines).toHaveLength(7);
    for (const line of lines) expect(line).not.toMatch(/hunter2-secret|tok-123456|pw-123456/);
  });
});
