/**
 * A kdflow worker in a process of its own, for the points that measure the worker's memory and CPU
 * (P5, P6): the bench's own process holds the driver, the client and what earlier points left on its
 * heap, so its RSS is not the worker's. Started by `startWorkerProcess` (env.ts) with the server's
 * address, the bench's home and a task queue; answers `sample` with what only it knows (cached
 * workflows, V8 heap, its spawner's pid) and exits on `stop` or when the bench goes away.
 */
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import type { Worker as Thread } from 'node:worker_threads';
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
  /**
   * The V8 heap of the SDK's workflow thread(s), where the cached workflows live: used, and (with
   * `collect` and KDFLOW_BENCH_WORKFLOW_GC=1) used after a full collection of that thread, which a
   * heap snapshot of it starts with. Null where the SDK's internals are not as expected.
   */
  workflowHeapUsedMiB: number | null;
  workflowHeapAfterGcMiB: number | null;
  spawnerPid: number | null;
}
export type WorkerMessage = { kind: 'ready' } | ({ kind: 'sample' } & WorkerSample) | { kind: 'failed'; error: string };

/**
 * The SDK's workflow threads, read from its internals (a bench-only look: `workflowCreator` of a
 * reusable-context worker holds one client per thread). Empty if they are not there.
 */
function workflowThreads(worker: Worker): Thread[] {
  const creator = (worker as unknown as { workflowCreator?: { workerThreadClients?: { workerThread?: Thread }[] } })
    .workflowCreator;
  return (creator?.workerThreadClients ?? []).flatMap((c) => (c.workerThread ? [c.workerThread] : []));
}

async function workflowHeapMiB(threads: Thread[], collect: boolean): Promise<number | null> {
  if (threads.length === 0) return null;
  let used = 0;
  for (const thread of threads) {
    if (collect) {
      // A heap snapshot starts with a full GC of the thread; its contents are not needed.
      const snapshot = await thread.getHeapSnapshot();
      for await (const _chunk of snapshot as AsyncIterable<unknown>);
    }
    used += (await thread.getHeapStatistics()).used_heap_size;
  }
  return Math.round((used / 2 ** 20) * 10) / 10;
}

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
  const threads = workflowThreads(worker);
  const collectWorkflows = process.env.KDFLOW_BENCH_WORKFLOW_GC === '1';
  const answer = async (request: Extract<WorkerRequest, { kind: 'sample' }>) => {
    const rssMiB = mib(process.memoryUsage.rss());
    if (request.collect) collect?.();
    const rssAfterGcMiB = request.collect && collect ? mib(process.memoryUsage.rss()) : null;
    const workflowHeapUsedMiB = await workflowHeapMiB(threads, false).catch(() => null);
    const workflowHeapAfterGcMiB =
      request.collect && collectWorkflows ? await workflowHeapMiB(threads, true).catch(() => null) : null;
    send({
      kind: 'sample',
      id: request.id,
      cachedWorkflows: worker.getStatus().numCachedWorkflows,
      rssMiB,
      rssAfterGcMiB,
      heapUsedMiB: mib(process.memoryUsage().heapUsed),
      workflowHeapUsedMiB,
      workflowHeapAfterGcMiB,
      spawnerPid: spawnerPid() ?? null,
    });
  };
  process.on('message', (request: WorkerRequest) => {
    if (request.kind === 'stop') return stop();
    void answer(request);
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
