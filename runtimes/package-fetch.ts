/**
 * Getting a config package's bytes into a staging file, with progress as they come: over http(s) with
 * an idle timeout (a slow download is fine, a silent one is not), from a local .tgz, or by packing a
 * plain directory whose size is checked while it is walked, before anything is packed.
 */
import { createReadStream } from 'node:fs';
import { lstat, opendir } from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import { RuntimeError } from './errors.ts';
import type { PackageLimits } from './config-package.ts';

export interface PackageProgress {
  /** fetch: bytes received (http) or read (file); pack: bytes of the archive made from a directory. */
  phase: 'fetch' | 'pack';
  url: string;
  bytes: number;
  /** Seconds since the last byte arrived (http only). */
  idleSeconds?: number;
}

export interface FetchOptions {
  /** An http(s) fetch that receives nothing for this long is given up (default 30 s). */
  idleTimeoutMs?: number;
  /** How often progress is reported while waiting for bytes (default 5 s), so a live wait keeps heartbeating. */
  progressIntervalMs?: number;
  onProgress?: (progress: PackageProgress) => void;
  signal?: AbortSignal;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
export const DEFAULT_PROGRESS_INTERVAL_MS = 5_000;

/** Where fetched bytes go; it enforces the archive size limit. */
export interface ByteSink {
  readonly bytes: number;
  readonly limit: number;
  write(chunk: Uint8Array): Promise<void>;
}

export async function fetchHttp(url: string, sink: ByteSink, options: FetchOptions): Promise<void> {
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([controller.signal, options.signal]) : controller.signal;
  let lastData = Date.now();
  let stalled = false;
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      stalled = true;
      controller.abort();
    }, idleMs);
  };
  const report = () =>
    options.onProgress?.({
      phase: 'fetch',
      url,
      bytes: sink.bytes,
      idleSeconds: Math.round((Date.now() - lastData) / 1000),
    });
  const ticker = setInterval(report, options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS);
  // Why a fetch ended early, in the words a user needs: what was slow or refused, and how far it got.
  const failure = (error: unknown): RuntimeError => {
    if (error instanceof RuntimeError) return error;
    if (stalled)
      return new RuntimeError(
        'PackageUnavailable',
        `fetching config package ${url} stalled: no data for ${idleMs / 1000} s after ${sink.bytes} bytes`,
      );
    if (options.signal?.aborted)
      return new RuntimeError(
        'PackageUnavailable',
        `fetching config package ${url} was cancelled after ${sink.bytes} bytes`,
      );
    const after = sink.bytes > 0 ? ` after ${sink.bytes} bytes` : '';
    return new RuntimeError(
      'PackageUnavailable',
      `could not fetch config package${after}: ${networkReason(error, url)}`,
    );
  };
  armIdle();
  try {
    const response = await fetch(url, { signal });
    lastData = Date.now();
    armIdle();
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      // A 4xx will not heal by retrying; a 5xx might.
      throw new RuntimeError(
        'PackageUnavailable',
        `config package ${url} answered HTTP ${response.status}`,
        response.status < 500,
      );
    }
    const announced = Number(response.headers.get('content-length'));
    if (announced > sink.limit)
      throw new RuntimeError(
        'PackageInvalid',
        `config package ${url} is larger than ${sink.limit} bytes (it announces ${announced})`,
        true,
      );
    for await (const chunk of response.body ?? []) {
      lastData = Date.now();
      armIdle();
      await sink.write(chunk);
      armIdle();
      report();
    }
  } catch (error) {
    throw failure(error);
  } finally {
    clearTimeout(idleTimer);
    clearInterval(ticker);
    controller.abort();
  }
}

/** undici says "fetch failed" and keeps the reason in `cause` (an AggregateError when several addresses were tried). */
function networkReason(error: unknown, url: string): string {
  type Coded = { code?: string; message?: string; errors?: Coded[] };
  const cause = ((error as { cause?: Coded })?.cause ?? error) as Coded;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused to ${url}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host ${new URL(url).hostname} not found (${code}) for ${url}`;
    case 'ECONNRESET':
      return `connection reset by ${url}`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `connection to ${url} timed out`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to ${url} (${code})`;
    default:
      return `${url}: ${cause?.message ?? String(error)}${code ? ` (${code})` : ''}`;
  }
}

export async function copyFile(file: string, url: string, sink: ByteSink, options: FetchOptions): Promise<void> {
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    await sink.write(chunk);
    options.onProgress?.({ phase: 'fetch', url, bytes: sink.bytes });
  }
}

/** The author's inner loop: a directory holding startscript (or one holding <dir>/startscript) is packed on the fly. */
export async function packDirectory(
  dir: string,
  url: string,
  sink: ByteSink,
  limits: PackageLimits,
  options: FetchOptions,
): Promise<void> {
  await checkDirectory(dir, limits);
  const direct = await lstat(path.join(dir, 'startscript')).then(
    () => true,
    () => false,
  );
  const cwd = direct ? path.dirname(dir) : dir;
  // mtime fixed and portable mode, so an unchanged directory packs to the same digest.
  const stream = tar.c({ gzip: true, cwd, portable: true, mtime: new Date(0) }, direct ? [path.basename(dir)] : ['.']);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      await sink.write(chunk);
      options.onProgress?.({ phase: 'pack', url, bytes: sink.bytes });
    }
  } finally {
    // Stops the packer (and its reads) when the archive outgrew its limit.
    (stream as unknown as { destroy?: () => void }).destroy?.();
  }
}

/**
 * Counts entries (the directory itself included, as tar does) and file bytes while walking, and stops
 * at the first one over a limit: a directory of 100,000 files is refused after 10,001 of them, without
 * packing any.
 */
async function checkDirectory(dir: string, limits: PackageLimits): Promise<void> {
  let entries = 1;
  let bytes = 0;
  const pending = [dir];
  for (let current = pending.pop(); current !== undefined; current = pending.pop()) {
    for await (const dirent of await opendir(current)) {
      entries += 1;
      const full = path.join(current, dirent.name);
      const where = path.relative(dir, full);
      if (entries > limits.entries) {
        throw new RuntimeError(
          'PackageInvalid',
          `config package directory ${dir} has more than ${limits.entries} entries (the limit): stopped at entry ${entries}, ${where}`,
          true,
        );
      }
      if (dirent.isDirectory()) pending.push(full);
      else if (dirent.isFile()) {
        bytes += (await lstat(full)).size;
        if (bytes > limits.unpackedBytes) {
          throw new RuntimeError(
            'PackageInvalid',
            `config package directory ${dir} has more than ${limits.unpackedBytes} bytes of files (the limit): ${bytes} bytes in ${entries} entries, stopped at ${where}`,
            true,
          );
        }
      }
    }
  }
}
