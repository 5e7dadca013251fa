/**
 * A kdflow worker in a process of its own, for the points that measure the worker's memory and CPU
 * (P5, P6): the bench's own process holds the driver, the client and what earlier points left on its
 * heap, so its RSS is not the worker's. Started by `startWorkerProcess` (env.ts) with the server's
 * address, the bench's home and a task queue; answers `sample` with what only it knows (cached
 * workflows, V8 heap, its spawner's pid) and exits on `stop` or when the bench goes away.
 */
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { pino } from 'pino';
import { LocalRuntime } from '../../runtimes/local.ts';
import { spawnerPid } from '../../runtimes/spawner.ts';
import { createKdflowWorker } from '../../worker/worker.ts';

export interface WorkerProcessArgs {
  address: string;
  home: string;
  taskQueue: string;
}

/** What the parent asks for, and what this process answers. */
export type WorkerRequest = { kind: 'sample'; id: number; collect?: boolean } | { kind: 'stop' };
export interface WorkerSample {
  id: number;
  cachedWorkflows: number;
  /**
   * RSS as it was, then (with `collect`) after a full garbage collection of this process's main
   * thread. The workflows themselves run in the SDK's workflow thread, a V8 isolate of its own that
   * this GC does not reach, and `heapUsedMiB` is the main thread's heap alone.
   */
  rssMiB: number;
  rssAfterGcMiB: number | null;
  heapUsedMiB: number;
  spawnerPid: number | null;
}
export type WorkerMessage = { kind: 'ready' } | ({ kind: 'sample' } & WorkerSample) | { kind: 'failed'; error: string };

const send = (message: WorkerMessage) => {
  if (process.connected) process.send?.(message);
};

async function main(args: WorkerProcessArgs): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: args.address });
  const logger = pino({ level: process.env.KDFLOW_BENCH_LOG ?? 'silent' });
  // KDFLOW_BENCH_MAX_CACHED: the sticky cache's size, which the SDK otherwise derives from the heap limit.
  const maxCachedWorkflows = Number(process.env.KDFLOW_BENCH_MAX_CACHED ?? 0) || undefined;
  const worker = await createKdflowWorker({
    connection,
    namespace: 'default',
    runtime: new LocalRuntime(args.home),
    home: args.home,
    logger,
    taskQueue: args.taskQueue,
    ...(maxCachedWorkflows ? { tuning: { maxCachedWorkflows } } : {}),
  });
  const stop = () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
  // Started with --expose-gc (env.ts); without it a sample reports no after-GC figure.
  const collect = (globalThis as { gc?: () => void }).gc;
  process.on('message', (request: WorkerRequest) => {
    if (request.kind === 'stop') return stop();
    const rssMiB = mib(process.memoryUsage.rss());
    if (request.collect) collect?.();
    send({
      kind: 'sample',
      id: request.id,
      cachedWorkflows: worker.getStatus().numCachedWorkflows,
      rssMiB,
      rssAfterGcMiB: request.collect && collect ? mib(process.memoryUsage.rss()) : null,
      heapUsedMiB: mib(process.memoryUsage().heapUsed),
      spawnerPid: spawnerPid() ?? null,
    });
  });
  // The bench went away (crashed or killed): nothing is left running for it.
  process.on('disconnect', stop);
  const running = worker.run();
  send({ kind: 'ready' });
  await running;
  await connection.close();
}

try {
  await main(JSON.parse(process.argv[2] ?? '{}') as WorkerProcessArgs);
  process.exit(0);
} catch (error) {
  send({ kind: 'failed', error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
