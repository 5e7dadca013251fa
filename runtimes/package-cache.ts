/**
 * The package cache, `$KDFLOW_HOME/packages/`: verified archives as `<sha256>.tgz` (0600, in a 0700
 * directory, since a package may hold credentials), and `sources/<sha256 of URL>` naming the archive a
 * package URL last produced. Bytes arrive in a private staging file and are renamed in only after
 * verification, so a refused file is never cached. Nothing is read back from the cache (every install
 * fetches again), so pruning an entry costs at most one more write.
 */
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { chmod, mkdir, open, readFile, readdir, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RuntimeError } from './errors.ts';

const SOURCES = 'sources';
const STAGING_PREFIX = '.staging-';
/** Entries younger than this stay: an activity may have just prepared one it is about to unpack. */
export const CACHE_GRACE_MS = 10 * 60 * 1000;

export function packageCacheDir(home: string): string {
  return path.join(home, 'packages');
}

/** One spelling per package: a plain absolute path and its file:// URL name the same package. */
export function canonicalPackageURL(packageURL: string): string {
  return /^(https?|file):\/\//.test(packageURL) || !path.isAbsolute(packageURL)
    ? packageURL
    : pathToFileURL(packageURL).href;
}

const sourceKey = (packageURL: string) => createHash('sha256').update(canonicalPackageURL(packageURL)).digest('hex');

async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir leaves an existing directory's mode alone, and caches made before this were 0755.
  await chmod(dir, 0o700);
}

/** Where a package's bytes go while they are fetched and checked: counted, hashed, capped. */
export class StagingFile {
  readonly path: string;
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');
  private handle: FileHandle | undefined;
  private readonly source: string;
  private readonly maxBytes: number;

  private constructor(file: string, handle: FileHandle, source: string, maxBytes: number) {
    this.path = file;
    this.handle = handle;
    this.source = source;
    this.maxBytes = maxBytes;
  }

  static async open(cacheDir: string, source: string, maxBytes: number): Promise<StagingFile> {
    await privateDir(cacheDir);
    const file = path.join(cacheDir, `${STAGING_PREFIX}${process.pid}-${randomUUID()}.tmp`);
    return new StagingFile(file, await open(file, 'wx', 0o600), source, maxBytes);
  }

  get limit(): number {
    return this.maxBytes;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.bytes += chunk.byteLength;
    if (this.bytes > this.maxBytes)
      throw new RuntimeError(
        'PackageInvalid',
        `config package ${this.source} is larger than ${this.maxBytes} bytes`,
        true,
      );
    this.hash.update(chunk);
    await this.handle?.write(chunk);
  }

  async close(): Promise<string> {
    await this.handle?.close();
    this.handle = undefined;
    return this.hash.digest('hex');
  }

  async discard(): Promise<void> {
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    await rm(this.path, { force: true });
  }

  /** A verified package joins the cache under its digest, and its URL is recorded as pointing to it. */
  async commit(cacheDir: string, digest: string, packageURL: string): Promise<string> {
    const tgzPath = path.join(cacheDir, `${digest}.tgz`);
    await rename(this.path, tgzPath);
    const sources = path.join(cacheDir, SOURCES);
    await privateDir(sources);
    const pointer = path.join(sources, sourceKey(packageURL));
    const tmp = `${pointer}.${process.pid}-${randomUUID()}.tmp`;
    await writeFile(tmp, `${JSON.stringify({ url: canonicalPackageURL(packageURL), digest })}\n`, { mode: 0o600 });
    await rename(tmp, pointer);
    return tgzPath;
  }
}

export interface CleanOptions {
  graceMs?: number;
  now?: number;
}

/**
 * Removes every archive that no URL in `inUse` last produced (so old versions of an edited directory
 * go too), pointers of URLs not in use and staging files a crash left; anything younger than the grace
 * period stays. Returns the names removed, relative to the cache.
 */
export async function cleanPackageCache(
  cacheDir: string,
  inUse: Iterable<string>,
  options: CleanOptions = {},
): Promise<string[]> {
  const oldBefore = (options.now ?? Date.now()) - (options.graceMs ?? CACHE_GRACE_MS);
  const names = await readdir(cacheDir).catch(() => undefined);
  if (!names) return [];
  await chmod(cacheDir, 0o700);
  const removed: string[] = [];
  const removeIfOld = async (rel: string) => {
    const info = await stat(path.join(cacheDir, rel)).catch(() => undefined);
    if (!info || info.mtimeMs >= oldBefore) return false;
    await rm(path.join(cacheDir, rel), { force: true });
    removed.push(rel);
    return true;
  };
  const wanted = new Set([...inUse].map(sourceKey));
  const keep = new Set<string>();
  for (const key of await readdir(path.join(cacheDir, SOURCES)).catch(() => [] as string[])) {
    const rel = path.join(SOURCES, key);
    if (!wanted.has(key)) {
      await removeIfOld(rel);
      continue;
    }
    const digest = await readFile(path.join(cacheDir, rel), 'utf8').then(
      (text) => (JSON.parse(text) as { digest?: unknown }).digest,
      () => undefined,
    );
    if (typeof digest === 'string') keep.add(`${digest}.tgz`);
  }
  for (const name of names) {
    const isArchive = name.endsWith('.tgz');
    if (!isArchive && !name.startsWith(STAGING_PREFIX)) continue;
    if (isArchive && keep.has(name)) await chmod(path.join(cacheDir, name), 0o600).catch(() => undefined);
    else await removeIfOld(name);
  }
  return removed;
}
