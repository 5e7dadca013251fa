import { z } from 'zod';
import { EventName } from './common.ts';

/** KubeDirector's member states, kept verbatim so its users read them without a glossary. */
export const MemberState = z.enum(['create pending', 'creating', 'configured', 'config error', 'delete pending', 'deleting']);
export type MemberState = z.infer<typeof MemberState>;

/** `config error` is a settled cluster with at least one member in config error. */
export const ClusterPhase = z.enum(['creating', 'configured', 'updating', 'config error', 'deleting', 'deleted']);
export type ClusterPhase = z.infer<typeof ClusterPhase>;

/** One startscript run, as it ended. Output tails are capped so status stays small. */
export const ScriptRun = z.object({
  runId: z.string(),
  event: EventName,
  argv: z.array(z.string()),
  exitCode: z.number().int().nullable(),
  attempts: z.number().int(),
  startedAt: z.string(),
  finishedAt: z.string(),
  error: z.string().optional(),
  stdoutTail: z.string().optional(),
  stderrTail: z.string().optional(),
});
export type ScriptRun = z.infer<typeof ScriptRun>;

export const MemberStatus = z.object({
  name: z.string(),
  role: z.string(),
  ordinal: z.number().int(),
  fqdn: z.string(),
  state: MemberState,
  ready: z.boolean(),
  lastError: z.string().optional(),
  events: z.array(ScriptRun),
});
export type MemberStatus = z.infer<typeof MemberStatus>;

export const RoleStatus = z.object({
  id: z.string(),
  desired: z.number().int(),
  members: z.array(MemberStatus),
});

export const Rejection = z.object({
  generation: z.number().int().optional(),
  reason: z.string(),
  at: z.string(),
});
export type Rejection = z.infer<typeof Rejection>;

export const ClusterStatus = z.object({
  name: z.string(),
  namespace: z.string(),
  app: z.string(),
  phase: ClusterPhase,
  generation: z.number().int(),
  observedGeneration: z.number().int(),
  roles: z.array(RoleStatus),
  operation: z.string().optional(),
  lastRejection: Rejection.optional(),
  lastError: z.string().optional(),
});
export type ClusterStatus = z.infer<typeof ClusterStatus>;

/** One line of `kdflow history`: a script run, tagged with its member. */
export const HistoryEntry = ScriptRun.extend({ member: z.string() });
export type HistoryEntry = z.infer<typeof HistoryEntry>;
