/** A package written from the worker's kept copy leaves what unpacking it leaves (runtimes/local/package-copies.ts). */
import { lstat, mkdir, mkdtemp, readFile, readlink, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpackPackage } from '../../runtimes/config-package.ts';
import { COPY_LIMIT_BYTES, PackageCopies } from '../../runtimes/local/package-copies.ts';

let dir: string;

async function pack(name: string, files: Record<string, string | { link: string }>): Promise<string> {
  const source = path.join(dir, `${name}-src`);
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(source, rel);
    await mkdir(path.dirname(file), { recursive: true });
    if (typeof content === 'string')
      await writeFile(file, content, { mode: rel.endsWith('startscript') ? 0o644 : 0o755 });
    else await symlink(content.link, file);
  }
  const tgz = path.join(dir, `${name}.tgz`);
  await tar.c({ gzip: true, cwd: source, file: tgz, portable: true }, await readdir(source));
  return tgz;
}

/** Every entry below `root`: kind, mode, content or link target. */
async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for (const name of (await readdir(path.join(root, rel))).sort()) {
      const full = path.join(root, rel, name);
      const info = await lstat(full);
      const key = path.join(rel, name);
      if (info.isSymbolicLink()) out[key] = `link ${await readlink(full)}`;
      else if (info.isDirectory()) {
        out[key] = `dir ${(info.mode & 0o7777).toString(8)}`;
        await walk(key);
      } else out[key] = `file ${(info.mode & 0o7777).toString(8)} ${await readFile(full, 'utf8')}`;
    }
  };
  await walk('');
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-copies-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('package copies', () => {
  const files = {
    'appconfig/startscript': '#!/bin/sh\necho hi\n',
    'appconfig/lib/helper.sh': 'echo helper\n',
    '.kdflow/bin/ccli': '#!/bin/sh\n',
    '.kdflow/bin/configcli': { link: 'ccli' },
  };

  it('writes each member what unpacking writes, again and again', async () => {
    const tgz = await pack('small', files);
    const copies = new PackageCopies(path.join(dir, 'scratch'));
    await unpackPackage(tgz, path.join(dir, 'unpacked'));
    for (const member of ['m0', 'm1']) {
      await copies.install(tgz, path.join(dir, member));
      await copies.install(tgz, path.join(dir, member));
      expect(await tree(path.join(dir, member))).toEqual(await tree(path.join(dir, 'unpacked')));
    }
    // The startscript gets its exec bit, as unpacking gives it.
    expect((await tree(path.join(dir, 'm0')))['appconfig/startscript']).toMatch(/^file 7/);
    expect(await readdir(path.join(dir, 'scratch')), 'the temporary unpacking is gone').toEqual([]);
  });

  it('replaces a link a script left in place of a file or directory instead of writing through it', async () => {
    const tgz = await pack('planted', files);
    const copies = new PackageCopies(path.join(dir, 'scratch'));
    const member = path.join(dir, 'planted-member');
    const elsewhere = path.join(dir, 'elsewhere');
    await mkdir(path.join(member, 'appconfig'), { recursive: true });
    await mkdir(elsewhere, { recursive: true });
    await symlink(path.join(elsewhere, 'victim'), path.join(member, 'appconfig/startscript'));
    await symlink(elsewhere, path.join(member, 'appconfig/lib'));
    await copies.install(tgz, member);
    expect(await readdir(elsewhere)).toEqual([]);
    expect((await lstat(path.join(member, 'appconfig/lib'))).isDirectory()).toBe(true);
    expect(await readFile(path.join(member, 'appconfig/startscript'), 'utf8')).toBe(files['appconfig/startscript']);
  });

  it('unpacks a package over the limit into each member as before', async () => {
    const big = 'x'.repeat(COPY_LIMIT_BYTES + 1);
    const tgz = await pack('big', { 'appconfig/startscript': '#!/bin/sh\n', 'appconfig/data': big });
    const copies = new PackageCopies(path.join(dir, 'scratch'));
    await copies.install(tgz, path.join(dir, 'big-member'));
    expect(await readFile(path.join(dir, 'big-member/appconfig/data'), 'utf8')).toBe(big);
  });
});
