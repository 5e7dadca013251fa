/**
 * Config packages: fetched from file://, http(s):// or a plain directory into a private staging file,
 * checked entry by entry, and only then cached by digest (runtimes/package-cache.ts) and unpacked into
 * members.
 */
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';
import { RuntimeError } from './errors.ts';
import { StagingFile } from './package-cache.ts';
import { copyFile, fetchHttp, packDirectory, type FetchOptions } from './package-fetch.ts';

export interface PackageLimits {
  /** Bytes of the .tgz itself. */
  archiveBytes: number;
  /** Bytes once unpacked: a decompression bomb stops here. */
  unpackedBytes: number;
  entries: number;
}

export const PACKAGE_LIMITS: PackageLimits = {
  archiveBytes: 64 * 1024 * 1024,
  unpackedBytes: 512 * 1024 * 1024,
  entries: 10_000,
};

export interface VerifiedPackage {
  tgzPath: string;
  digest: string;
  /** The top directory holding the startscript, such as "appconfig". */
  scriptDir: string;
}

export interface PrepareOptions extends FetchOptions {
  /** Any limit not given keeps its PACKAGE_LIMITS value. */
  limits?: Partial<PackageLimits>;
  /** The app's pin (configPackage.sha256): other bytes are refused before they are cached or unpacked. */
  sha256?: string;
}

export async function preparePackage(
  packageURL: string,
  cacheDir: string,
  options: PrepareOptions = {},
): Promise<VerifiedPackage> {
  const limits = { ...PACKAGE_LIMITS, ...options.limits };
  const staging = await StagingFile.open(cacheDir, packageURL, limits.archiveBytes);
  try {
    await fetchPackage(packageURL, staging, limits, options);
    const digest = await staging.close();
    if (options.sha256 !== undefined && digest !== options.sha256)
      throw new RuntimeError(
        'PackageInvalid',
        `config package ${packageURL} refused: pinned sha256 ${options.sha256}, fetched sha256 ${digest} (the bytes at that URL changed since the app was applied, or the pin is wrong)`,
        true,
      );
    // Checked before it is cached: a refused file (file:///etc/shadow) leaves no copy behind.
    const scriptDir = verifyPackage(staging.path, packageURL, limits);
    return { tgzPath: await staging.commit(cacheDir, digest, packageURL), digest, scriptDir };
  } finally {
    await staging.discard();
  }
}

