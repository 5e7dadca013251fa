/**
 * Detached processes (keep-alives, script runners) started by a small helper process instead of the
 * worker itself: forking the worker blocks its event loop ≈14 ms a time once the Temporal worker
 * runs, ≈3 ms in the helper (docs/adr/0012-benchmarks.md). Falls back to a direct spawn when the
 * helper cannot run. The processes are the same either way: detached, stdio ignored.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./spawner-child.ts', import.meta.url));

export interface SpawnRequest {
  command: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  argv0?: string;
}

export interface Spawned {
  pid: number;
  /** Resolves when the process exited (or when that can no longer be known: then poll). */
  exited: Promise<void>;
}

/** How a captured process ended; code and signal null when that can no longer be known. */
export interface Captured {
  code: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
}

export interface SpawnedCapture {
  pid: number;
  ended: Promise<Captured>;
}

interface ExitMessage {
  code?: number | null;
  signal?: string | null;
  stdout?: string;
  stderr?: string;
}

interface Pending {
  started: (pid: number) => void;
  failed: (error: Error) => void;
  exited: (message?: ExitMessage) => void;
  pid?: number;
}

let helper: ChildProcess | undefined;
let nextId = 0;
const pending = new Map<number, Pending>();

function settleAll(reason: string): void {
  for (const [id, p] of pending) {
    if (p.pid === undefined) p.failed(new Error(reason));
    p.exited();
    pending.delete(id);
  }
}

function refWhileBusy(): void {
  const channel = helper?.channel as { ref(): void; unref(): void } | undefined;
  if (pending.size > 0) channel?.ref();
  else channel?.unref();
}

function startHelper(): ChildProcess {
  const child = fork(CHILD, [], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: ['--max-old-space-size=64'],
    serialization: 'json',
  });
  child.on('message', (message: { id: number; pid?: number; error?: string; exited?: boolean } & ExitMessage) => {
    const p = pending.get(message.id);
    if (!p) return;
    if (message.error !== undefined) {
      p.failed(new Error(message.error));
      p.exited();
      pending.delete(message.id);
    } else if (message.pid !== undefined) {
      p.pid = message.pid;
      p.started(message.pid);
    } else if (message.exited) {
      p.exited(message);
      pending.delete(message.id);
    }
    refWhileBusy();
  });
  child.once('exit', () => {
    if (helper === child) helper = undefined;
    settleAll('the spawner process exited');
  });
  child.unref();
  (child.channel as { unref(): void } | undefined)?.unref();
  return child;
}

function direct(request: SpawnRequest): Promise<Spawned> {
  const child = spawn(request.command, request.args, {
    cwd: request.cwd,
    env: request.env ?? process.env,
    argv0: request.argv0,
    detached: true,
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.once('spawn', () => {
      child.unref();
      resolve({ pid: child.pid as number, exited });
    });
    child.once('error', reject);
  });
}

/** Start a detached process with its stdin written and closed, its stdout and stderr captured. */
export async function spawnCaptured(request: SpawnRequest & { stdin?: Uint8Array }): Promise<SpawnedCapture> {
  const stdin = Buffer.from(request.stdin ?? new Uint8Array()).toString('base64');
  const { stdin: _, ...rest } = request;
  if (process.env.KDFLOW_SPAWNER !== 'off') {
    try {
      helper ??= startHelper();
    } catch {
      helper = undefined;
    }
  }
  if (!helper) return directCapture(rest, stdin);
  const id = nextId++;
  let exited!: (message?: ExitMessage) => void;
  const ended = new Promise<Captured>(
    (resolve) =>
      (exited = (m) =>
        resolve({
          code: m?.code ?? null,
          signal: m?.signal ?? null,
          stdout: Buffer.from(m?.stdout ?? '', 'base64'),
          stderr: Buffer.from(m?.stderr ?? '', 'base64'),
        })),
  );
  const pid = new Promise<number>((started, failed) => pending.set(id, { started, failed, exited }));
  helper.send({ id, ...rest, capture: { stdin } });
  refWhileBusy();
  return { pid: await pid, ended };
}

function directCapture(request: SpawnRequest, stdin: string): Promise<SpawnedCapture> {
  const child = spawn(request.command, request.args, {
    cwd: request.cwd,
    env: request.env ?? process.env,
    argv0: request.argv0,
    detached: true,
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.stdin.on('error', () => {});
  child.stdin.end(Buffer.from(stdin, 'base64'));
  const ended = new Promise<Captured>((resolve) =>
    child.once('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) }),
    ),
  );
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve({ pid: child.pid as number, ended }));
    child.once('error', reject);
  });
}

/** The helper's pid while it runs (the bench reports its memory beside the worker's). */
export function spawnerPid(): number | undefined {
  return helper?.pid;
}

/** Start a detached process with stdio ignored, through the helper when it runs. */
export async function spawnDetached(request: SpawnRequest): Promise<Spawned> {
  if (process.env.KDFLOW_SPAWNER === 'off') return direct(request);
  try {
    helper ??= startHelper();
  } catch {
    return direct(request);
  }
  const id = nextId++;
  let exited!: () => void;
  const exitedPromise = new Promise<void>((resolve) => (exited = resolve));
  const pid = new Promise<number>((started, failed) => pending.set(id, { started, failed, exited }));
  helper.send({ id, ...request });
  refWhileBusy();
  return { pid: await pid, exited: exitedPromise };
}
