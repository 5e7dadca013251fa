/** A test file's harness on the one environment (testing/temporal.ts): vitest's hooks start and end it. */
import type { Worker } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Activities } from '../activities/index.ts';
import type { LocalRuntime } from '../runtimes/local.ts';
import type { Runtime } from '../runtimes/runtime.ts';
import { lateBound } from './late-bound.ts';
import { TemporalEnv, type InProcessWorker, type WorkerBinary } from './temporal.ts';

/** A test file's world: the environment, one in-process worker on `taskQueue`, and the runtime it uses. */
export interface Harness<R extends Runtime = LocalRuntime> {
  env: TemporalEnv;
  home: string;
  runtime: R;
  worker: Worker;
  taskQueue: string;
  stopWorker(): Promise<void>;
  startWorker(): Promise<void>;
  teardown(): Promise<void>;
}

export interface HarnessOptions {
  /** Wraps the worker's activities: an ActivityGate's `wrap` (testing/activity-gate.ts) lets the test hold and release them. */
  wrapActivities?: (activities: Activities) => Activities;
  /** The server keeps its state in a SQLite file, so a test can stop it and start it again (`env.stopServer`/`startServer`). */
  persist?: boolean;
}

/** `makeRuntime` swaps the local runtime for another (the Kubernetes suite passes its own). */
export async function startHarness<R extends Runtime = LocalRuntime>(
  makeRuntime?: (home: string) => R,
  options: HarnessOptions = {},
): Promise<Harness<R>> {
  const env = await TemporalEnv.start(options.persist ? { persist: true } : {});
  const { persist: _persist, ...workerOptions } = options;
  const runtime = makeRuntime ? makeRuntime(env.home) : (env.runtime as unknown as R);
  let current: InProcessWorker | undefined;
  const harness: Harness<R> = {
    env,
    home: env.home,
    runtime,
    taskQueue: 'kdflow',
    worker: undefined as unknown as Worker,
    async startWorker() {
      current = await env.startWorker({ runtime, taskQueue: harness.taskQueue, ...workerOptions });
      harness.worker = current.worker;
    },
    async stopWorker() {
      await current?.stop();
      current = undefined;
    },
    async teardown() {
      await harness.stopWorker().catch(() => {});
      await env.close();
    },
  };
  await harness.startWorker();
  return harness;
}

/** One harness per test file: started before its tests, torn down after them. */
export function useHarness(options: HarnessOptions = {}): Harness {
  let harness: Harness | undefined;
  beforeAll(async () => {
    harness = await startHarness(undefined, options);
  });
  afterAll(async () => {
    await harness?.teardown();
  });
  return lateBound('the test harness', () => harness);
}

/**
 * One harness per test file whose clusters only real worker binaries serve, each in a process of its
 * own so that kill -9 is a real crash: `startWorker()` starts one, and a test's are killed after it.
 */
export function useWorkerBinaries(): { h: Harness; startWorker(): Promise<WorkerBinary> } {
  let harness: Harness | undefined;
  const workers: WorkerBinary[] = [];
  beforeAll(async () => {
    harness = await startHarness();
    // Only the out-of-process workers serve this file's clusters.
    await harness.stopWorker();
  });
  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.kill();
  });
  afterAll(async () => {
    await harness?.teardown();
  });
  const h = lateBound('the test harness', () => harness);
  return {
    h,
    async startWorker() {
      const worker = await h.env.startWorkerBinary();
      workers.push(worker);
      return worker;
    },
  };
}
