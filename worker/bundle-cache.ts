/**
 * The workflow bundle, built once and reused: webpack takes seconds (more on a busy machine), and a
 * worker restarted after a crash should be polling again as soon as it can. A bundle is cached under
 * its key (bundle-key.ts) in a private directory (0700, files 0600: this is code the worker runs),
 * checked against its own digest when read, and the least recently used beyond `keep` are removed.
 * Nothing here is needed for correctness: any problem with the cache means an in-memory build.
 */
import { bundleWorkflowCode, type BundleOptions } from '@temporalio/worker';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, open, readFile, readdir, rename, rm, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { bundleKey, type BundleKey, type BundleSources } from './bundle-key.ts';

export const DEFAULT_KEEP = 4;
const HEADER = '// kdflow workflow bundle ';
const STALE_TMP_MS = 10 * 60_000;

type WebpackConfig = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];

export interface WorkflowBundleOptions {
  /** The cache directory; `undefined` builds in memory every time. */
  cacheDir: string | undefined;
  logger: Logger;
  /** How many bundles stay in the cache (the newest used). */
  keep?: number;
}

export interface LoadedBundle {
  code: string;
  hash: string;
  /** `cache`: read from `file`; `built`: bundled now (and written to `file` when it could be). */
  from: 'cache' | 'built';
  file?: string;
  /** Files webpack read that the key does not cover (a bundle with any is not cached). */
  uncovered: string[];
  ms: number;
}

export async function loadWorkflowBundle(
  sources: BundleSources,
  options: WorkflowBundleOptions,
): Promise<LoadedBundle> {
  const started = performance.now();
  const key = await bundleKey(sources);
  const dir = options.cacheDir ? await privateDir(options.cacheDir, options.logger) : undefined;
  const file = dir ? path.join(dir, `${key.hash}.js`) : undefined;
  if (file) {
    const code = await readCached(file, options.logger);
    if (code !== undefined) {
      // The mtime says when a bundle was last used: cleaning keeps the recent ones.
      const now = new Date();
      await utimes(file, now, now).catch(() => {});
      return { code, hash: key.hash, from: 'cache', file, uncovered: [], ms: Math.round(performance.now() - started) };
    }
  }
  const { code, read } = await build(sources, options.logger);
  const uncovered = uncoveredInputs(read, key, sources.root);
  let written: string | undefined;
  if (file && dir && uncovered.length === 0) {
    written = await writeCached(dir, file, code, options.logger);
    await clean(dir, options.keep ?? DEFAULT_KEEP, options.logger);
  } else if (uncovered.length > 0) {
    options.logger.warn(
      { uncovered: uncovered.slice(0, 10) },
      'workflow bundle read files its cache key does not cover; not caching it',
    );
  }
  return {
    code,
    hash: key.hash,
    from: 'built',
    ...(written ? { file: written } : {}),
    uncovered,
    ms: Math.round(performance.now() - started),
  };
}

/** Exactly what the SDK would build from `workflowsPath` and `bundlerOptions`, plus the list of files webpack read. */
async function build(sources: BundleSources, logger: Logger): Promise<{ code: string; read: string[] }> {
  let read: string[] = [];
  const observe = (config: WebpackConfig): WebpackConfig => ({
    ...config,
    plugins: [
      ...(config.plugins ?? []),
      {
        apply: (compiler) => {
          compiler.hooks.done.tap('kdflow-bundle-inputs', (stats) => {
            read = [...stats.compilation.fileDependencies];
          });
        },
      },
    ],
  });
  const bundle = await bundleWorkflowCode({
    workflowsPath: sources.workflowsPath,
    preloadModules: sources.preloadModules,
    ...(sources.failureConverterPath ? { failureConverterPath: sources.failureConverterPath } : {}),
    webpackConfigHook: observe,
    logger: sdkLogger(logger),
  });
  return { code: bundle.code, read };
}

/**
 * Project files webpack read that are not in the key, and packages not in it. Not inputs:
 * directories, the bundler's in-memory entry point, and package.json files beyond those the key
 * has (the resolver reads one in every directory it looks in, such as the working directory when
 * it finds its loaders; each source's own is in the key).
 */
