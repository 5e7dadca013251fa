import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pruneUnusedPackages } from '../../lib/app-catalog.ts';
import { preparePackage, unpackPackage, type PackageLimits } from '../../runtimes/config-package.ts';
import { cleanPackageCache, packageCacheDir } from '../../runtimes/package-cache.ts';
import { RuntimeError } from '../../runtimes/errors.ts';
import { tgz } from '../../testing/chaos/tarball.ts';

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

async function refusal(url: string, limits?: Partial<PackageLimits>): Promise<RuntimeError> {
  const error = await preparePackage(url, await cache(), limits ? { limits } : {}).then(
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
    expect((await readdir(dir)).filter((f) => f.endsWith('.tgz'))).toEqual([`${first.digest}.tgz`]);
    const dest = await mkdtemp(path.join(os.tmpdir(), 'kdflow-dest-'));
    await unpackPackage(first.tgzPath, dest);
    expect((await stat(path.join(dest, 'appconfig', 'startscript'))).mode & 0o111).not.toBe(0);
  });

  it('takes a startscript without its exec bit and gives it u+x at unpack, as KubeDirector does', async () => {
    const tgz = await archive(async (d) => (await startscript(d, 0o644), ['appconfig']));
    const prepared = await preparePackage(tgz, await cache());
    const dest = await mkdtemp(path.join(os.tmpdir(), 'kdflow-dest-'));
    await unpackPackage(prepared.tgzPath, dest);
    expect((await stat(path.join(dest, 'appconfig', 'startscript'))).mode & 0o777).toBe(0o744);
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
    [
      'an entry with ..',
      async (d: string) => (await startscript(d), await writeFile(path.join(d, 'x'), 'x'), ['appconfig', '../src/x']),
      ['-P'],
      /'\.\.'/,
    ],
    [
      'an absolute path',
      async (d: string) => (await startscript(d), ['appconfig', path.join(d, 'appconfig', 'startscript')]),
      ['-P'],
      /absolute path/,
    ],
    [
      'a symlink out of the package',
      async (d: string) => (
        await startscript(d),
        await symlink('/etc/passwd', path.join(d, 'appconfig', 'passwd')),
        ['appconfig']
      ),
      [],
      /symlink points outside/,
    ],
    [
      'a relative symlink climbing out',
      async (d: string) => (
        await startscript(d),
        await symlink('../../../etc', path.join(d, 'appconfig', 'up')),
        ['appconfig']
      ),
      [],
      /symlink points outside/,
    ],
    [
      'no startscript',
      async (d: string) => (
        await mkdir(path.join(d, 'appconfig')),
        await writeFile(path.join(d, 'appconfig', 'readme'), 'x'),
        ['appconfig']
      ),
      [],
      /no <dir>\/startscript/,
    ],
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

  // The limits are parameters: a bomb of 4 MiB against a 1 MiB limit is the same refusal as 600 MiB against 512 MiB.
  it('stops a decompression bomb and a huge entry count before unpacking', async () => {
    const bomb = await archive(async (d) => {
      await startscript(d);
      execFileSync('truncate', ['-s', '4M', path.join(d, 'appconfig', 'zeros')]);
      return ['appconfig'];
    });
    expect((await stat(bomb)).size).toBeLessThan(64 * 1024);
    expect((await refusal(bomb, { unpackedBytes: 1024 * 1024 })).message).toMatch(/unpacks to more than 1048576 bytes/);
    const many = await archive(async (d) => {
      await startscript(d);
      for (let i = 0; i < 105; i++) await writeFile(path.join(d, 'appconfig', `f${i}`), '');
      return ['appconfig'];
    });
    expect((await refusal(many, { entries: 100 })).message).toMatch(/more than 100 entries/);
  });
});

/** Every regular file under a directory, with its content. */
async function filesUnder(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const rel of await readdir(dir, { recursive: true }).catch(() => [] as string[])) {
    if ((await stat(path.join(dir, rel))).isFile()) out.set(rel, await readFile(path.join(dir, rel)));
  }
  return out;
}

const aged = async (dir: string) => {
  const hourAgo = new Date(Date.now() - 3600_000);
  for (const rel of await readdir(dir, { recursive: true })) await utimes(path.join(dir, rel), hourAgo, hourAgo);
};

