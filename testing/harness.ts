/** A test file's harness on the one environment (testing/temporal.ts): vitest's hooks start and end it. */
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll } from 'vitest';
import type { Activities } from '../activities/index.ts';
import type { LocalRuntime } from '../runtimes/local.ts';
import type { Runtime } from '../runtimes/runtime.ts';
import { lateBound } from './late-bound.ts';
import { TemporalEnv, type InProcessWorker } from './temporal.ts';

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