export function uncoveredInputs(read: string[], key: BundleKey, root: string): string[] {
  const files = new Set(key.files);
  const out: string[] = [];
  for (const input of read) {
    const inModules = input.lastIndexOf(`${path.sep}node_modules${path.sep}`);
    if (inModules >= 0) {
      const rest = input.slice(inModules + '/node_modules/'.length).split(path.sep);
      const name = rest[0]?.startsWith('@') ? rest.slice(0, 2).join('/') : rest[0];
      if (rest.length > 1 && name && !key.packages.has(name)) out.push(`package ${name} (${input})`);
      continue;
    }
    if (
      files.has(input) ||
      !path.extname(input) ||
      input.endsWith('-autogenerated-entrypoint.cjs') ||
      path.basename(input) === 'package.json'
    )
      continue;
    out.push(path.relative(root, input));
  }
  return [...new Set(out)];
}

/** The directory, made 0700 if it is ours; undefined (no cache) if it is someone else's or not a directory. */
async function privateDir(dir: string, logger: Logger): Promise<string | undefined> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const info = await lstat(dir);
    if (!info.isDirectory() || (process.getuid && info.uid !== process.getuid())) {
      logger.warn({ dir }, 'workflow bundle cache is not a directory of this user; bundling in memory');
      return undefined;
    }
    if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
    return dir;
  } catch (error) {
    logger.warn({ dir, err: error }, 'workflow bundle cache unusable; bundling in memory');
    return undefined;
  }
}

/** The bundle in `file` if it is ours, private, and matches the digest in its first line. */
async function readCached(file: string, logger: Logger): Promise<string | undefined> {
  const info = await lstat(file).catch(() => undefined);
  if (!info) return undefined;
  if (!info.isFile() || (process.getuid && info.uid !== process.getuid()) || (info.mode & 0o077) !== 0) {
    logger.warn({ file }, 'cached workflow bundle is not a private file of this user; rebuilding');
    await rm(file, { force: true }).catch(() => {});
    return undefined;
  }
  const text = await readFile(file, 'utf8');
  const newline = text.indexOf('\n');
  const digest = text.startsWith(HEADER) && newline > 0 ? text.slice(HEADER.length, newline).trim() : '';
  const code = text.slice(newline + 1);
  if (digest !== sha256(code)) {
    logger.warn({ file }, 'cached workflow bundle does not match its digest; rebuilding');
    await rm(file, { force: true }).catch(() => {});
    return undefined;
  }
  return code;
}

/** Written under a temporary name and renamed: readers see a whole bundle or none. */
async function writeCached(dir: string, file: string, code: string, logger: Logger): Promise<string | undefined> {
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      // The digest leads, so the SDK gets the bundle's own lines (its inline source map stays right).
      await handle.writeFile(`${HEADER}${sha256(code)}\n${code}`);
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    return file;
  } catch (error) {
    logger.warn({ file, err: error }, 'could not write the workflow bundle cache; it is rebuilt at the next start');
    await rm(tmp, { force: true }).catch(() => {});
    return undefined;
  }
}

/** Keeps the `keep` most recently used bundles, and drops temporaries a crashed writer left. */
async function clean(dir: string, keep: number, logger: Logger): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const entries = await Promise.all(
    names.map(async (name) => ({ name, info: await lstat(path.join(dir, name)).catch(() => undefined) })),
  );
  const bundles = entries
    .filter((e) => e.info?.isFile() && /^[0-9a-f]{32}\.js$/.test(e.name))
    .sort((a, b) => (b.info?.mtimeMs ?? 0) - (a.info?.mtimeMs ?? 0));
  const stale = [
    ...bundles.slice(keep),
    ...entries.filter((e) => e.name.endsWith('.tmp') && Date.now() - (e.info?.mtimeMs ?? 0) > STALE_TMP_MS),
  ];
  for (const entry of stale) await rm(path.join(dir, entry.name), { force: true }).catch(() => {});
  if (stale.length > 0) logger.debug({ dir, removed: stale.map((e) => e.name) }, 'old workflow bundles removed');
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The SDK's bundler logs through its own Logger interface; webpack's chatter goes to debug. */
function sdkLogger(logger: Logger) {
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, meta?: Record<string, unknown>) =>
    logger[level]({ ...meta, sdkComponent: 'bundler' }, message);
  return {
    log: (level: string, message: string, meta?: Record<string, unknown>) =>
      at(level === 'WARN' ? 'warn' : level === 'ERROR' ? 'error' : 'debug')(message, meta),
    trace: at('debug'),
    debug: at('debug'),
    info: at('debug'),
    warn: at('warn'),
    error: at('error'),
  };
}
