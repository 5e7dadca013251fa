/**
 * A small config package (the configcli helpers, a typical app's scripts) unpacked once per worker and
 * written into each member from memory: a launch of a hundred members otherwise gunzips and parses
 * the same archive a hundred times for every package, the largest part of its CPU (docs/adr/0048).
 * The one unpacking is the usual checked one (unpackPackage, into a private temporary directory that
 * is removed at once); what is kept is the tree it left: relative paths, modes, contents, link
 * targets. Archives are content-addressed files, so one is known by its path, size, inode and mtime.
 */
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { unpackPackage } from '../config-package.ts';

/** Larger trees are unpacked into each member as before: the copy is kept in the worker's memory. */
export const COPY_LIMIT_BYTES = 1024 * 1024;
const KEPT_TREES = 8;

type Entry =
  | { kind: 'dir'; rel: string; mode: number }
  | { kind: 'file'; rel: string; mode: number; content: Buffer }
  | { kind: 'link'; rel: string; target: string };

export class PackageCopies {
  private readonly trees = new Map<string, Promise<Entry[] | undefined>>();
  private readonly scratch: string;
  constructor(scratch: string) {
    this.scratch = scratch;
  }

  /** Unpacks `tgzPath` into `destination`, from the kept tree when the archive is small. */
  async install(tgzPath: string, destination: string, onProgress?: (bytes: number, total: number) => void) {
    const info = await lstat(tgzPath);
    const key = `${tgzPath}\0${info.size}\0${info.ino}\0${info.mtimeMs}`;
    let tree = this.trees.get(key);
    if (!tree) {
      tree = this.unpackOnce(tgzPath).catch(() => undefined);
      this.trees.set(key, tree);
      // The oldest goes: Map keeps insertion order.
      if (this.trees.size > KEPT_TREES) this.trees.delete(this.trees.keys().next().value as string);
    }
    const entries = await tree;
    if (!entries) return unpackPackage(tgzPath, destination, onProgress);
    await mkdir(destination, { recursive: true });
    // Directories this install made: nothing is in them yet, so what goes in needs no look first (a
    // new member's launch: about a third of the calls). Parents come before their children.
    const made = new Set<string>();
    for (const entry of entries) {
      const fresh = made.has(path.dirname(entry.rel));
      if (await write(path.join(destination, entry.rel), entry, fresh)) made.add(entry.rel);
    }
    onProgress?.(info.size, info.size);
  }

  private async unpackOnce(tgzPath: string): Promise<Entry[] | undefined> {
    await mkdir(this.scratch, { recursive: true, mode: 0o700 });
    const dir = await mkdtemp(path.join(this.scratch, 'unpack-'));
    try {
      await unpackPackage(tgzPath, dir);
      return await readTree(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** Parents before children; undefined when the tree is over the limit. */
async function readTree(root: string): Promise<Entry[] | undefined> {
  const entries: Entry[] = [];
  let bytes = 0;
  const walk = async (rel: string): Promise<boolean> => {
    for (const name of (await readdir(path.join(root, rel))).sort()) {
      const child = path.join(rel, name);
      const full = path.join(root, child);
      const info = await lstat(full);
      if (info.isSymbolicLink()) entries.push({ kind: 'link', rel: child, target: await readlink(full) });
      else if (info.isDirectory()) {
        entries.push({ kind: 'dir', rel: child, mode: info.mode & 0o7777 });
        if (!(await walk(child))) return false;
      } else if (info.isFile()) {
        bytes += info.size;
        if (bytes > COPY_LIMIT_BYTES) return false;
        entries.push({ kind: 'file', rel: child, mode: info.mode & 0o7777, content: await readFile(full) });
      } else return false;
    }
    return true;
  };
  return (await walk('')) ? entries : undefined;
}

/**
 * As unpacking writes it: an existing entry is replaced (never written through: a link a script left
 * in its place is removed, not followed), a directory kept. `fresh`: its directory was just made, so
 * nothing is there (a file is still created exclusively: one that appeared meanwhile fails the
 * install, which is retried). Says whether it made a directory.
 */
async function write(target: string, entry: Entry, fresh: boolean): Promise<boolean> {
  const existing = fresh ? undefined : await lstat(target).catch(() => undefined);
  if (entry.kind === 'dir') {
    if (existing?.isDirectory()) return false;
    if (existing) await rm(target, { force: true });
    await mkdir(target, { mode: entry.mode });
    await chmod(target, entry.mode);
    return true;
  }
  if (existing?.isDirectory()) await rm(target, { recursive: true, force: true });
  else if (existing) await unlink(target);
  if (entry.kind === 'link') await symlink(entry.target, target);
  else {
    await writeFile(target, entry.content, { mode: entry.mode, flag: 'wx' });
    // The umask may have cut the new file's mode.
    await chmod(target, entry.mode);
  }
  return false;
}
