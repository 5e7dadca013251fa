/**
 * Status back onto the CRs: every tick, each forwarded cluster's workflow is queried and the CR's
 * status written when it changed (through the status subresource). Phase changes and script runs
 * become Kubernetes Events; what was already told is kept in the status itself (`state`,
 * `reportedThrough`), so a restarted or new leader neither repeats nor skips a step.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { clusterWorkflowId, crStatusFrom, stableJson, type KdClusterCrStatus } from '../api/index.ts';
import { fullStatus } from '../lib/cluster-status.ts';
import { recordEvent, type EventType } from './events.ts';
import { patchClusterStatus, type ForwardDeps } from './forward.ts';
import { keyOf, type CrObject } from './resources.ts';

const SYNCED_FIELDS = ['state', 'workflowId', 'workflowGeneration', 'membersReady', 'roles', 'lastError', 'reportedThrough'] as const;

export class StatusSync {
  private readonly deps: ForwardDeps;
  constructor(deps: ForwardDeps) {
    this.deps = deps;
  }

  /** One pass over the clusters the watch knows. */
  async tick(clusters: CrObject[]): Promise<void> {
    await Promise.all(clusters.map((cr) => this.syncOne(cr).catch((error: unknown) => this.deps.logger.warn({ err: error, cluster: keyOf(cr) }, 'status sync failed'))));
  }

  private async syncOne(cr: CrObject): Promise<void> {
    const current = (cr.status ?? {}) as KdClusterCrStatus;
    if (current.observedGeneration === undefined || !current.workflowId) return;
    const handle = this.deps.client.workflow.getHandle(clusterWorkflowId(cr.metadata.namespace ?? 'default', cr.metadata.name));
    let status;
    try {
      status = await fullStatus(handle);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return;
      throw error;
    }
    // Each member's last run of each event: the script runs since the last report.
    const history = status.roles.flatMap((r) => r.members.flatMap((m) => m.events.map((run) => ({ ...run, member: m.name }))));
    const fresh = history.filter((run) => !current.reportedThrough || run.finishedAt > current.reportedThrough).sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
    const next = crStatusFrom(status, current.workflowId);
    // A refusal of the newest generation stays the last error until a change is accepted.
    const refused = current.conditions?.some((c) => c.type === 'Valid' && c.status === 'False');
    const desired: Record<string, unknown> = {
      ...next,
      lastError: refused ? current.lastError : (next.lastError ?? null),
      reportedThrough: fresh.at(-1)?.finishedAt ?? current.reportedThrough ?? null,
    };
    const changed = SYNCED_FIELDS.some((f) => stableJson(desired[f] ?? null) !== stableJson((current as Record<string, unknown>)[f] ?? null));
    if (!changed) return;
    // Status first: if telling the events fails half-way, a few go untold rather than told twice.
    await patchClusterStatus(this.deps, cr, desired);
    const events: [EventType, string, string][] = [];
    if (current.state !== status.phase) events.push([status.phase === 'config error' ? 'Warning' : 'Normal', 'Phase', current.state ? `${current.state} → ${status.phase}` : status.phase]);
    for (const run of fresh) {
      const ok = run.exitCode === 0;
      const outcome = ok ? 'exit 0' : run.exitCode === null ? (run.error ?? 'no exit code') : `exit ${run.exitCode}`;
      events.push([ok ? 'Normal' : 'Warning', ok ? 'ScriptSucceeded' : 'ScriptFailed', `${run.event} on ${run.member}: ${outcome}, attempt ${run.attempts} (${run.about ?? run.event})`]);
    }
    for (const [type, reason, message] of events) await recordEvent(this.deps.core, this.deps.logger, cr, type, reason, message);
  }
}
