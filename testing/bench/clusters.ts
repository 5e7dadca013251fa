/** Driving clusters from the bench: the app, start, wait, delete, and the history of a whole run chain. */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  KdAppSpec,
  KdClusterSpec,
  clusterStartOptions,
  deleteSignal,
  statusQuery,
  type ClusterInput,
  type ClusterStatus,
} from '../../api/index.ts';
import type { ClusterOptions, clusterWorkflow } from '../../workflows/cluster.ts';
import type { BenchEnv } from './env.ts';
import type { HistoryEvent } from './history.ts';

export const ROLE = 'member';

/** A config package whose startscript is `body` (a no-op by default). Returns the package's startscript path and URL. */
export async function writeScriptPackage(dir: string, body = 'exit 0'): Promise<{ script: string; url: string }> {
  const pkg = path.join(dir, 'appconfig');
  await mkdir(pkg, { recursive: true });
  const script = path.join(pkg, 'startscript');
  await writeFile(script, `#!/bin/sh\n${body}\n`);
  await chmod(script, 0o755);
  return { script, url: `file://${pkg}` };
}

/** One role of 1+ members, so N members are one batch and one fan-out of maxParallel lanes. */
export function benchApp(packageURL: string | null, maxParallel = 16): KdAppSpec {
  return KdAppSpec.parse({
    label: { name: 'bench app' },
    distroID: 'bench/app',
    version: '1',
    defaultImageRepoTag: 'bench:1',
    defaultConfigPackage: packageURL ? { packageURL } : null,
    roles: [{ id: ROLE, cardinality: '1+' }],
    maxParallel,
    scriptTimeoutSeconds: 120,
  });
}

/** Where a cluster runs: its namespace and the task queue of the worker (and so the runtime) that serves it. */
export interface Placement {
  namespace: string;
  taskQueue: string;
}

export async function startCluster(
  env: BenchEnv,
  name: string,
  app: KdAppSpec,
  members: number,
  options: ClusterOptions = {},
  at?: Placement,
): Promise<WorkflowHandle<typeof clusterWorkflow>> {
  const spec = KdClusterSpec.parse({ app: 'bench', roles: [{ id: ROLE, members }] });
  const input: ClusterInput = { namespace: at?.namespace ?? 'default', name, appName: 'bench', app, spec };
  return env.client.workflow.start<typeof clusterWorkflow>('clusterWorkflow', {
    taskQueue: at?.taskQueue ?? env.taskQueue,
    args: [input, undefined, options],
    ...clusterStartOptions(input),
  });
}

export const isSettled = (generation: number) => (s: ClusterStatus) =>
  s.observedGeneration >= generation && (s.phase === 'configured' || s.phase === 'config error');

/** Poll the status query until the cluster settled at `generation`; the timeout only guards against a hang. */
export async function waitSettled(
  handle: WorkflowHandle,
  generation: number,
  { pollMs = 50, timeoutMs = 600_000, check = () => {} } = {},
): Promise<ClusterStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Such as: the worker serving the cluster is still there.
    check();
    const status = await handle.query(statusQuery);
    if (isSettled(generation)(status)) {
      if (status.phase !== 'configured')
        throw new Error(`${handle.workflowId} settled in ${status.phase}: ${JSON.stringify(status).slice(0, 2000)}`);
      return status;
    }
    if (Date.now() > deadline)
      throw new Error(`${handle.workflowId} did not settle at generation ${generation}: ${status.phase}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export async function deleteCluster(handle: WorkflowHandle): Promise<void> {
  await handle.signal(deleteSignal);
  await handle.result();
}

export async function historyOf(handle: WorkflowHandle): Promise<HistoryEvent[]> {
  return ((await handle.fetchHistory()).events ?? []) as HistoryEvent[];
}

export interface Run {
  runId: string | undefined;
  events: HistoryEvent[];
}

/** Every run of a workflow id, oldest first, found by following continue-as-new back from the latest. */
export async function runChain(client: Client, workflowId: string): Promise<Run[]> {
  const runs: Run[] = [];
  let runId: string | undefined;
  for (;;) {
    const events = await historyOf(client.workflow.getHandle(workflowId, runId));
    runs.unshift({ runId, events });
    const started = events[0]?.workflowExecutionStartedEventAttributes as
      { continuedExecutionRunId?: string | null } | undefined;
    if (!started?.continuedExecutionRunId) return runs;
    runId = started.continuedExecutionRunId;
  }
}

/** Events and bytes (as the server counts them) over a whole run chain. */
export async function chainSize(client: Client, workflowId: string): Promise<{ events: number; bytes: number }> {
  let events = 0;
  let bytes = 0;
  for (const run of await runChain(client, workflowId)) {
    events += run.events.length;
    bytes += (await client.workflow.getHandle(workflowId, run.runId).describe()).historySize ?? 0;
  }
  return { events, bytes };
}

/** Run `work` over the items with at most `limit` in flight; results in item order. */
export async function inPool<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T, i);
    }
  });
  await Promise.all(lanes);
  return results;
}