async function fetchPackage(
  packageURL: string,
  staging: StagingFile,
  limits: PackageLimits,
  options: FetchOptions,
): Promise<void> {
  if (/^https?:\/\//.test(packageURL)) return fetchHttp(packageURL, staging, options);
  let local: string;
  try {
    local = packageURL.startsWith('file://') ? fileURLToPath(packageURL) : packageURL;
  } catch {
    throw new RuntimeError('PackageInvalid', `config package URL ${packageURL} is not a valid file:// URL`, true);
  }
  if (!path.isAbsolute(local))
    throw new RuntimeError(
      'PackageInvalid',
      `config package path ${packageURL} must be absolute (relative paths are resolved when the app is applied)`,
      true,
    );
  const info = await stat(local).catch(() => undefined);
  if (!info)
    throw new RuntimeError(
      'PackageUnavailable',
      `config package ${packageURL} does not exist on the worker's machine (a file:// URL is read there, not inside an image)`,
      true,
    );
  if (info.isDirectory()) return packDirectory(local, packageURL, staging, limits, options);
  if (info.size > limits.archiveBytes)
    throw new RuntimeError(
      'PackageInvalid',
      `config package ${packageURL} is larger than ${limits.archiveBytes} bytes`,
      true,
    );
  return copyFile(local, packageURL, staging, options);
}

/** Every entry stays inside the destination; returns the directory that holds the startscript. */
export function verifyPackage(tgzPath: string, source: string, limits: PackageLimits = PACKAGE_LIMITS): string {
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
        if (entries > limits.entries)
          throw new RuntimeError(
            'PackageInvalid',
            `config package ${source} has more than ${limits.entries} entries`,
            true,
          );
        if (unpacked > limits.unpackedBytes)
          throw new RuntimeError(
            'PackageInvalid',
            `config package ${source} unpacks to more than ${limits.unpackedBytes} bytes`,
            true,
          );
        const name = entry.path.replace(/^\.\//, '');
        const problem = entryProblem(name, entry.type, entry.linkpath);
        if (problem) problems.push(`${entry.path}: ${problem}`);
        const parts = path.posix
          .normalize(name)
          .split('/')
          .filter((p) => p && p !== '.');
        for (let i = 1; i < parts.length; i++) {
          const parent = parts.slice(0, i).join('/');
          if (links.has(parent)) problems.push(`${entry.path}: path goes through the symlink ${parent}`);
        }
        if (entry.type === 'SymbolicLink') links.add(parts.join('/'));
        // A startscript without its exec bit gets it at unpack, as KubeDirector does (chmod u+x).
        if (parts.length === 2 && parts[1] === 'startscript' && entry.type === 'File')
          scriptDirs.push(parts[0] as string);
        entry.resume();
      },
    });
  } catch (error) {
    if (error instanceof RuntimeError) throw error;
    throw new RuntimeError(
      'PackageInvalid',
      `config package ${source} is not a gzip tar archive: ${(error as Error).message}`,
      true,
    );
  }
  if (problems.length > 0)
    throw new RuntimeError(
      'PackageInvalid',
      `config package ${source} is unsafe: ${problems.slice(0, 5).join('; ')}`,
      true,
    );
  if (scriptDirs.length === 0)
    throw new RuntimeError('PackageInvalid', `config package ${source} has no <dir>/startscript`, true);
  if (scriptDirs.length > 1)
    throw new RuntimeError(
      'PackageInvalid',
      `config package ${source} has more than one startscript (${scriptDirs.join(', ')})`,
      true,
    );
  return scriptDirs[0] as string;
}

function entryProblem(name: string, type: string, linkpath: string | undefined): string | undefined {
  if (name.startsWith('/')) return 'absolute path';
  if (name.split('/').includes('..')) return "path contains '..'";
  if (!['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink'].includes(type))
    return `entry type ${type} is not allowed`;
  if (type === 'SymbolicLink') {
    if (!linkpath || linkpath.startsWith('/')) return 'symlink points outside the package';
    const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(name), linkpath));
    if (resolved.startsWith('..')) return 'symlink points outside the package';
  }
  return undefined;
}

/**
 * Unpack a package that verifyPackage accepted. Setuid, setgid and sticky bits are dropped: a package
 * is the app author's code, and must not hand whoever runs it in a member the rights of the file's
 * owner. `onProgress` gets the archive bytes read so far and the archive's size.
 */
export async function unpackPackage(
  tgzPath: string,
  destination: string,
  onProgress?: (bytes: number, total: number) => void,
): Promise<void> {
  await mkdir(destination, { recursive: true });
  const total = (await stat(tgzPath)).size;
  let read = 0;
  const unpack = tar.x({
    cwd: destination,
    strict: true,
    preservePaths: false,
    preserveOwner: false,
    // Called for every entry before it is written; the mode it leaves is the mode the file gets.
    filter: (entryPath, entry) => {
      if ('mode' in entry && typeof entry.mode === 'number') {
        entry.mode &= 0o777;
        // KubeDirector does `chmod u+x` on the startscript: a package packed without the bit still runs.
        if (/^(\.\/)?[^/]+\/startscript$/.test(entryPath)) entry.mode |= 0o100;
      }
      return true;
    },
  });
  await new Promise<void>((resolve, reject) => {
    const source = createReadStream(tgzPath);
    source.on('data', (chunk) => {
      read += chunk.length;
      onProgress?.(read, total);
    });
    source.on('error', reject);
    unpack.on('error', reject);
    unpack.on('close', () => resolve());
    source.pipe(unpack);
  });
}
