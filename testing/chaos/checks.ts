/**
 * Invariants checked against the real world, not only against what the workflow says: member
 * directories on disk and keep-alive processes in /proc (on Kubernetes: pods, PVCs and Services
 * through the API, and every pod each member ever had), and the startscript's own ledger.
 */
import path from 'node:path';
import { deleteSignal, memberName, type ClusterStatus, type HistoryEntry } from '../../api/index.ts';
import { scriptHistory } from '../../lib/script-history.ts';
import { childrenOf, isInside, processes } from '../processes.ts';
import type { ChaosEnv } from './env.ts';
import type { KubeWorld } from './kube-world.ts';
import {
  NAMESPACE,
  bounded,
  memberNames,
  repeatedRunIds,
  waitClosed,
  type ClusterHandle,
  type LedgerLine,
} from './fixtures.ts';

export interface Observed {
  /** Member directories under $KDFLOW_HOME/members/<ns>/<cluster>/. */
  dirs: string[];
  /** Member name → number of keep-alive processes tagged with it. */
  keepalives: Map<string, number>;
  /** Other processes whose cwd is inside the cluster's directory (scripts still running). */
  strays: string[];
}

export async function observeCluster(env: ChaosEnv, cluster: string): Promise<Observed> {
  const clusterDir = path.join(env.home, 'members', NAMESPACE, cluster);
  const dirs = (await env.runtime.listMembers(NAMESPACE, cluster)).sort();
  const tag = `kdflow-keepalive:${NAMESPACE}/${cluster}/`;
  const inCluster = await processes((p) => isInside(clusterDir, p.cwd));
  const keepalives = new Map<string, number>();
  const keepalivePids = new Set<number>();
  for (const p of inCluster) {
    if (!p.argv[0]?.startsWith(tag)) continue;
    const member = p.argv[0].slice(tag.length);
    keepalives.set(member, (keepalives.get(member) ?? 0) + 1);
    keepalivePids.add(p.pid);
  }
  // In a per-member pid namespace the keep-alive's child is the namespace's init (docs/adr/0015): part of it.
  const namespaceInits = new Set([...keepalivePids].flatMap(childrenOf));
  const strays = inCluster
    .filter((p) => !keepalivePids.has(p.pid) && !(namespaceInits.has(p.pid) && p.argv.includes('infinity')))
    .map((p) => `${p.pid} ${p.argv.join(' ').trim()}`);
  return { dirs, keepalives, strays };
}

export function expectedNames(cluster: string, counts: Record<string, number>): string[] {
  return Object.entries(counts)
    .flatMap(([role, n]) => Array.from({ length: n }, (_, i) => memberName(cluster, role, i)))
    .sort();
}

/** A settled, configured cluster with exactly the members the spec asks for, each existing once. */
export async function checkConverged(
  env: ChaosEnv,
  cluster: string,
  status: ClusterStatus,
  counts: Record<string, number>,
  /** Members whose pod was deleted by hand: they may have had a second pod (Kubernetes only). */
  recreated: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const problems: string[] = [];
  const want = expectedNames(cluster, counts);
  const have = memberNames(status).sort();
  if (status.phase !== 'configured')
    problems.push(`phase is ${status.phase}, not configured${status.lastError ? ` (${status.lastError})` : ''}`);
  if (status.observedGeneration !== status.generation)
    problems.push(`observed generation ${status.observedGeneration} of ${status.generation}`);
  if (new Set(have).size !== have.length) problems.push(`duplicate members in status: ${have.join(',')}`);
  if (have.join(',') !== want.join(',')) problems.push(`status members ${have.join(',')} ≠ spec ${want.join(',')}`);
  for (const m of status.roles.flatMap((r) => r.members)) {
    if (m.state !== 'configured' || !m.ready)
      problems.push(
        `${m.name} is ${m.state}${m.ready ? '' : ' (not ready)'}${m.lastError ? `: ${m.lastError.split('\n')[0]}` : ''}`,
      );
  }
  if (env.kube) return [...problems, ...(await checkPods(env.kube, cluster, want, recreated))];
  const seen = await observeCluster(env, cluster);
  if (seen.dirs.join(',') !== want.join(','))
    problems.push(`member dirs on disk ${seen.dirs.join(',') || '(none)'} ≠ spec ${want.join(',')}`);
  for (const name of want)
    if ((seen.keepalives.get(name) ?? 0) !== 1)
      problems.push(`${name} has ${seen.keepalives.get(name) ?? 0} keep-alive processes`);
  for (const [name, n] of seen.keepalives)
    if (!want.includes(name)) problems.push(`${n} keep-alive process(es) left for removed member ${name}`);
  if (seen.strays.length > 0)
    problems.push(`processes still running in the cluster dir: ${seen.strays.slice(0, 3).join(' | ')}`);
  return problems;
}

