import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { TASK_QUEUE } from '../api/index.ts';
import { createActivities } from '../activities/index.ts';
import { pruneUnusedPackages } from '../lib/app-catalog.ts';
import { kdflowCacheDir } from '../lib/config.ts';
import type { Runtime } from '../runtimes/runtime.ts';
import { loadWorkflowBundle } from './bundle-cache.ts';

export interface KdflowWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  runtime: Runtime;
  home: string;
  logger: Logger;
  taskQueue?: string;
  tuning?: Partial<Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxCachedWorkflows'>>;
}

const REPO = fileURLToPath(new URL('..', import.meta.url));
export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
/** Shared by every workflow in the worker's V8 context instead of evaluated per workflow (workflows/preload.ts). */
export const PRELOAD_PATH = fileURLToPath(new URL('../workflows/preload.ts', import.meta.url));
export const WORKFLOW_SOURCES = { root: REPO, workflowsPath: WORKFLOWS_PATH, preloadModules: [PRELOAD_PATH] };

/** KDFLOW_BUNDLE_CACHE: a directory, or `off` to bundle at every start; by default in the user's kdflow cache. */
export function bundleCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const setting = env.KDFLOW_BUNDLE_CACHE;
  if (setting === 'off') return undefined;
  return setting ? path.resolve(setting) : path.join(kdflowCacheDir(env), 'bundles');
}

/** The one place a kdflow worker is assembled: used by `npm start`, the worker bin and the tests alike. */
export async function createKdflowWorker(options: KdflowWorkerOptions): Promise<Worker> {
  const pruning = pruneUnusedPackages(options.home).catch((error: unknown) => {
    options.logger.warn({ err: error }, 'could not prune the package cache');
    return [];
  });
  // Bundled once per change of the workflow code, not at every start (worker/bundle-cache.ts).
  const bundle = await loadWorkflowBundle(WORKFLOW_SOURCES, { cacheDir: bundleCacheDir(), logger: options.logger });
  options.logger.info({ from: bundle.from, ms: bundle.ms, hash: bundle.hash, ...(bundle.file ? { file: bundle.file } : {}) }, 'workflow bundle ready');
  const pruned = await pruning;
  if (pruned.length > 0) options.logger.info({ removed: pruned.length }, 'pruned cached packages no app uses');
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    workflowBundle: { code: bundle.code },
    activities: createActivities({ runtime: options.runtime, home: options.home, logger: options.logger }),
    maxConcurrentActivityTaskExecutions: options.tuning?.maxConcurrentActivityTaskExecutions ?? 200,
    // Cancellation reaches an activity only with a heartbeat; a short throttle makes delete stop scripts promptly.
    maxHeartbeatThrottleInterval: '2 seconds',
    ...(options.tuning?.maxCachedWorkflows ? { maxCachedWorkflows: options.tuning.maxCachedWorkflows } : {}),
  });
}
