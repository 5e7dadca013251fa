/**
 * The bench's own world: a dev server on free ports with its own SQLite file, a temp KDFLOW_HOME, an
 * in-process worker on the local runtime, and a client. `close()` removes every member, keep-alive
 * and script process under that home, then stops worker and server.
 */
import type { Client } from '@temporalio/client';
import { fork, type ChildProcess } from 'node:child_process';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { LocalRuntime } from '../../runtimes/local.ts';
import type { Runtime as KdflowRuntime } from '../../runtimes/runtime.ts';
import type { KdflowWorkerOptions } from '../../worker/worker.ts';
import { killAll, processesUnder, rssMiB } from '../processes.ts';
import { TemporalEnv, type InProcessWorker } from '../temporal.ts';
import type { WorkerMessage, WorkerProcessArgs, WorkerRequest, WorkerSample } from './worker-process.ts';

export { cpuSeconds, peakRssMiB, processesUnder, rssMiB } from '../processes.ts';

const WORKER_PROCESS = path.join(import.meta.dirname, 'worker-process.ts');

/** A worker in its own process (testing/bench/worker-process.ts), so its RSS and CPU are its own. */
export interface WorkerProcess {
  pid: number;
  taskQueue: string;
  /** Cached workflows, RSS, V8 heap and the spawner's pid, as the worker process sees them; `collect` runs a full GC first for the heap and after-GC RSS. */
  sample(collect?: boolean): Promise<WorkerSample>;
  /** Throws if the process has exited (a worker that died leaves its clusters waiting for ever). */
  assertRunning(): void;
  stop(): Promise<void>;
}

export interface BenchEnv {
  home: string;
  runtime: LocalRuntime;
  client: Client;
  taskQueue: string;
  serverPid: number | undefined;
  address: string;
  /** Replace the worker (for a before/after comparison of worker settings). */
  restartWorker(tuning?: KdflowWorkerOptions['tuning']): Promise<void>;
  /** Another worker on the same server, for another runtime on its own task queue; resolves to its stop. */
  startWorker(runtime: KdflowRuntime, taskQueue: string): Promise<() => Promise<void>>;
  /** A local-runtime worker in a process of its own on `taskQueue`, under the same home; close() stops it if it still runs. */
  startWorkerProcess(taskQueue: string): Promise<WorkerProcess>;
  close(): Promise<void>;
}

export async function startBenchEnv(log: (line: string) => void): Promise<BenchEnv> {
  // The SDK's own state-change lines would drown the bench's output.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // KDFLOW_BENCH_SERVER_ARGS: more dev server arguments, to try a server setting (space-separated).
  const serverArgs = process.env.KDFLOW_BENCH_SERVER_ARGS?.split(' ').filter(Boolean) ?? [];
  const temporal = await TemporalEnv.start({ prefix: 'kdflow-bench-', persist: true, serverArgs });
  const { home, address } = temporal;
  log(`dev server on ${address}, home ${home}`);
  const logger = pino({ level: process.env.KDFLOW_BENCH_LOG ?? 'silent' });
  const taskQueue = 'kdflow-bench';
  let worker: InProcessWorker | undefined;
  const workerProcesses = new Set<WorkerProcess>();
  const env: BenchEnv = {
    home,
    runtime: temporal.runtime,
    client: temporal.client,
    taskQueue,
    serverPid: temporal.serverPid,
    address,
    async restartWorker(tuning) {
      await worker?.stop();
      worker = await temporal.startWorker({ taskQueue, logger, ...(tuning ? { tuning } : {}) });
    },
    async startWorker(other, queue) {
      const extra = await temporal.startWorker({ runtime: other, taskQueue: queue, logger });
      return () => extra.stop();
    },
    async startWorkerProcess(queue) {
      const child = await forkWorker({ address, home, taskQueue: queue });
      workerProcesses.add(child);
      const stop = child.stop;
      child.stop = async () => {
        workerProcesses.delete(child);
        await stop();
      };
      return child;
    },
    async close() {
      for (const child of [...workerProcesses]) await child.stop().catch(() => {});
      killAll(await processesUnder(path.join(home, 'members')));
      await worker?.stop().catch(() => {});
      await temporal.close();
    },
  };
  await env.restartWorker();
  return env;
}

/**
 * A new worker process holds ≈130 MiB more than it needs for ≈20 s after it starts (what bundling
 * the workflow code left; a forced GC does not return it, time does). Waits until its RSS has been
 * steady (within 2 MiB over 10 s, and at least 30 s after the start) so a baseline is not that; gives up after 2 minutes.
 */
export async function steadyRssMiB(worker: WorkerProcess): Promise<number> {
  const started = Date.now();
  const recent: number[] = [];
  for (;;) {
    recent.push((await worker.sample()).rssMiB);
    if (recent.length > 6) recent.shift();
    const steady = recent.length === 6 && Math.max(...recent) - Math.min(...recent) <= 2;
    if ((steady && Date.now() - started >= 30_000) || Date.now() - started > 120_000) return recent.at(-1) as number;
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

/** The largest RSS of `pid` seen once a second from now on (the process's own peak, VmHWM, includes its start-up). */
export function maxRssSampler(pid: number): { stop(): number } {
  let max = 0;
  const read = () => {
    try {
      max = Math.max(max, rssMiB(pid));
    } catch {
      // The process is gone.
    }
  };
  read();
  // Never what keeps the bench alive, should a point fail before it stops the sampler.
  const timer = setInterval(read, 1_000).unref();
  return {
    stop() {
      clearInterval(timer);
      read();
      return max;
    },
  };
}

async function forkWorker(args: WorkerProcessArgs): Promise<WorkerProcess> {
  // KDFLOW_BENCH_WORKER_ARGS: more Node arguments for the worker process, to try a setting such as a heap limit (space-separated).
  const extra = process.env.KDFLOW_BENCH_WORKER_ARGS?.split(' ').filter(Boolean) ?? [];
  const child: ChildProcess = fork(WORKER_PROCESS, [JSON.stringify(args)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...process.execArgv, '--expose-gc', ...extra],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const answers = new Map<number, (sample: WorkerSample) => void>();
  let nextId = 0;
  await new Promise<void>((resolve, reject) => {
    child.on('message', (message: WorkerMessage) => {
      if (message.kind === 'ready') resolve();
      else if (message.kind === 'failed') reject(new Error(`bench worker process: ${message.error}`));
      else if (message.kind === 'sample') {
        answers.get(message.id)?.(message);
        answers.delete(message.id);
      }
    });
    child.once('exit', (code) => reject(new Error(`bench worker process exited with ${code} before it was ready`)));
  });
  const send = (request: WorkerRequest) => {
    if (child.connected) child.send(request);
  };
  let failure = '';
  child.on('message', (message: WorkerMessage) => {
    if (message.kind === 'failed') failure = message.error;
  });
  return {
    pid: child.pid as number,
    taskQueue: args.taskQueue,
    sample(collect = false) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        if (!child.connected) return reject(new Error('the bench worker process is gone'));
        answers.set(id, resolve);
        send({ kind: 'sample', id, collect });
      });
    },
    assertRunning() {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `the bench worker process exited (${child.exitCode ?? child.signalCode})${failure ? `: ${failure}` : ''}`,
        );
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      send({ kind: 'stop' });
      // A worker that does not stop in time (an activity that ignores cancellation) is killed.
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  temporalCli: string;
  temporalSdk: string;
  loadAverageAtStart: number[];
}

export function machineInfo(temporalCli: string, sdk: string): Machine {
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    temporalCli,
    temporalSdk: sdk,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}
