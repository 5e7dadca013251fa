import { z } from 'zod';
import { ScriptEvent } from './common.ts';
import { CLUSTER_PHASES, MEMBER_STATES } from './fields.ts';
import { ON_FAILURE, ROLLOUT_KINDS, ROLLOUT_PHASES } from './rolling.ts';

/** KubeDirector's member states, kept verbatim so its users read them without a glossary. */
export const MemberState = z.enum(MEMBER_STATES);
export type MemberState = z.infer<typeof MemberState>;

/** `config error` is a settled cluster with at least one member in config error (fields.ts). */
export const ClusterPhase = z.enum(CLUSTER_PHASES);
export type ClusterPhase = z.infer<typeof ClusterPhase>;

/** How a script run ended, as status and history both show it (one shape, spread where its fields stand). */
const runOutcome = {
  exitCode: z.number().int().nullable(),
  attempts: z.number().int(),
  startedAt: z.string(),
  finishedAt: z.string(),
  /** Why it failed, in one short line. */
  error: z.string().optional(),
};

/**
 * A member's last run of one event, as status shows it. O(1) in the cluster's size: no argv (it is
 * derived from `about`), no output (that is in the member's files and in the activity's result in
 * Temporal's history, which `kdflow logs` and `kdflow history` read).
 */
export const ScriptRun = z.object({
  runId: z.string(),
  event: ScriptEvent,
  /** For a notify: which members it was about, such as `worker 3-5`. */
  about: z.string().optional(),
  ...runOutcome,
});
export type ScriptRun = z.infer<typeof ScriptRun>;

/** A member's part in the newest custom action that ran on it (docs/adr/0050). */
export const MemberActionResult = z.object({
  /** The action's operation id, such as `compact-3`. */
  id: z.string(),
  exitCode: z.number().int().nullable(),
  attempts: z.number().int(),
  startedAt: z.string(),
  finishedAt: z.string(),
  error: z.string().optional(),
});
export type MemberActionResult = z.infer<typeof MemberActionResult>;

/** A custom action as one operation: queued, running, then how it went (docs/adr/0050). */
export const ActionStatus = z.object({
  id: z.string(),
  action: z.string(),
  params: z.array(z.tuple([z.string(), z.string()])),
  state: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']),
  targets: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  /** Failed members first, a few: `name: error`. */
  failures: z.array(z.string()),
  requestedAt: z.string(),
  finishedAt: z.string().optional(),
});
export type ActionStatus = z.infer<typeof ActionStatus>;

export const MemberStatus = z.object({
  name: z.string(),
  role: z.string(),
  ordinal: z.number().int(),
  fqdn: z.string(),
  state: MemberState,
  ready: z.boolean(),
  lastError: z.string().optional(),
  /** Configured, but its --configure exited 0 with a stderr line such as `command not found` (docs/adr/0028). */
  warning: z.string().optional(),
  /** The last run of each event, oldest first. */
  events: z.array(ScriptRun),
  /** How often it was healed lately (its container died and was re-created: docs/adr/0049). */
  heals: z.number().int().optional(),
  /** Its result in the newest custom action that ran on it. */
  lastAction: MemberActionResult.optional(),
});
export type MemberStatus = z.infer<typeof MemberStatus>;

export const RoleStatus = z.object({
  id: z.string(),
  desired: z.number().int(),
  /** Counts over every member of the role, whichever page `members` holds. */
  total: z.number().int(),
  ready: z.number().int(),
  configured: z.number().int(),
  members: z.array(MemberStatus),
});
export type RoleStatus = z.infer<typeof RoleStatus>;

/** Which members a status answer lists: a window of the members in role order, then ordinal. */
export const StatusPage = z.object({ offset: z.number().int(), limit: z.number().int(), total: z.number().int() });
export type StatusPage = z.infer<typeof StatusPage>;

/** The status query's argument; absent means the first page. */
export interface StatusRequest {
  offset?: number;
  limit?: number;
}

export const Rejection = z.object({
  generation: z.number().int().optional(),
  reason: z.string(),
  at: z.string(),
});
export type Rejection = z.infer<typeof Rejection>;

/** The rolling operation in flight, or the last one (api/rolling.ts, docs/adr/0037). */
export const RolloutStatusSchema = z.object({
  kind: z.enum(ROLLOUT_KINDS),
  from: z.string(),
  to: z.string(),
  phase: z.enum(ROLLOUT_PHASES),
  done: z.number().int(),
  total: z.number().int(),
  rolledBack: z.number().int(),
  toRollBack: z.number().int(),
  current: z.array(z.string()),
  failed: z.object({ member: z.string(), error: z.string() }).optional(),
  maxUnavailable: z.number().int(),
  onFailure: z.enum(ON_FAILURE),
  roleOrder: z.array(z.string()).optional(),
  cancelled: z.boolean().optional(),
});

/** How a cluster hook's last run went (docs/adr/0053). */
export const HookStatus = z.object({
  state: z.enum(['succeeded', 'failed', 'skipped']),
  member: z.string().optional(),
  ...runOutcome,
});
export type HookStatus = z.infer<typeof HookStatus>;

export const ClusterStatus = z.object({
  name: z.string(),
  namespace: z.string(),
  app: z.string(),
  /** The app version the cluster runs (its snapshot's spec.version): the version it pins in the catalog. */
  appVersion: z.string().optional(),
  rollout: RolloutStatusSchema.optional(),
  phase: ClusterPhase,
  generation: z.number().int(),
  observedGeneration: z.number().int(),
  roles: z.array(RoleStatus),
  page: StatusPage,
  operation: z.string().optional(),
  lastRejection: Rejection.optional(),
  lastError: z.string().optional(),
  /** The newest self-heal, one line: who died, why, when, and what was done (docs/adr/0049). */
  lastHeal: z.string().optional(),
  /** Custom actions: queued and running ones, then the newest finished ones (a few). */
  actions: z.array(ActionStatus).optional(),
  /** How the runtime keeps members, as its last launch said (the local runtime: containment and member network, docs/adr/0046). */
  runtime: z.string().optional(),
  /** Cluster hooks that ran: postProvision, and preTerminate in a deleted cluster's final status. */
  hooks: z.object({ postProvision: HookStatus.optional(), preTerminate: HookStatus.optional() }).optional(),
});
export type ClusterStatus = z.infer<typeof ClusterStatus>;

/**
 * One line of `kdflow history`: a script run as Temporal's event history recorded it (the runScript
 * activity's input and result), across continue-as-new runs.
 */
export const HistoryEntry = z.object({
  member: z.string(),
  runId: z.string(),
  /** A lifecycle event, `reconnect`, or `action-NAME` for a custom action (docs/adr/0044, 0050). */
  event: z.string(),
  argv: z.array(z.string()),
  ...runOutcome,
  /** Exit 0 with a suspicious stderr line (docs/adr/0028). */
  warning: z.string().optional(),
  stdoutTail: z.string().optional(),
  stderrTail: z.string().optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;
