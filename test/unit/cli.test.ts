import { mkdtemp, open, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../api/index.ts';
import { parseRoleCounts } from '../../cli/commands/resize.ts';
import { main } from '../../cli/main.ts';
import { decodeManifest } from '../../cli/files.ts';
import { hostPort } from '../../lib/reachability.ts';
import { age, memberList } from '../../cli/render.ts';
import { tailStart } from '../../cli/tail.ts';
import { COMMAND_SPECS, FLAGS, commandHelp, mainHelp, shortsFor } from '../../cli/usage.ts';
import { waitProgress } from '../../cli/commands/wait.ts';

describe('kdflow resize ROLE=N', () => {
  it('keeps every role as an own key, "constructor" and "__proto__" included', () => {
    const roles = parseRoleCounts(['constructor=3', '__proto__=2', 'worker=0']);
    expect(Object.getPrototypeOf(roles)).toBeNull();
    expect(Object.entries(roles)).toEqual([
      ['constructor', 3],
      ['__proto__', 2],
      ['worker', 0],
    ]);
    // What goes over the wire keeps the key, so the workflow refuses it by name too.
    expect(JSON.stringify(roles)).toBe('{"constructor":3,"__proto__":2,"worker":0}');
  });

  it('refuses a role given twice', () => {
    expect(() => parseRoleCounts(['worker=2', 'worker=3'])).toThrowError(
      'role worker is given twice (worker=2 and worker=3)',
    );
  });
});

describe('the command table', () => {
  it('has a command behind every entry, and every command has an entry', async () => {
    const lines: string[] = [];
    for (const name of COMMAND_SPECS.keys()) {
      expect(await main([name, '--help'], (l) => lines.push(l)), name).toBe(0);
      expect(lines.pop()?.startsWith(`usage: kdflow ${name}`), name).toBe(true);
    }
    expect(await main(['help'], (l) => lines.push(l))).toBe(0);
    for (const name of COMMAND_SPECS.keys()) expect(lines.join('\n')).toContain(`kdflow ${name}`);
  });

  it('describes only flags that exist, and every help ends without a blank line', () => {
    for (const [name, spec] of COMMAND_SPECS) {
      for (const flag of spec.flags) expect(Object.keys(FLAGS), `${name} --${flag}`).toContain(flag);
      const help = commandHelp(spec);
      expect(help.startsWith(`usage: kdflow ${spec.synopsis[0]}`)).toBe(true);
      expect(help.endsWith('\n')).toBe(false);
    }
    expect(mainHelp().endsWith('\n')).toBe(false);
  });
});

describe('manifest encodings', () => {
  const text = 'apiVersion: kdflow.dev/v1beta1\nkind: KdApp\n';
  const refusal = (bytes: Uint8Array) => {
    try {
      decodeManifest(bytes, 'm.yaml');
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      return (error as Error).message;
    }
    throw new Error('decoded');
  };
  const utf16le = (s: string) => Buffer.from(s, 'utf16le');
  const utf16be = (s: string) => Buffer.from(utf16le(s)).swap16();

  it('reads UTF-8, with or without a byte order mark', () => {
    expect(decodeManifest(Buffer.from(text), 'm.yaml')).toBe(text);
    expect(decodeManifest(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]), 'm.yaml')).toBe(text);
  });

  it.each([
    [
      'UTF-16 LE with a mark',
      Buffer.concat([Buffer.from([0xff, 0xfe]), utf16le(text)]),
      'the file is UTF-16 (little-endian, with a byte order mark)',
    ],
    [
      'UTF-16 BE with a mark',
      Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(text)]),
      'the file is UTF-16 (big-endian, with a byte order mark)',
    ],
    [
      'UTF-32 LE with a mark',
      Buffer.from([0xff, 0xfe, 0, 0, 0x61, 0, 0, 0]),
      'the file is UTF-32 (little-endian, with a byte order mark)',
    ],
    [
      'UTF-16 LE without a mark',
      utf16le(text),
      'the file is UTF-16 or UTF-32 (little-endian, zero bytes between the characters)',
    ],
    [
      'UTF-16 BE without a mark',
      utf16be(text),
      'the file is UTF-16 or UTF-32 (big-endian, zero bytes between the characters)',
    ],
    [
      'Latin-1',
      Buffer.from('metadata: {name: caf\u00e9}\n', 'latin1'),
      'the file is not UTF-8 (byte 0xe9 at offset 20; Latin-1 or Windows-1252 perhaps)',
    ],
  ])('names %s and asks for UTF-8', (_name, bytes, what) => {
    expect(refusal(bytes)).toBe(`m.yaml: ${what}; manifests must be UTF-8: save it as UTF-8`);
  });
});

