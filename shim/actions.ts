/**
 * KdAction objects → custom actions (docs/adr/0050). A new KdAction is checked with the CLI's own
 * check (api/actions.ts, against the app and members its cluster's workflow has), then started with
 * the `runAction` update exactly once: the update's id and its `requestId` are the object's uid, so a
 * shim that restarts, or a new leader, before the id is written down gets the same operation back.
 * While it runs, each tick reads the cluster's status when it moved and writes the action's counts
 * and each member's result onto the KdAction; a finished KdAction is never looked at again.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import {
  KDACTION_RESULTS_MAX,
  KdActionSpec,
  clusterWorkflowId,
  formatIssues,
  kdActionRequest,
  stableJson,
  statusVersionQuery,
  zodIssues,
  type ActionStatus,
  type ClusterStatus,
  type FieldIssue,
  type KdActionCrStatus,
} from '../api/index.ts';
import { fullStatus } from '../lib/cluster-status.ts';
import { startAction } from '../lib/start-action.ts';
import { recordEvent } from './events.ts';
import type { ForwardDeps } from './forward.ts';
import { KINDS, crApi, keyOf, type CrObject } from './resources.ts';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const oneLine = (issues: FieldIssue[]) => formatIssues(issues).replaceAll('\n', '; ');

export const isFinished = (status: KdActionCrStatus | undefined) =>
  status?.phase === 'Succeeded' || status?.phase === 'Failed';

/** Pure: the KdAction's status from the cluster's status, merging the member results read earlier. */
export function actionCrStatus(
  current: KdActionCrStatus,
  action: ActionStatus,
  cluster: ClusterStatus,
): KdActionCrStatus {
  const rows = new Map((current.results ?? []).map((r) => [r.member, r]));
  // Every member known to have run it: the rows kept, and those past the bound (counted, once each).
  const ran = new Set(rows.keys());
  for (const role of cluster.roles)
    for (const m of role.members) {
      const last = m.lastAction;
      if (last?.id !== action.id || rows.has(m.name)) continue;
      ran.add(m.name);
      if (rows.size >= KDACTION_RESULTS_MAX) continue;
      rows.set(m.name, {
        member: m.name,
        role: role.id,
        exitCode: last.exitCode,
        ...(last.error ? { error: last.error } : {}),
        finishedAt: last.finishedAt,
      });
    }
  const omitted = Math.max(current.resultsOmitted ?? 0, ran.size - rows.size);
  const finished = action.finishedAt !== undefined;
  const summary = `action ${action.id} ${action.state}: ${action.succeeded} of ${action.targets} succeeded`;
  return {
    ...current,
    phase: finished ? (action.state === 'succeeded' ? 'Succeeded' : 'Failed') : 'Running',
    targets: action.targets,
    succeeded: action.succeeded,
    failed: action.failed,
    results: [...rows.values()].sort((a, b) => a.member.localeCompare(b.member)),
    ...(omitted > 0 ? { resultsOmitted: omitted } : {}),
    message: finished
      ? `${summary}${action.failures.length > 0 ? `; ${action.failures.join('; ')}` : ''}`
      : `${action.state} on ${action.targets} member(s)`,
    ...(action.finishedAt ? { finishedAt: action.finishedAt } : {}),
  };
}

/** Starts and follows KdActions for one leader; what it wrote last is newer than a copy the watch has not updated yet. */
export class ActionRunner {
  private readonly deps: ForwardDeps;
  /** By uid: the status this leader wrote last. */
  private readonly written = new Map<string, KdActionCrStatus>();
  /** By uid: the cluster's status version read last. */
  private readonly versions = new Map<string, number>();
  constructor(deps: ForwardDeps) {
    this.deps = deps;
  }

  forget(cr: CrObject): void {
    const uid = cr.metadata.uid ?? '';
    this.written.delete(uid);
    this.versions.delete(uid);
  }

  /** The status as this leader knows it: its own last write, else the object's. */
  statusOf(cr: CrObject): KdActionCrStatus {
    return this.written.get(cr.metadata.uid ?? '') ?? ((cr.status ?? {}) as KdActionCrStatus);
  }

  async reconcile(cr: CrObject): Promise<void> {
    if (cr.metadata.deletionTimestamp || !cr.metadata.uid) return;
    const status = this.statusOf(cr);
    if (isFinished(status)) return;
    if (status.id) return this.follow(cr, status);
    return this.start(cr);
  }

