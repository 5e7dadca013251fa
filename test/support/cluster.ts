import type { WorkflowHandle } from '@temporalio/client';
import { spawnSync } from 'node:child_process';
import { ensureTemporalCli } from '../../lib/temporal-server.ts';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  KdAppSpec,
  KdClusterSpec,
  clusterStartOptions,
  statusQuery,
  type ClusterInput,
  type ClusterStatus,
  type KdAppSpecInput,
} from '../../api/index.ts';
import type { ClusterOptions, clusterWorkflow } from '../../workflows/cluster.ts';
import { PLANNER_VERSION } from '../../workflows/planners.ts';
import type { Runtime } from '../../runtimes/runtime.ts';
import type { Harness } from '../../testing/harness.ts';

/** A startscript that records every argv it gets; `behaviour` is bash run before it exits. */
export async function writePackage(dir: string, behaviour = ''): Promise<string> {
  const pkg = path.join(dir, 'appconfig');
  await mkdir(pkg, { recursive: true });
  const script = `#!/usr/bin/env bash
echo "$*" >> "$GUESTCONFIG_DIR/events.log"
echo "ran $*"
${behaviour}
exit 0
`;
  await writeFile(path.join(pkg, 'startscript'), script);
  await chmod(path.join(pkg, 'startscript'), 0o755);
  return `file://${pkg}`;
}

export function testApp(packageURL: string, overrides: Partial<KdAppSpecInput> = {}): KdAppSpec {
  return KdAppSpec.parse({
    label: { name: 'test app' },
    distroID: 'test/app',
    version: '1',
    defaultImageRepoTag: 'test:1',
    defaultConfigPackage: { packageURL },
    roles: [
      { id: 'controller', cardinality: '1' },
      { id: 'worker', cardinality: '0+' },
    ],
    scriptTimeoutSeconds: 30,
    retry: { maximumAttempts: 2, initialIntervalSeconds: 0.1, backoffCoefficient: 1 },
    ...overrides,
  });
}

export async function startCluster(
  h: Harness<Runtime>,
  name: string,
  app: KdAppSpec,
  roles: Record<string, number>,
  namespace = 'default',
  options: ClusterOptions = {},
): Promise<WorkflowHandle<typeof clusterWorkflow>> {
  const spec = KdClusterSpec.parse({
    app: 'testapp',
    roles: Object.entries(roles).map(([id, members]) => ({ id, members })),
  });
  const input: ClusterInput = { namespace, name, appName: 'testapp', app, spec };
  return h.env.client.workflow.start<typeof clusterWorkflow>('clusterWorkflow', {
    taskQueue: h.taskQueue,
    args: [input, undefined, options],
    ...clusterStartOptions(input),
  });
}

/** Poll the status query until the predicate holds; the timeout is a hang guard, not an assertion on speed. */
export async function waitForStatus(
  handle: WorkflowHandle,
  predicate: (s: ClusterStatus) => boolean,
  timeoutMs = 120_000,
): Promise<ClusterStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: ClusterStatus | undefined;
  while (Date.now() < deadline) {
    try {
      last = await handle.query(statusQuery);
    } catch (error) {
      // A busy worker may not answer a query within the server's deadline: ask again (the deadline above is the hang guard).
      if (/query timed out|DEADLINE_EXCEEDED/.test(String((error as Error).cause ?? error))) continue;
      throw error;
    }
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`status never matched; last: ${JSON.stringify(last, null, 2)}`);
}

export const settled = (generation: number) => (s: ClusterStatus) =>
  s.observedGeneration >= generation && (s.phase === 'configured' || s.phase === 'config error');

export async function eventsLog(h: Harness, cluster: string, member: string, namespace = 'default'): Promise<string[]> {
  const file = path.join(h.runtime.memberRoot({ namespace, cluster, name: member }), 'opt/guestconfig/events.log');
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

export function memberStates(s: ClusterStatus): Record<string, string> {
  return Object.fromEntries(s.roles.flatMap((r) => r.members.map((m) => [m.name, m.state])));
}

export const REPLAY_DIR = path.join(import.meta.dirname, '..', 'replay', 'histories');
/** Fixtures are kept per planner version (docs/adr/0014): new recordings go to the current one's folder. */
export const replayDir = (version: number) => path.join(REPLAY_DIR, `v${version}`);

/** KDFLOW_RECORD_HISTORY=1 refreshes the replay fixtures from a real run (test/replay replays them). */
export async function recordHistory(h: Harness, handle: WorkflowHandle, name: string): Promise<void> {
  if (!process.env.KDFLOW_RECORD_HISTORY) return;
  const dir = replayDir(PLANNER_VERSION);
  await mkdir(dir, { recursive: true });
  // The Temporal CLI's JSON is the format historyFromJSON reads back.
  const shown = spawnSync(
    ensureTemporalCli(),
    ['workflow', 'show', '--workflow-id', handle.workflowId, '--address', h.env.address, '--output', 'json'],
    { encoding: 'utf8' },
  );
  if (shown.status !== 0) throw new Error(`temporal workflow show failed: ${shown.stderr}`);
  await writeFile(path.join(dir, `${name}.json`), shown.stdout);
}
