/**
 * Config packages: fetched from file://, http(s):// or a plain directory, cached by digest, and
 * checked entry by entry before anything is unpacked into a member.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';
import { RuntimeError } from './errors.ts';

export const PACKAGE_LIMITS = {
  /** Bytes of the .tgz itself. */
  archiveBytes: 64 * 1024 * 1024,
  /** Bytes once unpacked: a decompression bomb stops here. */
  unpackedBytes: 512 * 1024 * 1024,
  entries: 10_000,
};

export interface VerifiedPackage {
  tgzPath: string;
  digest: string;
  /** The top directory holding the startscript, such as "appconfig". */
  scriptDir: string;
}

export async function preparePackage(packageURL: string, cacheDir: string): Promise<VerifiedPackage> {
  const bytes = await fetchPackage(packageURL);
  const digest = createHash('sha256').update(bytes).digest('hex');
  await mkdir(cacheDir, { recursive: true });
  const tgzPath = path.join(cacheDir, `${digest}.tgz`);
  if (!(await exists(tgzPath))) {
    const tmp = `${tgzPath}.${process.pid}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, tgzPath);
  }
  const scriptDir = verifyPackage(tgzPath, packageURL);
  return { tgzPath, digest, scriptDir };
}

async function fetchPackage(packageURL: string): Promise<Uint8Array> {
  if (/^https?:\/\//.test(packageURL)) return fetchHttp(packageURL);
  let local: string;
  try {
    local = packageURL.startsWith('file://') ? fileURLToPath(packageURL) : packageURL;
  } catch {
    throw new RuntimeError('PackageInvalid', `config package URL ${packageURL} is not a valid file:// URL`, true);
  }
  if (!path.isAbsolute(local)) throw new RuntimeError('PackageInvalid', `config package path ${packageURL} must be absolute (relative paths are resolved when the app is applied)`, true);
  const info = await stat(local).catch(() => undefined);
  if (!info) throw new RuntimeError('PackageUnavailable', `config package ${packageURL} does not exist`, true);
  if (info.isDirectory()) return packDirectory(local);
  if (info.size > PACKAGE_LIMITS.archiveBytes) throw new RuntimeError('PackageInvalid', `config package ${packageURL} is larger than ${PACKAGE_LIMITS.archiveBytes} bytes`, true);
  return readFile(local);
}

async function fetchHttp(url: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  } catch (error) {
    throw new RuntimeError('PackageUnavailable', `config package ${url} could not be fetched: ${(error as Error).message}`);
  }
  // A 4xx will not heal by retrying; a 5xx might.
  if (!response.ok) throw new RuntimeError('PackageUnavailable', `config package ${url} answered HTTP ${response.status}`, response.status < 500);
  const body = new Uint8Array(await response.arrayBuffer());
  if (body.byteLength > PACKAGE_LIMITS.archiveBytes) throw new RuntimeError('PackageInvalid', `config package ${url} is larger than ${PACKAGE_LIMITS.archiveBytes} bytes`, true);
  return body;
}

/** The author's inner loop: a directory holding startscript (or one holding <dir>/startscript) is packed on the fly. */
async function packDirectory(dir: string): Promise<Uint8Array> {
  const direct = await exists(path.join(dir, 'startscript'));
  const cwd = direct ? path.dirname(dir) : dir;
  const entries = direct ? [path.basename(dir)] : undefined;
  const chunks: Buffer[] = [];
  // mtime fixed and portable mode, so an unchanged directory packs to the same digest.
  const stream = tar.c({ gzip: true, cwd, portable: true, mtime: new Date(0) }, entries ?? ['.']);
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Every entry stays inside the destination; returns the directory that holds the startscript. */
export function verifyPackage(tgzPath: string, source: string): string {
  let entries = 0;
  let unpacked = 0;
  const scriptDirs: string[] = [];
  const problems: string[] = [];
  // A link to a directory inside the package passes on its own, and a later entry written through
  // it (l1 -> .., l1/l2 -> .., l1/l2/x) would land outside: no entry may have a link as a parent.
  const links = new Set<string>();
  try {
    tar.t({
      file: tgzPath,
      sync: true,
      strict: true,
      onReadEntry: (entry) => {
        entries += 1;
        unpacked += entry.size ?? 0;
        if (entries > PACKAGE_LIMITS.entries) throw new RuntimeError('PackageInvalid', `config package ${source} has more than ${PACKAGE_LIMITS.entries} entries`, true);
        if (unpacked > PACKAGE_LIMITS.unpackedBytes) throw new RuntimeError('PackageInvalid', `config package ${source} unpacks to more than ${PACKAGE_LIMITS.unpackedBytes} bytes`, true);
        const name = entry.path.replace(/^\.\//, '');
        const problem = entryProblem(name, entry.type, entry.linkpath);
        if (problem) problems.push(`${entry.path}: ${problem}`);
        const parts = path.posix.normalize(name).split('/').filter((p) => p && p !== '.');
        for (let i = 1; i < parts.length; i++) {
          const parent = parts.slice(0, i).join('/');
          if (links.has(parent)) problems.push(`${entry.path}: path goes through the symlink ${parent}`);
        }
        if (entry.type === 'SymbolicLink') links.add(parts.join('/'));
        if (parts.length === 2 && parts[1] === 'startscript' && entry.type === 'File') {
          if (((entry.mode ?? 0) & 0o111) === 0) problems.push(`${entry.path}: startscript is not executable (chmod +x it before packing)`);
          scriptDirs.push(parts[0] as string);
        }
        entry.resume();
      },
    });
  } catch (error) {
    if (error instanceof RuntimeError) throw error;
    throw new RuntimeError('PackageInvalid', `config package ${source} is not a gzip tar archive: ${(error as Error).message}`, true);
  }
  if (problems.length > 0) throw new RuntimeError('PackageInvalid', `config package ${source} is unsafe: ${problems.slice(0, 5).join('; ')}`, true);
  if (scriptDirs.length === 0) throw new RuntimeError('PackageInvalid', `config package ${source} has no <dir>/startscript`, true);
  if (scriptDirs.length > 1) throw new RuntimeError('PackageInvalid', `config package ${source} has more than one startscript (${scriptDirs.join(', ')})`, true);
  return scriptDirs[0] as string;
}

function entryProblem(name: string, type: string, linkpath: string | undefined): string | undefined {
  if (name.startsWith('/')) return 'absolute path';
  if (name.split('/').includes('..')) return "path contains '..'";
  if (!['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink'].includes(type)) return `entry type ${type} is not allowed`;
  if (type === 'SymbolicLink') {
    if (!linkpath || linkpath.startsWith('/')) return 'symlink points outside the package';
    const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(name), linkpath));
    if (resolved.startsWith('..')) return 'symlink points outside the package';
  }
  return undefined;
}

/** Unpack a package that verifyPackage accepted. */
export async function unpackPackage(tgzPath: string, destination: string): Promise<void> {
  await mkdir(destination, { recursive: true });
  await tar.x({ file: tgzPath, cwd: destination, strict: true, preservePaths: false, preserveOwner: false });
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
