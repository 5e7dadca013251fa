/** Two versions of a test app and readers of what a rolling operation did (docs/adr/0037). */
import type { WorkflowHandle } from '@temporalio/client';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import {
  EVENTS,
  upgradeUpdate,
  type ClusterStatus,
  type HistoryEntry,
  type KdAppSpec,
  type UpgradeRequest,
} from '../../api/index.ts';
import { scriptHistory } from '../../lib/script-history.ts';
import type { Harness } from '../../testing/harness.ts';
import { testApp, writePackage } from './cluster.ts';

const ROLLING = new Set(['upgrade', 'rollback', 'reconfigure', 'restart']);

/**
 * Version 1 and 2 of the test app, every event in their eventList. Each version's startscript also
 * writes `v<N> ARGV` to versions.log, so a member's file says which package ran what; `v2` (bash) runs
 * in version 2's startscript before it exits.
 */
export async function twoVersions(h: Harness, name: string, v2 = '', v1 = '') {
  const log = (n: number) => `echo "v${n} $*" >> "$GUESTCONFIG_DIR/versions.log"`;
  const app = async (n: number, behaviour: string) =>
    testApp(await writePackage(path.join(h.home, name, `v${n}`), `${log(n)}\n${behaviour}`), {
      version: String(n),
      defaultEventList: [...EVENTS],
    });
  return { app1: await app(1, v1), app2: await app(2, v2) };
}

export const upgradeTo = (app: KdAppSpec, options: Partial<UpgradeRequest> = {}): UpgradeRequest => ({
  to: { name: 'testapp', version: app.version, app },
  ...options,
});

export function upgrade(handle: WorkflowHandle, app: KdAppSpec, options: Partial<UpgradeRequest> = {}) {
  return handle.executeUpdate(upgradeUpdate, { args: [upgradeTo(app, options)] });
}

/** The rolling events' runs in the order they were recorded: `member argv… exit`. */
export async function rollingRuns(h: Harness, handle: WorkflowHandle): Promise<string[]> {
  const entries: HistoryEntry[] = await scriptHistory(h.env.client.workflow, handle.workflowId, { limit: Infinity });
  return entries
    .filter((e) => ROLLING.has(e.event))
    .map((e) => `${e.member.replace(/^.*?-(controller|worker)-/, '$1-')} ${e.argv.join(' ')} ${e.exitCode ?? 'none'}`);
}

/** The lines `v<N> ARGV` a member's startscripts wrote. */
export async function versionsLog(h: Harness, cluster: string, member: string): Promise<string[]> {
  const file = path.join(
    h.runtime.memberRoot({ namespace: 'default', cluster, name: member }),
    'opt/guestconfig/versions.log',
  );
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

/** A rolling operation has ended (done, rolled back, paused, failed) and nothing runs. */
export const rolloutEnded = (s: ClusterStatus) =>
  s.operation === undefined && s.rollout !== undefined && !['rolling', 'rolling back'].includes(s.rollout.phase);

/**
 * Every member in `order` (`worker-0`, …) ran `line` (`v2 --upgrade --from 1 --to 2`: version and
 * argv, as versions.log has it) exactly once, and the history recorded those runs in that order:
 * none twice, none skipped.
 */
export async function expectEachOnceInOrder(
  h: Harness,
  handle: WorkflowHandle,
  cluster: string,
  line: string,
  order: string[],
): Promise<void> {
  for (const m of order)
    expect((await versionsLog(h, cluster, `${cluster}-${m}`)).filter((l) => l.includes(line))).toHaveLength(1);
  const argv = line.replace(/^v\d+ /, '');
  const runs = (await rollingRuns(h, handle)).filter((r) => r.includes(argv));
  expect(runs.map((r) => r.split(' ')[0])).toEqual(order);
}
