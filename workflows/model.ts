/**
 * The plain-JSON state the cluster workflow keeps (and carries across continue-as-new), and the
 * steps the planner hands it. No I/O here: this file is imported by the workflow sandbox.
 *
 * Every member holds O(1) facts (docs/adr/0013): no argv, no output, no list of other members. What
 * a notify was about is an ordinal range; a name or FQDN is derived from cluster, role and ordinal.
 */
import type {
  EventName,
  KdAppSpec,
  KdClusterSpec,
  MemberState,
  NotifyAbout,
  OrdinalRange,
  ScriptEvent,
} from '../api/contract.ts';

export type NotifyEvent = Exclude<EventName, 'configure'>;

/** A member's last run of one event. */
export interface LastRun extends RunRecord {
  /** For a notify: the members it was about. */
  about?: NotifyAbout;
}

export interface Member {
  name: string;
  role: string;
  ordinal: number;
  state: MemberState;
  /** Created, ready, its package installed and a configmeta written: set by one launch, cleared by a retry. */
  launched: boolean;
  ready: boolean;
  /** Key of the topology its configmeta.json describes; '' before the first write. */
  topology: string;
  /** Launch batch. Members of one batch learn of each other from configmeta, not addnodes. */
  batch: number;
  /** Its --addnodes went out to the members that were there before it. */
  announced: boolean;
  /** As a leaver: the survivors' --delnodes about it went out. */
  delnodesSent: boolean;
  /** Notifies that failed on this member, kept for `kdflow retry`, pruned to what is still true: one per event and role at most. */
  failedNotifies: Notify[];
  /** Notifies queued to run again on this member. */
  retryNotifies: Notify[];
  /** One short line (MAX_ERROR_CHARS); the full output is in the member's files and in history. */
  lastError?: string;
  /**
   * KubeDirector's node id: from 1, never shared by two members at once, kept for the member's life
   * (a retry's re-launch included). Absent only in state from before node ids; see withNodeIds.
   */
  nodeId?: number;
  /** Configured, but its --configure looked suspicious (docs/adr/0028): one short line. */
  warning?: string;
  /**
   * Digest of the connected objects its scripts were last given (by --configure or --reconnect);
   * `!` before it: its --reconnect about them failed (docs/adr/0044). Absent: never connected.
   */
  connected?: string;
  runs: Partial<Record<ScriptEvent, LastRun>>;
}

export interface Notify {
  event: NotifyEvent;
  role: string;
  ordinals: OrdinalRange[];
}

export interface Desired {
  namespace: string;
  name: string;
  app: KdAppSpec;
  spec: KdClusterSpec;
  generation: number;
  /** Digest of the cluster's connected objects as last read; absent without connections (docs/adr/0044). */
  connections?: string;
}

export interface MemberRef {
  name: string;
  role: string;
  ordinal: number;
}

/**
 * What the planner asks for next. `mark*` steps only change state; the others run activities.
 * A member list is O(k) in the members the step touches; nothing in a step grows with the others.
 */
export type Step =
  /**
   * Create, wait until ready, write configmeta (describing `topology`) and install the package: one
   * activity. From planner v3, `refresh` names members launched before whose configmeta the same
   * activity rewrites to `topology` (what v2 did in a writeConfigmeta step right after).
   */
  | { kind: 'launchMembers'; batch: number; members: MemberRef[]; topology: string; refresh?: string[] }
  | { kind: 'writeConfigmeta'; members: string[]; topology: string }
  | {
      kind: 'runEvent';
      event: ScriptEvent;
      role: string;
      targets: string[];
      about?: OrdinalRange[];
      retry?: boolean;
      /** Only for a rolling operation's upgrade or rollback (workflows/plan-rolling.ts). */
      versions?: { from: string; to: string };
    }
  | { kind: 'markConfigured'; role: string; members: string[] }
  | { kind: 'markAnnounced'; members: string[] }
  | { kind: 'markLeaving'; role: string; members: string[] }
  | { kind: 'removeMembers'; role: string; members: string[] };

/** A finished script run as the workflow records it: O(1), whatever the cluster's size. Times in ms. */
export interface RunRecord {
  /** With seq, names the run: scriptRunId(namespace, cluster, generation, seq, member, event). */
  generation: number;
  seq: number;
  exitCode: number | null;
  attempts: number;
  startedAt: number;
  finishedAt: number;
}

/** How a step went, member by member. A member absent from `failed` succeeded. */
export interface StepOutcome {
  failed: Record<string, string>;
  runs: Record<string, RunRecord>;
  /** Succeeded runs whose output looked like a failure (a command not found), one short line each. */
  warnings?: Record<string, string>;
  /** What a launch said of the runtime (status shows it: docs/adr/0046). */
  runtime?: string;
}

export const succeeded: StepOutcome = { failed: {}, runs: {} };

/** Errors kept in state and status are one short line each: the rest is in history and the member's files. */
export const MAX_ERROR_CHARS = 160;

export function shortError(message: string): string {
  const line = message.split('\n')[0] ?? '';
  return line.length > MAX_ERROR_CHARS ? `${line.slice(0, MAX_ERROR_CHARS - 1)}…` : line;
}
