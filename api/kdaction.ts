/**
 * The `KdAction` custom resource (docs/adr/0050): one run of a cluster's custom action, asked for
 * with kubectl. Its spec is the `runAction` request with the cluster's name beside it; the request
 * itself is checked by the one check of api/actions.ts, in the shim and again in the workflow.
 * Its status is what the shim writes back: the operation's id, how it went, each member's result.
 */
import { z } from 'zod';
import type { RunActionRequest } from './actions.ts';
import { ClusterName } from './common.ts';

export const KdActionSpec = z.object({
  /** The KdCluster (in the KdAction's namespace) the action runs on. */
  cluster: ClusterName('spec.cluster'),
  /** One of the actions its app declares. */
  action: z.string().min(1),
  role: z.string().optional(),
  members: z.array(z.string()).optional(),
  /** Values as YAML writes them (`files: 3`, `force: true`); the action's declared types check them. */
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
});
export type KdActionSpec = z.infer<typeof KdActionSpec>;

export const KDACTION_PHASES = ['Running', 'Succeeded', 'Failed'] as const;
/** Per-member rows a KdAction's status keeps; the rest are counted in `resultsOmitted`. */
export const KDACTION_RESULTS_MAX = 50;

export const KdActionMemberResult = z.object({
  member: z.string(),
  role: z.string(),
  exitCode: z.number().int().nullable(),
  error: z.string().optional(),
  finishedAt: z.string(),
});
export type KdActionMemberResult = z.infer<typeof KdActionMemberResult>;

export const KdActionCrStatus = z.object({
  phase: z.enum(KDACTION_PHASES).optional(),
  /** The cluster's operation id (`compact-3`): the one `kdflow get`, `history` and `logs` show. */
  id: z.string().optional(),
  workflowId: z.string().optional(),
  targets: z.number().int().optional(),
  succeeded: z.number().int().optional(),
  failed: z.number().int().optional(),
  results: z.array(KdActionMemberResult).optional(),
  resultsOmitted: z.number().int().optional(),
  /** The refusal (field, value, what is accepted), or the outcome in one line. */
  message: z.string().optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
});
export type KdActionCrStatus = z.infer<typeof KdActionCrStatus>;

/**
 * The `runAction` request of a KdAction. `requestId` is the object's uid: the workflow answers a
 * request it has queued already with that operation instead of queueing it twice.
 */
export function kdActionRequest(spec: KdActionSpec, uid: string): RunActionRequest {
  return {
    action: spec.action,
    ...(spec.role !== undefined ? { role: spec.role } : {}),
    ...(spec.members !== undefined ? { members: spec.members } : {}),
    params: { ...spec.params },
    requestId: uid,
  };
}
