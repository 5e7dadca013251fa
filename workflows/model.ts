/**
 * The plain-JSON state the cluster workflow keeps (and carries across continue-as-new), and the
 * steps the planner hands it. No I/O here: this file is imported by the workflow sandbox.
 */
import type { EventName, KdAppSpec, KdClusterSpec, MemberState, ScriptRun } from '../api/index.ts';

export interface Member {
  name: string;
  role: string;
  ordinal: number;
  fqdn: string;
  state: MemberState;
  /** The runtime object (sandbox dir or pod) was created; false again after a retry, so it is re-ensured. */
  created: boolean;
  ready: boolean;
  /** Key of the topology its configmeta.json describes; '' before the first write. */
  configmeta: string;
  packageInstalled: boolean;
  /** Generation that created it. Members of one batch learn of each other from configmeta, not addnodes. */
  batch: number;
  /** Its --addnodes went out to the members that were there before it. */
  announced: boolean;
  /** As a leaver: the survivors' --delnodes about it went out. */
  delnodesSent: boolean;
  /** Notifies that failed on this member, kept for `kdflow retry`. */
  failedNotifies: Notify[];
  /** Notifies queued to run again on this member. */
  retryNotifies: Notify[];
  lastError?: string;
  /** Its latest script runs, newest last (capped). */
  events: ScriptRun[];
}

export interface Notify {
  event: Exclude<EventName, 'configure'>;
  role: string;
  fqdns: string[];
}

export interface Desired {
  namespace: string;
  name: string;
  app: KdAppSpec;
  spec: KdClusterSpec;
  generation: number;
}

export interface MemberRef {
  name: string;
  role: string;
  ordinal: number;
}

/** What the planner asks for next. `mark*` steps only change state; the others run activities. */
export type Step =
  | { kind: 'createMembers'; batch: number; members: MemberRef[] }
  | { kind: 'awaitReady'; members: string[] }
  | { kind: 'writeConfigmeta'; members: string[]; topology: string }
  | { kind: 'installPackage'; role: string; packageURL: string; members: string[] }
  | { kind: 'runEvent'; event: EventName; role: string; argv: string[]; targets: string[]; about: string[]; retry?: boolean }
  | { kind: 'markConfigured'; role: string; members: string[] }
  | { kind: 'markAnnounced'; members: string[] }
  | { kind: 'markLeaving'; role: string; members: string[] }
  | { kind: 'removeMembers'; role: string; members: string[] };

/** How a step went, member by member. A member absent from `failed` succeeded. */
export interface StepOutcome {
  failed: Record<string, string>;
  runs: Record<string, ScriptRun>;
}

export const succeeded: StepOutcome = { failed: {}, runs: {} };
