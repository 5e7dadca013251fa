import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { TASK_QUEUE } from '../api/index.ts';
import { createActivities } from '../activities/index.ts';
import { pruneUnusedPackages } from '../lib/app-catalog.ts';
import type { Runtime } from '../runtimes/runtime.ts';

export interface KdflowWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  runtime: Runtime;
  home: string;
  logger: Logger;
  taskQueue?: string;
  tuning?: Partial<Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxCachedWorkflows'>>;
}

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
/** Shared by every workflow in the worker's V8 context instead of evaluated per workflow (workflows/preload.ts). */
const PRELOAD_PATH = fileURLToPath(new URL('../workflows/preload.ts', import.meta.url));

/** The one place a kdflow worker is assembled: used by `npm start`, the worker bin and the tests alike. */
export async function createKdflowWorker(options: KdflowWorkerOptions): Promise<Worker> {
  const pruned = await pruneUnusedPackages(options.home).catch((error: unknown) => {
    options.logger.warn({ err: error }, 'could not prune the package cache');
    return [];
  });
  if (pruned.length > 0) options.logger.info({ removed: pruned.length }, 'pruned cached packages no app uses');
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    workflowsPath: WORKFLOWS_PATH,
    bundlerOptions: { preloadModules: [PRELOAD_PATH] },
    activities: createActivities({ runtime: options.runtime, home: options.home, logger: options.logger }),
    maxConcurrentActivityTaskExecutions: options.tuning?.maxConcurrentActivityTaskExecutions ?? 200,
    // Cancellation reaches an activity only with a heartbeat; a short throttle makes delete stop scripts promptly.
    maxHeartbeatThrottleInterval: '2 seconds',
    ...(options.tuning?.maxCachedWorkflows ? { maxCachedWorkflows: options.tuning.maxCachedWorkflows } : {}),
  });
}
