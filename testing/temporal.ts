import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { SEARCH_ATTRIBUTE_KEYS } from '../api/index.ts';
import { ensureTemporalCli } from '../lib/temporal-server.ts';
import { LocalRuntime } from '../runtimes/local.ts';
import type { Runtime } from '../runtimes/runtime.ts';
import { createKdflowWorker } from '../worker/worker.ts';

/** A real dev server (the CLI built from source), a real worker, the local runtime in a temp home. */
export interface Harness<R extends Runtime = LocalRuntime> {
  env: TestWorkflowEnvironment;
  home: string;
  runtime: R;
  worker: Worker;
  running: Promise<void>;
  taskQueue: string;
  stopWorker(): Promise<void>;
  startWorker(): Promise<void>;
  teardown(): Promise<void>;
}

/** `makeRuntime` swaps the local runtime for another (the Kubernetes suite passes its own). */
export async function startHarness<R extends Runtime = LocalRuntime>(
  makeRuntime?: (home: string) => R,
): Promise<Harness<R>> {
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: ensureTemporalCli() },
      ip: '127.0.0.1',
      extraArgs: ['--log-level', 'error'],
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
    },
  });
  const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-test-'));
  const runtime = makeRuntime ? makeRuntime(home) : (new LocalRuntime(home) as unknown as R);
  const logger = pino({ level: process.env.KDFLOW_TEST_LOG ?? 'silent' });
  const taskQueue = 'kdflow';
  const harness: Harness<R> = {
    env,
    home,
    runtime,
    taskQueue,
    worker: undefined as unknown as Worker,
    running: Promise.resolve(),
    async startWorker() {
      harness.worker = await createKdflowWorker({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        runtime,
        home,
        logger,
        taskQueue,
      });
      harness.running = harness.worker.run();
    },
    async stopWorker() {
      harness.worker.shutdown();
      await harness.running;
    },
    async teardown() {
      await harness.stopWorker().catch(() => {});
      await env.teardown();
    },
  };
  await harness.startWorker();
  return harness;
}

/** One harness per test file: started before its tests, torn down after them. */
export function useHarness(): Harness {
  let harness: Harness | undefined;
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => {
    await harness?.teardown();
  });
  return new Proxy({} as Harness, {
    get: (_target, key) => {
      if (!harness) throw new Error('the test harness is used before beforeAll started it');
      return Reflect.get(harness, key);
    },
  });
}
