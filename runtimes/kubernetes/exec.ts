/**
 * One exec into a member's container that resolves when the command has ENDED: the client's exec()
 * resolves once the command starts, so this waits for the socket to close, and takes the exit code
 * from the V1Status the API sends (kwok's exec reports "exit status N" in the message instead).
 * An exec that cannot reach the API server (restarting, failing over) is tried again until it can,
 * for a while: the command never started, and a script attempt must not be spent on the API's outage.
 */
import { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { RuntimeError } from '../errors.ts';
import type { ExecResult } from '../runtime.ts';
import { apiTimeout, watchedCall, type ApiBounds } from './bounds.ts';
import { CONTAINER } from './objects.ts';

const MAX_CAPTURE = 1024 * 1024;
/** How long an exec waits for an API server it cannot reach before it fails (a restart takes seconds). */
const UNREACHABLE_LIMIT_MS = 120_000;
const UNREACHABLE =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|socket hang up|Unexpected server response: (429|5\d\d)/;

/**
 * Pure: whether an exec that failed to start failed for want of an API server: no connection, or the
 * server answered the upgrade with 429 or 5xx. The command did not start, so trying again runs it once.
 * (A 404 for a missing pod, 403 or 400 are answers, not outages.)
 */
export function apiUnreachable(error: unknown): boolean {
  const codeOf = (e: unknown) => (e && typeof e === 'object' && 'code' in e ? String(e.code) : '');
  const inner = error && typeof error === 'object' && 'error' in error ? error.error : undefined;
  return UNREACHABLE.test(`${describe(error)} ${codeOf(error)} ${codeOf(inner)}`);
}

function collector(): { stream: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (size < MAX_CAPTURE) chunks.push(chunk);
      size += chunk.length;
      done();
    },
  });
  return { stream, bytes: () => Buffer.concat(chunks) };
}

export function exitCodeOf(status: V1Status): number | null {
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (cause?.message && /^\d+$/.test(cause.message)) return Number(cause.message);
  const fromMessage = /exit (?:status|code) (\d+)/.exec(status.message ?? '');
  return fromMessage ? Number(fromMessage[1]) : null;
}

/** The part of the exec websocket (ws) used here: the client's types name it but do not ship ws's. */
interface ExecSocket {
  on(event: 'message' | 'pong', listener: () => void): void;
  once(event: 'close' | 'error', listener: () => void): void;
  ping(): void;
  close(): void;
  terminate(): void;
}

/**
 * The kubeconfig as the exec's websocket sees it, with a bound on the opening handshake: an upgrade
 * the API server accepts and never answers fails instead of waiting.
 */
function withHandshakeTimeout(kc: KubeConfig, ms: number): KubeConfig {
  return new Proxy(kc, {
    get(target, property) {
      if (property === 'applyToHTTPSOptions')
        return async (opts: Record<string, unknown>) => {
          await target.applyToHTTPSOptions(opts);
          opts.handshakeTimeout = ms;
        };
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export interface ExecBounds extends ApiBounds {
  /** Names the exec in errors and the slow-call log line. */
  what: string;
  logger: Logger;
}

export async function execInPod(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  command: string[],
  bounds: ExecBounds,
  stdin?: Uint8Array,
  signal?: AbortSignal,
): Promise<ExecResult> {
  const out = collector();
  const err = collector();
  let status: V1Status | undefined;
  let socket: ExecSocket;
  const exec = new Exec(withHandshakeTimeout(kc, bounds.callTimeoutMs));
  const firstTry = Date.now();
  for (let wait = 250; ; wait = Math.min(wait * 2, 2000)) {
    try {
      socket = (await watchedCall(
        bounds.what,
        () =>
          exec.exec(
            namespace,
            pod,
            CONTAINER,
            command,
            out.stream,
            err.stream,
            stdin ? Readable.from([Buffer.from(stdin)]) : null,
            false,
            (s) => {
              status = s;
            },
          ),
        { slowCallMs: bounds.slowCallMs, boundMs: bounds.callTimeoutMs },
        bounds.logger,
      )) as unknown as ExecSocket;
      break;
    } catch (error) {
      if (error instanceof RuntimeError) throw error;
      const waited = Date.now() - firstTry;
      if (!apiUnreachable(error) || signal?.aborted || waited >= UNREACHABLE_LIMIT_MS)
        throw new RuntimeError(
          'RuntimeFailure',
          `exec into ${namespace}/${pod} failed: ${describe(error)}${waited >= 1000 ? ` (the API server was unreachable for ${Math.round(waited / 1000)}s)` : ''}`,
        );
      await sleep(wait, undefined, signal ? { signal } : {}).catch(() => undefined);
    }
  }
  // A command may be silent for long, so the bound is on the connection, not the output: pings every
  // third of the idle bound, and any data or pong resets it. A half-open connection answers neither.
  let idle = false;
  await new Promise<void>((resolve) => {
    let heard = Date.now();
    const touch = () => {
      heard = Date.now();
    };
    socket.on('message', touch);
    socket.on('pong', touch);
    const check = setInterval(
      () => {
        if (Date.now() - heard < bounds.streamIdleMs) return socket.ping();
        idle = true;
        socket.terminate();
      },
      Math.max(1, Math.floor(bounds.streamIdleMs / 3)),
    );
    const abort = () => socket.close();
    signal?.addEventListener('abort', abort, { once: true });
    socket.once('close', () => {
      clearInterval(check);
      signal?.removeEventListener('abort', abort);
      resolve();
    });
    socket.once('error', () => socket.close());
  });
  if (idle) throw apiTimeout(bounds.what, bounds.streamIdleMs, 'no data and no pong on the exec stream');
  const exitCode = status ? exitCodeOf(status) : null;
  return {
    exitCode,
    stdout: out.bytes(),
    stderr: err.bytes().toString('utf8'),
    ...(exitCode === 0 ? {} : { message: status?.message ?? 'the exec stream closed without a status' }),
  };
}

function describe(error: unknown): string {
  if (error && typeof error === 'object' && 'message' in error) return String((error as Error).message);
  // The websocket rejects with an ErrorEvent-like object when the upgrade is refused.
  return String(error);
}
