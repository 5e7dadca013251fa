/**
 * The status the CRD shim writes onto a KdCluster: what `kubectl get kdc` and `kubectl wait` read.
 * `observedGeneration` is the CR's own metadata.generation that the workflow has taken (or refused),
 * as Kubernetes conventions have it; the workflow's generation is kept beside it.
 */
import { z } from 'zod';
import { rolloutLine } from './rolling.ts';
import { ClusterPhase, MemberState, type ClusterStatus } from './status.ts';

export const Condition = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
  observedGeneration: z.number().int().optional(),
});
export type Condition = z.infer<typeof Condition>;

export const KdClusterCrStatus = z.object({
  state: ClusterPhase.optional(),
  /** The app version the cluster runs (its pinned version in the shared catalog). */
  appVersion: z.string().optional(),
  /** The rolling operation in flight or the last one, one line: `upgrade 1 → 2: rolling, 1/3 members, now …` (docs/adr/0037). */
  rollout: z.string().optional(),
  observedGeneration: z.number().int().optional(),
  workflowId: z.string().optional(),
  workflowGeneration: z.number().int().optional(),
  /** "ready/desired", for the MEMBERS printer column. */
  membersReady: z.string().optional(),
  roles: z
    .array(
      z.object({
        id: z.string(),
        desired: z.number().int(),
        members: z.array(
          z.object({
            name: z.string(),
            state: MemberState,
            fqdn: z.string().optional(),
            lastError: z.string().optional(),
          }),
        ),
      }),
    )
    .optional(),
  lastError: z.string().optional(),
  conditions: z.array(Condition).optional(),
  /** finishedAt of the newest script run already told as an Event, so a restarted shim neither repeats nor skips. */
  reportedThrough: z.string().optional(),
});
export type KdClusterCrStatus = z.infer<typeof KdClusterCrStatus>;

/** Pure: the workflow's status as the CR shows it. Ready means configured. */
export function crStatusFrom(status: ClusterStatus, workflowId: string): KdClusterCrStatus {
  const members = status.roles.flatMap((r) => r.members);
  const desired = status.roles.reduce((n, r) => n + r.desired, 0);
  // Counts cover every member, whichever page of them the status holds.
  const ready = status.roles.reduce((n, r) => n + r.configured, 0);
  const lastError = status.lastRejection?.reason ?? status.lastError ?? members.find((m) => m.lastError)?.lastError;
  return {
    state: status.phase,
    ...(status.appVersion ? { appVersion: status.appVersion } : {}),
    ...(status.rollout ? { rollout: rolloutLine(status.rollout) } : {}),
    workflowId,
    workflowGeneration: status.generation,
    membersReady: `${ready}/${desired}`,
    roles: status.roles.map((r) => ({
      id: r.id,
      desired: r.desired,
      members: r.members.map((m) => ({
        name: m.name,
        state: m.state,
        fqdn: m.fqdn,
        ...(m.lastError ? { lastError: m.lastError } : {}),
      })),
    })),
    ...(lastError ? { lastError } : {}),
  };
}

/** Sets one condition, keeping lastTransitionTime when its status did not change. */
export function withCondition(
  conditions: Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
  now: string,
): Condition[] {
  const old = (conditions ?? []).find((c) => c.type === next.type);
  const merged: Condition = {
    ...next,
    lastTransitionTime: old && old.status === next.status ? old.lastTransitionTime : now,
  };
  return [...(conditions ?? []).filter((c) => c.type !== next.type), merged];
}
