/**
 * Status back onto the CRs. Every tick, each forwarded cluster's workflow is asked for its status
 * version (one small query); the full status is read only when that number moved since this leader
 * last read it, and the CR's status is written (through the status subresource) only when it would
 * change. Phase changes and script runs become Kubernetes Events; what was already told is kept in
 * the status itself (`state`, `reportedThrough`), so a restarted or new leader neither repeats nor
 * skips a step.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  clusterWorkflowId,
  crStatusFrom,
  stableJson,
  statusVersionQuery,
  type ClusterStatus,
  type KdClusterCrStatus,
  type ScriptRun,
} from '../api/index.ts';
import { fullStatus } from '../lib/cluster-status.ts';
import { recordEvent, type EventType } from './events.ts';
import { patchClusterStatus, type ForwardDeps } from './forward.ts';
import { keyOf, type CrObject } from './resources.ts';

const SYNCED_FIELDS = [
  'state',
  'workflowId',
  'workflowGeneration',
  'membersReady',
  'roles',
  'lastError',
  'reportedThrough',
] as const;
/** Fields only this sync writes: what it wrote last is newer than a CR the watch has not updated yet. */
const OWN_FIELDS = ['state', 'workflowGeneration', 'membersReady', 'roles', 'reportedThrough'] as const;

/** What an Event tells of a member's last run of one event. */
export type TellableRun = Pick<ScriptRun, 'event' | 'about' | 'exitCode' | 'attempts' | 'finishedAt' | 'error'>;

interface Seen {
  version: number;
  status: ClusterStatus;
  written?: Record<string, unknown>;
}

/** Pure: the runs that ended after `reportedThrough`, oldest first, each with its member. */
export function runsToTell(
  status: ClusterStatus,
  reportedThrough: string | undefined,
): (TellableRun & { member: string })[] {
  // Each member's last run of each event: a run replaced before a tick read it is not told.
  const runs = status.roles.flatMap((role) =>
    role.members.flatMap((m) => m.events.map((run) => ({ ...run, member: m.name }))),
  );
  return runs
    .filter((run) => !reportedThrough || run.finishedAt > reportedThrough)
    .sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
}

/** Pure: the Event for one script run. */
export function runEvent(run: TellableRun & { member: string }): [EventType, string, string] {
  const ok = run.exitCode === 0;
  const outcome = ok ? 'exit 0' : run.exitCode === null ? (run.error ?? 'no exit code') : `exit ${run.exitCode}`;
  return [
    ok ? 'Normal' : 'Warning',
    ok ? 'ScriptSucceeded' : 'ScriptFailed',
    `${run.event} on ${run.member}: ${outcome}, attempt ${run.attempts}${run.about ? ` (about ${run.about})` : ''}`,
  ];
}

const laterOf = (a: string | undefined, b: string | undefined) => (a && b ? (a > b ? a : b) : (a ?? b));

export class StatusSync {
  private readonly deps: ForwardDeps;
  /** Per CR: the last status version and status read, and what this leader last wrote. */
  private readonly seen = new Map<string, Seen>();
  constructor(deps: ForwardDeps) {
    this.deps = deps;
  }

  /** One pass over the clusters the watch knows. */
  async tick(clusters: CrObject[]): Promise<void> {
    const present = new Set(clusters.map(keyOf));
    for (const key of this.seen.keys()) if (!present.has(key)) this.seen.delete(key);
    await Promise.all(
      clusters.map((cr) =>
        this.syncOne(cr).catch((error: unknown) =>
          this.deps.logger.warn({ err: error, cluster: keyOf(cr) }, 'status sync failed'),
        ),
      ),
    );
  }

  private async syncOne(cr: CrObject): Promise<void> {
    const watched = (cr.status ?? {}) as KdClusterCrStatus;
    if (watched.observedGeneration === undefined || !watched.workflowId) return;
    const key = keyOf(cr);
    const handle = this.deps.client.workflow.getHandle(
      clusterWorkflowId(cr.metadata.namespace ?? 'default', cr.metadata.name),
    );
    let seen = this.seen.get(key);
    try {
      // The version first: a status that changes between the two reads is read again next tick.
      const version = await handle.query(statusVersionQuery);
      if (!seen || seen.version !== version) seen = { ...seen, version, status: await fullStatus(handle) };
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return;
      throw error;
    }
    this.seen.set(key, seen);
    // The watch may not have brought back our last write yet; for the fields only we write, ours is newer.
    const current = {
      ...watched,
      ...seen.written,
      reportedThrough: laterOf(watched.reportedThrough, seen.written?.reportedThrough as string | undefined),
    } as KdClusterCrStatus;
    const { status } = seen;
    const fresh = runsToTell(status, current.reportedThrough);
    const next = crStatusFrom(status, watched.workflowId);
    // A refusal of the newest generation stays the last error until a change is accepted.
    const refused = watched.conditions?.some((c) => c.type === 'Valid' && c.status === 'False');
    const desired: Record<string, unknown> = {
      ...next,
      lastError: refused ? watched.lastError : (next.lastError ?? null),
      reportedThrough: fresh.at(-1)?.finishedAt ?? current.reportedThrough ?? null,
    };
    const changed = SYNCED_FIELDS.some(
      (f) => stableJson(desired[f] ?? null) !== stableJson((current as Record<string, unknown>)[f] ?? null),
    );
    if (!changed) return;
    // Status first: if telling the events fails half-way, a few go untold rather than told twice.
    await patchClusterStatus(this.deps, cr, desired);
    seen.written = Object.fromEntries(OWN_FIELDS.map((f) => [f, desired[f]]));
    const events: [EventType, string, string][] = [];
    if (current.state !== status.phase)
      events.push([
        status.phase === 'config error' ? 'Warning' : 'Normal',
        'Phase',
        current.state ? `${current.state} → ${status.phase}` : status.phase,
      ]);
    events.push(...fresh.map(runEvent));
    for (const [type, reason, message] of events)
      await recordEvent(this.deps.core, this.deps.logger, cr, type, reason, message);
  }
}