  private async start(cr: CrObject): Promise<void> {
    const uid = cr.metadata.uid as string;
    const namespace = cr.metadata.namespace ?? 'default';
    const parsed = KdActionSpec.safeParse(cr.spec);
    if (!parsed.success) return this.refuse(cr, oneLine(zodIssues(parsed.error, ['spec'], cr.spec)));
    const spec = parsed.data;
    const workflowId = clusterWorkflowId(namespace, spec.cluster);
    const handle = this.deps.client.workflow.getHandle(workflowId);
    const request = kdActionRequest(spec, uid);
    // Owned first, so that a refused KdAction goes with its cluster too.
    await this.ownByCluster(cr, spec.cluster);
    let result;
    try {
      // Refused before anything is sent or runs: the CLI's own check, with the object's field names.
      result = await startAction(handle, request, `kdaction-${uid}`);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError)
        return this.refuse(
          cr,
          `spec.cluster: got "${spec.cluster}"; no cluster of that name in namespace ${namespace}`,
        );
      // The workflow's own check (the cluster changed in between, or is being deleted).
      if (error instanceof WorkflowUpdateFailedError) return this.refuse(cr, error.cause?.message ?? error.message);
      throw error;
    }
    if ('issues' in result)
      return this.refuse(cr, oneLine(result.issues.map((i) => ({ ...i, path: `spec.${i.path}` }))));
    const { started } = result;
    const status: KdActionCrStatus = {
      phase: 'Running',
      id: started.id,
      workflowId,
      targets: started.targets,
      succeeded: 0,
      failed: 0,
      message: `started on ${started.targets} member(s)`,
      startedAt: new Date().toISOString(),
    };
    await this.write(cr, status);
    await recordEvent(
      this.deps.core,
      this.deps.logger,
      cr,
      'Normal',
      'Started',
      `action ${started.id} started on ${started.targets} member(s) of cluster ${spec.cluster}`,
      KINDS.action.kind,
    );
    this.deps.logger.info({ action: keyOf(cr), id: started.id, targets: started.targets }, 'action started');
  }

  private async follow(cr: CrObject, status: KdActionCrStatus): Promise<void> {
    const uid = cr.metadata.uid as string;
    const handle = this.deps.client.workflow.getHandle(status.workflowId ?? '');
    let cluster: ClusterStatus;
    try {
      const version = await handle.query(statusVersionQuery);
      if (this.versions.get(uid) === version) return;
      cluster = await fullStatus(handle);
      this.versions.set(uid, version);
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      return this.finish(cr, {
        ...status,
        phase: 'Failed',
        message: `the cluster's workflow is gone; action ${status.id} did not finish`,
      });
    }
    const action = cluster.actions?.find((a) => a.id === status.id);
    if (!action)
      return this.finish(cr, {
        ...status,
        phase: 'Failed',
        message: `action ${status.id} is no longer in the cluster's status (it keeps the newest few); its outcome is in kdflow history`,
      });
    const next = actionCrStatus(status, action, cluster);
    if (isFinished(next)) return this.finish(cr, next);
    if (stableJson(next) !== stableJson(status)) await this.write(cr, next);
  }

  private async refuse(cr: CrObject, message: string): Promise<void> {
    await this.finish(cr, { phase: 'Failed', message, finishedAt: new Date().toISOString() });
    this.deps.logger.warn({ action: keyOf(cr), message }, 'action refused; nothing ran');
  }

  private async finish(cr: CrObject, status: KdActionCrStatus): Promise<void> {
    const final = { ...status, finishedAt: status.finishedAt ?? new Date().toISOString() };
    await this.write(cr, final);
    const ok = final.phase === 'Succeeded';
    await recordEvent(
      this.deps.core,
      this.deps.logger,
      cr,
      ok ? 'Normal' : 'Warning',
      ok ? 'Succeeded' : 'Failed',
      final.message ?? '',
      KINDS.action.kind,
    );
  }

  private async write(cr: CrObject, status: KdActionCrStatus): Promise<void> {
    await this.deps.custom.patchNamespacedCustomObjectStatus(
      {
        ...crApi(KINDS.action.plural),
        namespace: cr.metadata.namespace ?? 'default',
        name: cr.metadata.name,
        body: { status },
      },
      mergePatch,
    );
    this.written.set(cr.metadata.uid as string, status);
  }

  /** The KdCluster owns the KdAction, so deleting the cluster deletes its actions (Kubernetes' garbage collector). */
  private async ownByCluster(cr: CrObject, cluster: string): Promise<void> {
    const namespace = cr.metadata.namespace ?? 'default';
    let owner: CrObject;
    try {
      owner = (await this.deps.custom.getNamespacedCustomObject({
        ...crApi(KINDS.cluster.plural),
        namespace,
        name: cluster,
      })) as CrObject;
    } catch (error) {
      // A cluster made with the CLI has no KdCluster: the KdAction stays until deleted.
      if ((error as { code?: number }).code === 404) return;
      throw error;
    }
    const owners = cr.metadata.ownerReferences ?? [];
    if (owners.some((o) => o.uid === owner.metadata.uid)) return;
    await this.deps.custom.patchNamespacedCustomObject(
      {
        ...crApi(KINDS.action.plural),
        namespace,
        name: cr.metadata.name,
        body: {
          metadata: {
            ownerReferences: [
              ...owners,
              { apiVersion: owner.apiVersion, kind: KINDS.cluster.kind, name: cluster, uid: owner.metadata.uid },
            ],
          },
        },
      },
      mergePatch,
    );
  }
}
