/**
 * What the chaos parts run: a test app whose startscript keeps a ledger outside the member (one
 * `start`/`done` line per run id), clusters started the way the CLI starts them, and status polling.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  KdAppSpec,
  KdClusterSpec,
  TASK_QUEUE,
  clusterWorkflowId,
  deleteSignal,
  statusQuery,
  type ClusterInput,
  type ClusterStatus,
  type KdAppSpecInput,
} from '../../api/index.ts';
import type { ClusterOptions, clusterWorkflow } from '../../workflows/cluster.ts';
import type { ChaosEnv } from './env.ts';

export const NAMESPACE = 'default';
export const APP_NAME = 'chaosapp';
export type ClusterHandle = WorkflowHandle<typeof clusterWorkflow>;

/**
 * The ledger line `done <run id> <argv>` is written just before the script exits 0, so two `done`
 * lines with one run id mean a script ran twice to completion. CHAOS_BEHAVIOUR is extra bash.
 */
export const LEDGER_SCRIPT = `#!/usr/bin/env bash
me=$(basename "$KDFLOW_MEMBER_ROOT")
ledger="$CHAOS_LEDGER/$me.log"
echo "start $KDFLOW_RUN_ID $*" >> "$ledger"
echo "$*" >> "$GUESTCONFIG_DIR/events.log"
sleep "\${CHAOS_SLEEP:-0.5}"
echo "done $KDFLOW_RUN_ID $*" >> "$ledger"
exit 0
`;

export async function writeScriptPackage(dir: string, script: string): Promise<string> {
  const pkg = path.join(dir, 'appconfig');
  await mkdir(pkg, { recursive: true });
  await writeFile(path.join(pkg, 'startscript'), script);
  await chmod(path.join(pkg, 'startscript'), 0o755);
  return `file://${pkg}`;
}

/** A chaos app whose config package is `script`, written under `dir`. */
export async function scriptApp(
  dir: string,
  script: string,
  overrides: Partial<KdAppSpecInput> = {},
): Promise<KdAppSpec> {
  return chaosApp(await writeScriptPackage(dir, script), overrides);
}

/** The app the chaos clusters run, as a manifest's spec: a controller ("1") and workers ("0+"). */
export function baseAppSpec(packageURL: string | null): KdAppSpecInput {
  return {
    label: { name: 'chaos app' },
    distroID: 'kdflow/chaos',
    version: '1',
    defaultImageRepoTag: 'chaos:1',
    defaultConfigPackage: packageURL ? { packageURL } : null,
    roles: [
      { id: 'controller', cardinality: '1' },
      { id: 'worker', cardinality: '0+' },
    ],
  };
}

export function chaosApp(packageURL: string | null, overrides: Partial<KdAppSpecInput> = {}): KdAppSpec {
  return KdAppSpec.parse({
    ...baseAppSpec(packageURL),
    scriptTimeoutSeconds: 60,
    retry: { maximumAttempts: 3, initialIntervalSeconds: 0.2, backoffCoefficient: 1 },
    ...overrides,
  });
}

export interface RoleEnv {
  name: string;
  value: string;
}

export function clusterSpec(roles: Record<string, number>, env: RoleEnv[] = []): KdClusterSpec {
  return KdClusterSpec.parse({
    app: APP_NAME,
    roles: Object.entries(roles).map(([id, members]) => ({ id, members, ...(env.length > 0 ? { env } : {}) })),
  });
}

/** Starts the cluster workflow as `kdflow apply` does. */
export async function startCluster(
  env: ChaosEnv,
  name: string,
  app: KdAppSpec,
  spec: KdClusterSpec,
  options?: ClusterOptions,
): Promise<ClusterHandle> {
  const input: ClusterInput = { namespace: NAMESPACE, name, appName: APP_NAME, app, spec };
  return env.client.workflow.start<typeof clusterWorkflow>('clusterWorkflow', {
    taskQueue: TASK_QUEUE,
    workflowId: clusterWorkflowId(NAMESPACE, name),
    args: options ? [input, undefined, options] : [input],
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Polls the status query (which needs a worker) until the predicate holds; errors while the worker is down are retried. */
export async function waitForStatus(
  handle: ClusterHandle,
  predicate: (s: ClusterStatus) => boolean,
  timeoutMs: number,
): Promise<ClusterStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: ClusterStatus | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await bounded(handle, 10_000, () => handle.query(statusQuery));
      if (predicate(last)) return last;
    } catch (error) {
      lastError = error;
    }
    await sleep(200);
  }
  throw new Error(
    `status never matched within ${timeoutMs}ms; last: ${last ? `${last.phase} gen ${last.observedGeneration}/${last.generation} op ${last.operation ?? '-'}` : `no answer (${(lastError as Error)?.message})`}`,
  );
}

/** Waits until the workflow has closed (delete), by describe, which needs no worker. */
export async function waitClosed(handle: ClusterHandle, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const description = await bounded(handle, 10_000, () => handle.describe()).catch(() => undefined);
    if (description && description.status.name !== 'RUNNING') return description.status.name;
    await sleep(200);
  }
  throw new Error(`workflow ${handle.workflowId} still running after ${timeoutMs}ms`);
}

/** Deletes the cluster and waits (at most two minutes) for its workflow to close; throws if it stays open. */
export async function deleteCluster(handle: ClusterHandle): Promise<void> {
  await handle.signal(deleteSignal);
  await waitClosed(handle, 120_000);
}

export const settled = (generation: number) => (s: ClusterStatus) =>
  s.observedGeneration >= generation &&
  s.generation === generation &&
  (s.phase === 'configured' || s.phase === 'config error');
export const configured = (generation: number) => (s: ClusterStatus) =>
  s.observedGeneration >= generation && s.generation === generation && s.phase === 'configured';

/**
 * A call to Temporal that gives up after `ms`: the deadline travels with the gRPC call, so nothing is
 * left retrying in the background (which would throw once the connection is closed).
 */
export function bounded<T>(handle: ClusterHandle, ms: number, call: () => Promise<T>): Promise<T> {
  return handle.client.connection.withDeadline(Date.now() + ms, call);
}

export interface LedgerLine {
  kind: 'start' | 'done';
  runId: string;
  argv: string;
  member: string;
}

export async function readLedger(dir: string): Promise<LedgerLine[]> {
  const files = await readdir(dir).catch(() => [] as string[]);
  const lines: LedgerLine[] = [];
  for (const file of files.filter((f) => f.endsWith('.log'))) {
    const text = await readFile(path.join(dir, file), 'utf8');
    for (const line of text.split('\n').filter(Boolean)) {
      const [kind, runId, ...argv] = line.split(' ');
      if (kind === 'start' || kind === 'done')
        lines.push({ kind, runId: runId ?? '', argv: argv.join(' '), member: file.slice(0, -4) });
    }
  }
  return lines;
}

/** Run ids that appear more than once with the given kind. */
export function repeatedRunIds(lines: LedgerLine[], kind: 'start' | 'done'): string[] {
  const seen = new Map<string, number>();
  for (const l of lines) if (l.kind === kind) seen.set(l.runId, (seen.get(l.runId) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
}

export function memberNames(s: ClusterStatus): string[] {
  return s.roles.flatMap((r) => r.members.map((m) => m.name));
}