describe('the tail of a file, read backwards', () => {
  async function tail(content: string, lines: number, maxBytes = 1 << 20) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-tail-'));
    const file = path.join(dir, 'f');
    await writeFile(file, content);
    const handle = await open(file);
    try {
      const { start, cut } = await tailStart(handle, Buffer.byteLength(content), lines, maxBytes);
      return { shown: Buffer.from(content).subarray(start).toString(), cut };
    } finally {
      await handle.close();
    }
  }

  it.each([
    ['the last 2 of 4 lines', 'a\nb\nc\nd\n', 2, { shown: 'c\nd\n', cut: 'lines' }],
    ['a last line without a newline', 'a\nb\nc', 2, { shown: 'b\nc', cut: 'lines' }],
    ['fewer lines than asked for', 'a\nb\n', 5, { shown: 'a\nb\n', cut: false }],
    ['exactly as many lines', 'a\nb\n', 2, { shown: 'a\nb\n', cut: false }],
    ['empty lines count', '\n\n\nx\n', 2, { shown: '\nx\n', cut: 'lines' }],
    ['zero lines', 'a\n', 0, { shown: '', cut: 'lines' }],
    ['an empty file', '', 3, { shown: '', cut: false }],
  ] as const)('%s', async (_name, content, lines, expected) => {
    expect(await tail(content, lines)).toEqual(expected);
  });

  it('spans chunks', async () => {
    const lines = Array.from({ length: 50_000 }, (_, i) => `line ${i}`);
    const { shown, cut } = await tail(`${lines.join('\n')}\n`, 20_000);
    expect(cut).toBe('lines');
    expect(shown).toBe(`${lines.slice(-20_000).join('\n')}\n`);
  });

  it('shows at most maxBytes of one endless line', async () => {
    expect(await tail(`start\n${'x'.repeat(500)}`, 10, 100)).toEqual({ shown: 'x'.repeat(100), cut: 'bytes' });
  });
});

describe('small helpers', () => {
  it('lists members briefly', () => {
    expect(memberList([])).toBe('; it has no members');
    expect(memberList(['a-0', 'a-1'])).toBe('; its members: a-0, a-1');
    expect(memberList(Array.from({ length: 7 }, (_, i) => `w-${i}`))).toBe(
      '; its members: w-0, w-1, w-2, w-3, w-4, … (7 in all)',
    );
  });

  it('reads host and port from an address', () => {
    expect(hostPort('127.0.0.1:7233')).toEqual({ host: '127.0.0.1', port: 7233 });
    expect(hostPort('[::1]:7233')).toEqual({ host: '::1', port: 7233 });
    expect(hostPort('my.temporal.cloud:7233')).toEqual({ host: 'my.temporal.cloud', port: 7233 });
    expect(hostPort('dns:///x:7233')).toBeUndefined();
  });
});

describe('watching and waiting', () => {
  it('gives -f to a command’s own flag (logs: --follow) and to --file elsewhere', () => {
    expect(shortsFor('logs').get('f')).toBe('follow');
    expect(shortsFor('apply').get('f')).toBe('file');
    expect(shortsFor(undefined).get('f')).toBe('file');
    expect(shortsFor('get').get('w')).toBe('watch');
  });

  it('says age as kubectl does', () => {
    const now = Date.parse('2026-01-10T00:00:00Z');
    const ago = (s: number) => new Date(now - s * 1000);
    expect([ago(5), ago(119), ago(600), ago(3 * 3600), ago(3 * 86400)].map((d) => age(d, now))).toEqual([
      '5s',
      '119s',
      '10m',
      '3h',
      '3d',
    ]);
    expect(age(undefined, now)).toBe('?');
  });

  it('shows a wait as configured k/N with the time so far', () => {
    const role = (configured: number, ready: number, total: number) => ({
      id: 'w',
      desired: total,
      total,
      ready,
      configured,
      members: [],
    });
    const status = {
      name: 'c',
      namespace: 'default',
      app: 'a',
      phase: 'creating',
      generation: 1,
      observedGeneration: 0,
      roles: [role(1, 2, 3), role(0, 1, 1)],
      page: { offset: 0, limit: 100, total: 4 },
    } as const;
    expect(waitProgress('c', { ...status, roles: [...status.roles] }, 12_300)).toBe(
      'cluster/c: creating, configured 1/4 (ready 3/4), 12s',
    );
  });
});