/** On Kubernetes: one running pod per member, each the only pod its name ever had, and no script still running. */
async function checkPods(
  kube: KubeWorld,
  cluster: string,
  want: string[],
  recreated: ReadonlySet<string>,
): Promise<string[]> {
  const problems: string[] = [];
  const seen = await kube.observe(cluster);
  const have = [...seen.pods.keys()].sort();
  if (have.join(',') !== want.join(',')) problems.push(`pods ${have.join(',') || '(none)'} ≠ spec ${want.join(',')}`);
  for (const [name, pod] of seen.pods) if (!pod.running) problems.push(`pod ${name} is not running`);
  for (const name of have) {
    const ever = kube.podsEver(name);
    const allowed = recreated.has(name) ? 2 : 1;
    if (ever > allowed)
      problems.push(`member ${name} was created ${ever} times (pod uids), at most ${allowed} expected`);
  }
  if (seen.strays.length > 0)
    problems.push(`processes still running in the cluster's pods: ${seen.strays.slice(0, 3).join(' | ')}`);
  return problems;
}

/** After delete: no directory, no process (on Kubernetes: no pod, PVC or Service of the cluster, no script). */
export async function checkGone(env: ChaosEnv, cluster: string): Promise<string[]> {
  if (env.kube) {
    const seen = await env.kube.observe(cluster);
    const left = [
      ...[...seen.pods.keys()].map((p) => `pod ${p}`),
      ...seen.pvcs.map((p) => `PVC ${p}`),
      ...seen.services.map((s) => `service ${s}`),
    ];
    // With no pod left there is no container left: what ran in one ended with it (KubeWorld plays the kubelet).
    return left.length > 0 ? [`objects left after delete: ${left.join(', ')}`] : [];
  }
  const seen = await observeCluster(env, cluster);
  const problems: string[] = [];
  if (seen.dirs.length > 0) problems.push(`member dirs left after delete: ${seen.dirs.join(',')}`);
  for (const [name, n] of seen.keepalives) problems.push(`${n} keep-alive process(es) left for ${name} after delete`);
  if (seen.strays.length > 0) problems.push(`processes left after delete: ${seen.strays.slice(0, 3).join(' | ')}`);
  return problems;
}

export async function workflowHistory(handle: ClusterHandle): Promise<HistoryEntry[]> {
  return bounded(handle, 10_000, () => scriptHistory(handle.client, handle.workflowId));
}

/**
 * The ledger and the workflow agree: no script ran twice to completion (or even started twice) for
 * one run id; every run that completed is recorded with exit 0, and every recorded success ran.
 */
export function checkLedger(ledger: LedgerLine[], history: HistoryEntry[] | undefined): string[] {
  const problems: string[] = [];
  const doneTwice = repeatedRunIds(ledger, 'done');
  if (doneTwice.length > 0) problems.push(`ran twice to completion: ${doneTwice.join(', ')}`);
  const startedTwice = repeatedRunIds(ledger, 'start');
  if (startedTwice.length > 0) problems.push(`started twice: ${startedTwice.join(', ')}`);
  if (history) {
    const recorded = new Map(history.map((h) => [h.runId, h]));
    for (const line of ledger.filter((l) => l.kind === 'done')) {
      const entry = recorded.get(line.runId);
      if (!entry) problems.push(`${line.runId} ran but is not in the workflow's history`);
      else if (entry.exitCode !== 0)
        problems.push(`${line.runId} ran to exit 0 but is recorded with exit ${entry.exitCode}`);
    }
    const done = new Set(ledger.filter((l) => l.kind === 'done').map((l) => l.runId));
    for (const entry of history)
      if (entry.exitCode === 0 && !done.has(entry.runId))
        problems.push(`${entry.runId} is recorded as exit 0 but never ran to the end`);
  }
  return problems;
}

/** Ledger `done` lines of one member for an event, such as "--addnodes". */
export function doneEvents(ledger: LedgerLine[], member: string, option: string): LedgerLine[] {
  return ledger.filter((l) => l.kind === 'done' && l.member === member && l.argv.startsWith(option));
}

/** Deletes the cluster, waits for its workflow to close, and returns what did not go: a workflow that stays open is a problem too. */
export async function deleteAndCheckGone(env: ChaosEnv, handle: ClusterHandle, cluster: string): Promise<string[]> {
  const problems: string[] = [];
  await handle.signal(deleteSignal);
  await waitClosed(handle, 120_000).catch((error: Error) => problems.push(error.message));
  problems.push(...(await checkGone(env, cluster)));
  return problems;
}
