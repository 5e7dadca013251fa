import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import path from 'node:path';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { TASK_QUEUE } from '../api/index.ts';
import { createActivities, type Activities } from '../activities/index.ts';
import { pruneUnusedPackages } from '../lib/app-catalog.ts';
import {
  FAILURE_CONVERTER_PATH,
  KEY_FILE_ENV,
  KEYS_ENV,
  codecFromEnv,
  kdflowDataConverter,
  type EncryptionCodec,
} from '../lib/codec.ts';
import { kdflowCacheDir } from '../lib/config.ts';
import type { Runtime } from '../runtimes/runtime.ts';
import { loadWorkflowBundle } from './bundle-cache.ts';
import type { BundleSources } from './bundle-key.ts';
import { livenessHeartbeats, watchEventLoop, type LoopWatch } from './liveness.ts';
import { takeOver, workerIdentity } from './takeover.ts';

export interface KdflowWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  runtime: Runtime;
  home: string;
  logger: Logger;
  taskQueue?: string;
  tuning?: Partial<Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxCachedWorkflows'>>;
  /** The payload codec; by default the keys of KDFLOW_CODEC_KEY_FILE / KDFLOW_CODEC_KEYS, or none (lib/codec.ts). */
  codec?: EncryptionCodec;
  /** Tests only: wraps the activities, so a test can hold some until it releases them (testing/activity-gate.ts). */
  wrapActivities?: (activities: Activities) => Activities;
}

const REPO = fileURLToPath(new URL('..', import.meta.url));
export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
/** Shared by every workflow in the worker's V8 context instead of evaluated per workflow (workflows/preload.ts). */
export const PRELOAD_PATH = fileURLToPath(new URL('../workflows/preload.ts', import.meta.url));
export const WORKFLOW_SOURCES: BundleSources = {
  root: REPO,
  workflowsPath: WORKFLOWS_PATH,
  preloadModules: [PRELOAD_PATH],
};

/**
 * The bundle a worker with this codec runs. With a key, failures raised by workflow code (a rejected
 * change naming the value sent) are converted inside the sandbox by lib/codec-failures.ts, so their
 * message goes into an encoded payload that the codec encrypts, like an activity's failure. The SDK
 * takes `dataConverter.failureConverterPath` into a bundle only when it bundles itself; kdflow
 * passes a prebuilt bundle, so the converter is bundled here (a separate bundle, under its own key).
 * Without a key the bundle keeps the SDK's converter: failures stay as they were.
 */
export function workflowSources(codec: EncryptionCodec): BundleSources {
  return codec.currentKeyId ? { ...WORKFLOW_SOURCES, failureConverterPath: FAILURE_CONVERTER_PATH } : WORKFLOW_SOURCES;
}

/** KDFLOW_BUNDLE_CACHE: a directory, or `off` to bundle at every start; by default in the user's kdflow cache. */
export function bundleCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const setting = env.KDFLOW_BUNDLE_CACHE;
  if (setting === 'off') return undefined;
  return setting ? path.resolve(setting) : path.join(kdflowCacheDir(env), 'bundles');
}

/**
 * KDFLOW_MAX_CACHED_WORKFLOWS: how many clusters' workflows the worker keeps in memory (the SDK's
 * sticky cache). Unset, the SDK sizes it from the heap limit. A cluster beyond it costs no memory
 * while idle; its next event replays its history (since its last continue-as-new) on whichever
 * worker takes it. Each cached idle cluster costs about 0.3 MiB (docs/adr/0012).
 */
export function maxCachedWorkflowsSetting(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const setting = env.KDFLOW_MAX_CACHED_WORKFLOWS;
  if (setting === undefined || setting === '') return undefined;
  const count = Number(setting);
  if (!Number.isSafeInteger(count) || count < 1)
    throw new Error(
      `KDFLOW_MAX_CACHED_WORKFLOWS: got ${JSON.stringify(setting)}; expected a whole number of workflows, at least 1`,
    );
  return count;
}

/** The young generation's semi-space of the workflow thread, in MiB (V8's default grows it to 16). */
export const WORKFLOW_SEMI_SPACE_MIB = 2;

/**
 * The SDK runs every cached workflow in one worker thread, a V8 isolate of its own, and V8 grows that
 * isolate's young generation to 3 × 16 MiB after a burst of activations and gives the pages back only
 * when its memory reducer runs, seconds to minutes later: that, not live objects, decided whether
 * 1,000 idle clusters fit 512 MiB (docs/adr/0048). Workflow objects are short-lived or cached for
 * long, so a small young generation costs few extra scavenges. The worker's entry points start Node
 * with `--max-semi-space-size=2`, which bounds the main thread too; where a process was started
 * without it (npm start, tests), this sets it for the workflow thread alone: the flag is read when an
 * isolate is made, so it reaches the thread the SDK makes after it. A size the operator gave Node wins.
 */
