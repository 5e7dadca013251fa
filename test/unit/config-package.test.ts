import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { preparePackage, unpackPackage } from '../../runtimes/config-package.ts';
import { RuntimeError } from '../../runtimes/errors.ts';
import { tgz } from '../../scripts/chaos/tarball.ts';

/** Builds archives with the system tar, which (unlike ours) will write whatever it is told to. */
async function archive(build: (dir: string) => Promise<string[]>, tarFlags: string[] = []): Promise<string> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'kdflow-pkg-'));
  const src = path.join(work, 'src');
  await mkdir(src);
  const entries = await build(src);
  const out = path.join(work, 'pkg.tgz');
  execFileSync('tar', ['-czf', out, '-C', src, ...tarFlags, ...entries]);
  return out;
}

async function startscript(dir: string, mode = 0o755): Promise<void> {
  await mkdir(path.join(dir, 'appconfig'), { recursive: true });
  await writeFile(path.join(dir, 'appconfig', 'startscript'), '#!/bin/sh\necho ok\n');
  await chmod(path.join(dir, 'appconfig', 'startscript'), mode);
}

const cache = () => mkdtemp(path.join(os.tmpdir(), 'kdflow-cache-'));

async function refusal(url: string): Promise<RuntimeError> {
  const error = await preparePackage(url, await cache()).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RuntimeError);
  return error as RuntimeError;
}

describe('config packages', () => {
  it('accepts a good package, caches it by digest and unpacks it', async () => {
    const tgz = await archive(async (d) => (await startscript(d), ['appconfig']));
    const dir = await cache();
    const first = await preparePackage(pathToFileURL(tgz).href, dir);
    const again = await preparePackage(tgz, dir);
    expect(first.scriptDir).toBe('appconfig');
    expect(again.digest).toBe(first.digest);
    expect(await readdir(dir)).toEqual([`${first.digest}.tgz`]);
    const dest = await mkdtemp(path.join(os.tmpdir(), 'kdflow-dest-'));
    await unpackPackage(first.tgzPath, dest);
    expect((await stat(path.join(dest, 'appconfig', 'startscript'))).mode & 0o111).not.toBe(0);
  });

  it('packs a plain directory to the same digest each time', async () => {
    const src = await mkdtemp(path.join(os.tmpdir(), 'kdflow-dir-'));
    await startscript(src);
    const a = await preparePackage(path.join(src, 'appconfig'), await cache());
    const b = await preparePackage(`file://${path.join(src, 'appconfig')}`, await cache());
    expect(a.scriptDir).toBe('appconfig');
    expect(b.digest).toBe(a.digest);
  });

  it.each([
    ['an entry with ..', async (d: string) => (await startscript(d), await writeFile(path.join(d, 'x'), 'x'), ['appconfig', '../src/x']), ['-P'], /'\.\.'/],
    ['an absolute path', async (d: string) => (await startscript(d), ['appconfig', path.join(d, 'appconfig', 'startscript')]), ['-P'], /absolute path/],
    ['a symlink out of the package', async (d: string) => (await startscript(d), await symlink('/etc/passwd', path.join(d, 'appconfig', 'passwd')), ['appconfig']), [], /symlink points outside/],
    ['a relative symlink climbing out', async (d: string) => (await startscript(d), await symlink('../../../etc', path.join(d, 'appconfig', 'up')), ['appconfig']), [], /symlink points outside/],
    ['no startscript', async (d: string) => (await mkdir(path.join(d, 'appconfig')), await writeFile(path.join(d, 'appconfig', 'readme'), 'x'), ['appconfig']), [], /no <dir>\/startscript/],
    ['a startscript that is not executable', async (d: string) => (await startscript(d, 0o644), ['appconfig']), [], /not executable/],
  ])('refuses %s', async (_name, build, flags, message) => {
    const tgz = await archive(build, flags);
    const error = await refusal(tgz);
    expect(error.permanent).toBe(true);
    expect(error.message).toMatch(message);
  });

  it('refuses entries written through a symlink that points inside the package (l1 -> .., l1/l2 -> ..)', async () => {
    // Each link passes on its own; together they climb out. System tar will not write this, so the bytes are made by hand.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-chain-'));
    const file = path.join(dir, 'chain.tgz');
    await writeFile(
      file,
      tgz([
        { name: 'appconfig/', type: 'dir' },
        { name: 'appconfig/startscript', type: 'file', mode: 0o755, content: '#!/bin/sh\n' },
        { name: 'appconfig/l1', type: 'symlink', linkname: '..' },
        { name: 'appconfig/l1/l2', type: 'symlink', linkname: '..' },
        { name: 'appconfig/l1/l2/pwned', type: 'file', content: 'x' },
      ]),
    );
    expect((await refusal(file)).message).toMatch(/appconfig\/l1\/l2: path goes through the symlink appconfig\/l1/);
  });

  it('refuses a hard link to a file outside', async () => {
    const tgz = await archive(async (d) => {
      await startscript(d);
      await writeFile(path.join(d, 'outside'), 'secret');
      execFileSync('ln', [path.join(d, 'outside'), path.join(d, 'appconfig', 'hard')]);
      return ['outside', 'appconfig'];
    });
    expect((await refusal(tgz)).message).toMatch(/Link is not allowed/);
  });

  it('refuses a file that is not a gzip tar, a missing file and a relative path', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-bad-'));
    await writeFile(path.join(dir, 'junk.tgz'), 'this is not an archive');
    expect((await refusal(path.join(dir, 'junk.tgz'))).message).toMatch(/not a gzip tar archive|no <dir>\/startscript/);
    expect((await refusal(path.join(dir, 'absent.tgz'))).message).toMatch(/does not exist/);
    expect((await refusal('relative/pkg.tgz')).message).toMatch(/must be absolute/);
  });

  it('stops a decompression bomb and a huge entry count before unpacking', async () => {
    const bomb = await archive(async (d) => {
      await startscript(d);
      execFileSync('truncate', ['-s', '600M', path.join(d, 'appconfig', 'zeros')]);
      return ['appconfig'];
    });
    expect((await stat(bomb)).size).toBeLessThan(2 * 1024 * 1024);
    expect((await refusal(bomb)).message).toMatch(/unpacks to more than/);
    const many = await archive(async (d) => {
      await startscript(d);
      for (let i = 0; i < 10_050; i++) await writeFile(path.join(d, 'appconfig', `f${i}`), '');
      return ['appconfig'];
    });
    expect((await refusal(many)).message).toMatch(/more than 10000 entries/);
  });
});
