/**
 * What a starting worker does for the clusters a killed worker left (docs/adr/0017):
 *
 * - **Its activities.** The server retries an activity of a dead worker only once it misses its
 *   heartbeat timeout. A worker names itself by pid, process start time, boot id and pid namespace,
 *   so a worker started in the same boot and pid namespace (the same machine; a restarted container
 *   gets a new namespace) can tell for certain that the one that started an activity is gone (no
 *   process with that pid and start time) and fail that attempt at once; Temporal retries it by its
 *   policy, as after a timeout, and the retry finds the runner, status file or member the dead
 *   attempt left (activities are idempotent, scripts at most once: ADR 0003). An attempt the
 *   workflow was cancelling is reported cancelled. An activity started elsewhere (another machine
 *   or container), or by a worker still alive, is never touched: it keeps the heartbeat timeout.
 * - **Its sticky queue.** The server sends a workflow's next task (and queries) to the worker that
 *   ran it last, and to a dead one until the task's sticky schedule-to-start timeout. Stickiness of
 *   every running workflow is cleared, so their next tasks go to the shared queue. The cost: a
 *   replay for workflows another live worker had cached, once per worker start.
 *
 * Best effort and in the background: anything that fails here only means the old waits.
 */
import type { NativeConnection } from '@temporalio/worker';
import { readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';

const IDENTITY = /^(\d+)@(\S+) kdflow-worker (\d+) ([0-9a-f-]+\/\d+)$/;
// temporal.api.enums.v1.PendingActivityState: a worker has the attempt; the workflow asked to cancel it.
const PENDING_ACTIVITY_STARTED = 2;
const PENDING_ACTIVITY_CANCEL_REQUESTED = 3;

/** The process's start time in clock ticks since boot (/proc/PID/stat field 22): with the pid, unique in a pid namespace. */
export function processStart(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is the state (field 3); a zombie has exited.
  return fields[0] === 'Z' ? undefined : fields[19];
}

/**
 * Where pids mean something: the kernel's boot id and this process's pid namespace. Host names
 * repeat (cloned machines, pods of the same name in two namespaces) and containers share a kernel,
 * so only a worker in the same boot and pid namespace can judge another's pid.
 */
export function pidSpace(): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const namespace = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
    return boot && namespace ? `${boot}/${namespace}` : undefined;
  } catch {
    return undefined;
  }
}

/** `PID@HOST kdflow-worker START BOOT/PIDNS`; the SDK's default form (`PID@HOST`) where /proc cannot say, which is never taken over. */
export function workerIdentity(pid = process.pid, host = os.hostname()): string {
  const start = processStart(pid);
  const space = pidSpace();
  return start && space ? `${pid}@${host} kdflow-worker ${start} ${space}` : `${pid}@${host}`;
}

/** True only when `identity` is a kdflow worker in this boot and pid namespace whose process is certainly gone. */
export function workerGone(identity: string): boolean {
  const match = IDENTITY.exec(identity);
  if (!match || match[4] !== pidSpace()) return false;
  return processStart(Number(match[1])) !== match[3];
}

export interface TakeoverOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** This worker's identity, named in the failures it records. */
  identity: string;
  /** Calls in flight at once. */
  concurrency?: number;
}

export interface Takeover {
  running: number;
  /** Activity attempts of dead workers failed so they are retried now. */
  retried: { workflowId: string; activityId: string; activity: string; from: string }[];
  /** Attempts of dead workers whose cancellation was asked for, reported cancelled. */
  cancelled: { workflowId: string; activityId: string; activity: string; from: string }[];
  released: number;
  failedCalls: number;
  ms: number;
}

export async function takeOver(options: TakeoverOptions): Promise<Takeover> {
  const started = performance.now();
  const service = options.connection.workflowService;
  const { namespace } = options;
  const executions: { workflowId: string; runId: string }[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await service.listWorkflowExecutions({
      namespace,
      query: `TaskQueue = '${options.taskQueue.replaceAll("'", '')}' AND ExecutionStatus = 'Running'`,
      pageSize: 1000,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    for (const info of page.executions ?? []) {
      const { workflowId, runId } = info.execution ?? {};
      if (workflowId && runId) executions.push({ workflowId, runId });
    }
    nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
  } while (nextPageToken);

  const result: Takeover = {
    running: executions.length,
    retried: [],
    cancelled: [],
    released: 0,
    failedCalls: 0,
    ms: 0,
  };
  const attempt = async (call: () => Promise<unknown>) => {
    try {
      await call();
      return true;
    } catch {
      // Closed or retried since it was listed, or the server is busy: the old waits apply.
      result.failedCalls += 1;
      return false;
    }
  };
  const takeOverOne = async (execution: { workflowId: string; runId: string }) => {
    // First, so that whatever the retries below lead to comes to the shared queue.
    if (await attempt(() => service.resetStickyTaskQueue({ namespace, execution }))) result.released += 1;
    const description = await service.describeWorkflowExecution({ namespace, execution }).catch(() => undefined);
    for (const pending of description?.pendingActivities ?? []) {
      const from = pending.lastWorkerIdentity ?? '';
      const cancelling = pending.state === PENDING_ACTIVITY_CANCEL_REQUESTED;
      if ((pending.state !== PENDING_ACTIVITY_STARTED && !cancelling) || !pending.activityId || !workerGone(from))
        continue;
      const which = {
        workflowId: execution.workflowId,
        activityId: pending.activityId,
        activity: pending.activityType?.name ?? '?',
        from,
      };
      const byId = { namespace, ...execution, activityId: pending.activityId, identity: options.identity };
      if (cancelling) {
        // Nothing will stop it any more: the workflow goes on to what follows a cancel (a delete's teardown ends what the attempt left running).
        if (await attempt(() => service.respondActivityTaskCanceledById(byId))) result.cancelled.push(which);
        continue;
      }
      const failure = {
        message: `worker ${from} is gone (no such process here); retried at once by ${options.identity}`,
        source: 'kdflow',
        applicationFailureInfo: { type: 'WorkerGone', nonRetryable: false },
      };
      if (await attempt(() => service.respondActivityTaskFailedById({ ...byId, failure }))) result.retried.push(which);
    }
  };
  const queue = [...executions];
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency ?? 16, queue.length) }, async () => {
      for (let execution = queue.shift(); execution; execution = queue.shift()) await takeOverOne(execution);
    }),
  );
  result.ms = Math.round(performance.now() - started);
  return result;
}