export function boundWorkflowYoungGeneration(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions = process.env.NODE_OPTIONS ?? '',
): boolean {
  if ([...execArgv, nodeOptions].some((arg) => arg.includes('--max-semi-space-size'))) return false;
  v8.setFlagsFromString(`--max-semi-space-size=${WORKFLOW_SEMI_SPACE_MIB}`);
  return true;
}

let loopWatch: LoopWatch | undefined;

/** The one place a kdflow worker is assembled: used by `npm start`, the worker bin and the tests alike. */
export async function createKdflowWorker(options: KdflowWorkerOptions): Promise<Worker> {
  // First: a key setting that cannot be used stops the start before anything else is done.
  const codec = options.codec ?? codecFromEnv();
  if (codec.currentKeyId)
    options.logger.info({ keyId: codec.currentKeyId, keyIds: codec.keyIds }, 'payloads encrypted (AES-256-GCM)');
  else options.logger.info(`payloads unencrypted: no key in ${KEY_FILE_ENV} or ${KEYS_ENV}`);
  const maxCachedWorkflows = options.tuning?.maxCachedWorkflows ?? maxCachedWorkflowsSetting();
  const pruning = pruneUnusedPackages(options.home).catch((error: unknown) => {
    options.logger.warn({ err: error }, 'could not prune the package cache');
    return [];
  });
  // Bundled once per change of the workflow code, not at every start (worker/bundle-cache.ts).
  const sources = workflowSources(codec);
  const bundle = await loadWorkflowBundle(sources, { cacheDir: bundleCacheDir(), logger: options.logger });
  options.logger.info(
    {
      from: bundle.from,
      ms: bundle.ms,
      hash: bundle.hash,
      encodedFailures: sources.failureConverterPath !== undefined,
      ...(bundle.file ? { file: bundle.file } : {}),
    },
    'workflow bundle ready',
  );
  const pruned = await pruning;
  if (pruned.length > 0) options.logger.info({ removed: pruned.length }, 'pruned cached packages no app uses');
  // One per process: stalls of the loop every worker of the process heartbeats from (worker/liveness.ts).
  loopWatch ??= watchEventLoop(options.logger);
  const taskQueue = options.taskQueue ?? TASK_QUEUE;
  // Pid, host and start time: a worker started later on this host can tell for sure that this one is gone.
  const identity = workerIdentity();
  boundWorkflowYoungGeneration();
  const worker = await Worker.create({
    identity,
    connection: options.connection,
    namespace: options.namespace,
    taskQueue,
    workflowBundle: { code: bundle.code },
    // The codec runs here, outside the workflow sandbox, on every payload in and out (lib/codec.ts).
    dataConverter: kdflowDataConverter(codec),
    activities: (options.wrapActivities ?? ((activities) => activities))(
      createActivities({ runtime: options.runtime, home: options.home, logger: options.logger }),
    ),
    // Every activity heartbeats at least once a second while it runs, so a short heartbeat timeout only catches a dead worker.
    interceptors: { activity: [livenessHeartbeats()] },
    maxConcurrentActivityTaskExecutions: options.tuning?.maxConcurrentActivityTaskExecutions ?? 200,
    // Cancellation reaches an activity only with a heartbeat; a short throttle makes delete stop scripts promptly.
    // It is also the longest gap between two heartbeats the server sees from a live worker: the
    // heartbeat timeout (workflows/steps.ts) leaves several of these as headroom (docs/adr/0017).
    maxHeartbeatThrottleInterval: '2 seconds',
    // How long a workflow task (or query) waits for this worker before it goes to the shared queue:
    // after a crash, the bound on a status query sent before the next worker took over (docs/adr/0017).
    stickyQueueScheduleToStartTimeout: '5 seconds',
    ...(maxCachedWorkflows ? { maxCachedWorkflows } : {}),
  });
  // In the background: the worker polls meanwhile, and what is handed over later simply comes to it then.
  void takeOver({ connection: options.connection, namespace: options.namespace, taskQueue, identity }).then(
    // Said at info only when there was something to take over: a routine start stays quiet.
    (done) =>
      options.logger[done.retried.length + done.cancelled.length + done.released > 0 ? 'info' : 'debug'](
        {
          running: done.running,
          retried: done.retried,
          cancelled: done.cancelled,
          released: done.released,
          failedCalls: done.failedCalls,
          ms: done.ms,
        },
        'took over from earlier workers',
      ),
    (error: unknown) =>
      options.logger.warn(
        { err: error },
        'could not take over from earlier workers; their activities wait for their heartbeat timeouts',
      ),
  );
  return worker;
}