describe('the package cache', () => {
  it('keeps no copy of a file it refused (file:///etc/shadow)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-shadow-'));
    const secret = path.join(dir, 'shadow');
    await writeFile(secret, 'root:$6$not-a-package$hash:19000:0:99999:7:::\n', { mode: 0o600 });
    const cacheDir = await cache();
    const error = await preparePackage(pathToFileURL(secret).href, cacheDir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    const content = await readFile(secret);
    expect([...(await filesUnder(cacheDir)).values()].filter((b) => b.equals(content))).toEqual([]);
    expect([...(await filesUnder(cacheDir)).keys()].filter((f) => f.endsWith('.tgz') || f.endsWith('.tmp'))).toEqual(
      [],
    );
  });

  it('keeps packages 0600 in a 0700 directory, even one made 0755 before', async () => {
    const tgz = await archive(async (d) => (await startscript(d), ['appconfig']));
    const cacheDir = path.join(await cache(), 'packages');
    await mkdir(cacheDir, { mode: 0o755 });
    await chmod(cacheDir, 0o755);
    const pkg = await preparePackage(tgz, cacheDir);
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
    expect((await stat(pkg.tgzPath)).mode & 0o777).toBe(0o600);
    for (const rel of (await readdir(cacheDir, { recursive: true })).map((r) => path.join(cacheDir, r))) {
      expect((await stat(rel)).mode & 0o077).toBe(0);
    }
  });

  it('cleans entries no package URL in use points to, old versions of a directory included, after a grace period', async () => {
    const src = await mkdtemp(path.join(os.tmpdir(), 'kdflow-clean-'));
    const [a, b] = [path.join(src, 'a'), path.join(src, 'b')];
    await startscript(a);
    await startscript(b);
    const cacheDir = await cache();
    const a1 = await preparePackage(path.join(a, 'appconfig'), cacheDir);
    await writeFile(path.join(a, 'appconfig', 'more'), 'edited');
    const a2 = await preparePackage(pathToFileURL(path.join(a, 'appconfig')).href, cacheDir);
    await writeFile(path.join(b, 'appconfig', 'other'), 'b');
    const b1 = await preparePackage(path.join(b, 'appconfig'), cacheDir);
    expect(new Set([a1.digest, a2.digest, b1.digest]).size).toBe(3);
    const tgzs = async () => (await readdir(cacheDir)).filter((f) => f.endsWith('.tgz')).sort();
    // Young entries stay: an activity may have just prepared one it is about to unpack.
    expect(await cleanPackageCache(cacheDir, [pathToFileURL(path.join(a, 'appconfig')).href])).toEqual([]);
    expect(await tgzs()).toHaveLength(3);
    await aged(cacheDir);
    const removed = await cleanPackageCache(cacheDir, [pathToFileURL(path.join(a, 'appconfig')).href]);
    expect(await tgzs()).toEqual([`${a2.digest}.tgz`]);
    expect(removed).toEqual(expect.arrayContaining([`${a1.digest}.tgz`, `${b1.digest}.tgz`]));
  });

  it('prunes, at worker start, every package not fetched within the grace period (the catalog is shared, not on this machine)', async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-prune-'));
    const a = path.join(home, 'src', 'a');
    await startscript(a);
    const old = await preparePackage(pathToFileURL(path.join(a, 'appconfig')).href, packageCacheDir(home));
    // Young: an activity may have just prepared it.
    expect(await pruneUnusedPackages(home)).toEqual([]);
    expect(existsSync(old.tgzPath)).toBe(true);
    await aged(packageCacheDir(home));
    await pruneUnusedPackages(home);
    expect(existsSync(old.tgzPath)).toBe(false);
  });
});

describe('plain-directory packages: limits while walking', () => {
  it('stops at the first entry over the count limit, naming the limit, the count and the directory', async () => {
    const src = await mkdtemp(path.join(os.tmpdir(), 'kdflow-walk-'));
    await startscript(src);
    for (let i = 0; i < 40; i++) await writeFile(path.join(src, 'appconfig', `f${i}`), '');
    const dir = path.join(src, 'appconfig');
    const cacheDir = await cache();
    const error = await preparePackage(dir, cacheDir, { limits: { entries: 10 } }).then(
      () => new RuntimeError('RuntimeFailure', 'accepted'),
      (e: unknown) => e as RuntimeError,
    );
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error.permanent).toBe(true);
    expect(error.message).toContain(dir);
    expect(error.message).toMatch(/more than 10 entries/);
    expect(error.message).toMatch(/stopped at entry 11\b/);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('stops at the first file over the byte limit', async () => {
    const src = await mkdtemp(path.join(os.tmpdir(), 'kdflow-walk-'));
    await startscript(src);
    await writeFile(path.join(src, 'appconfig', 'big'), Buffer.alloc(5000));
    const dir = path.join(src, 'appconfig');
    const error = await preparePackage(dir, await cache(), { limits: { unpackedBytes: 4096 } }).then(
      () => new RuntimeError('RuntimeFailure', 'accepted'),
      (e: unknown) => e as RuntimeError,
    );
    expect(error.message).toContain(dir);
    expect(error.message).toMatch(/more than 4096 bytes/);
  });

  it('stops packing when the archive outgrows its limit', async () => {
    const src = await mkdtemp(path.join(os.tmpdir(), 'kdflow-walk-'));
    await startscript(src);
    await writeFile(path.join(src, 'appconfig', 'noise'), randomBytes(20_000));
    const error = await preparePackage(path.join(src, 'appconfig'), await cache(), {
      limits: { archiveBytes: 2048 },
    }).then(
      () => new RuntimeError('RuntimeFailure', 'accepted'),
      (e: unknown) => e as RuntimeError,
    );
    expect(error.message).toMatch(/larger than 2048 bytes/);
  });
});
