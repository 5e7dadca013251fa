/**
 * One exec into a member's container that resolves when the command has ENDED: the client's exec()
 * resolves once the command starts, so this waits for the socket to close, and takes the exit code
 * from the V1Status the API sends (kwok's exec reports "exit status N" in the message instead).
 */
import { Readable, Writable } from 'node:stream';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
import { RuntimeError } from '../errors.ts';
import type { ExecResult } from '../runtime.ts';
import { CONTAINER } from './objects.ts';

const MAX_CAPTURE = 1024 * 1024;

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

export async function execInPod(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  command: string[],
  stdin?: Uint8Array,
  signal?: AbortSignal,
): Promise<ExecResult> {
  const out = collector();
  const err = collector();
  let status: V1Status | undefined;
  let socket;
  try {
    socket = await new Exec(kc).exec(
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
    );
  } catch (error) {
    throw new RuntimeError('RuntimeFailure', `exec into ${namespace}/${pod} failed: ${describe(error)}`);
  }
  await new Promise<void>((resolve) => {
    const abort = () => socket.close();
    signal?.addEventListener('abort', abort, { once: true });
    socket.once('close', () => {
      signal?.removeEventListener('abort', abort);
      resolve();
    });
    socket.once('error', () => socket.close());
  });
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
