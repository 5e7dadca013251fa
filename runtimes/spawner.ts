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

interface Pending {
  started: (pid: number) => void;
  failed: (error: Error) => void;
  exited: () => void;
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
  child.on('message', (message: { id: number; pid?: number; error?: string; exited?: boolean }) => {
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
      p.exited();
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
