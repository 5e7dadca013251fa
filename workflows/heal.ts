/**
 * Self-healing members (docs/adr/0049). A worker's heal watch reports a member whose container died
 * (the `memberDown` signal); the workflow queues it once (several workers report the same death),
 * and between operations checks it with the runtime (`probeMembers`) and heals it the way `kdflow
 * retry` re-creates a dead member: same name, node id and volume, launched again and configured. A
 * member that keeps dying is healed with backoff and, past a bound, left in `config error` with the
 * reason. The bookkeeping is O(1) per member that died lately; every decision here is pure.
 */
import { isCancellation } from '@temporalio/workflow';
import type { MemberDownReport } from '../api/contract.ts';
import { shortError, type Desired, type Member } from './model.ts';
import { isLive } from './plan.ts';
import { failureMessage, probe, target } from './steps.ts';
import { listed } from './summaries.ts';

/** A report the workflow has yet to check: at most one per member. Times are workflow time, in ms. */
export interface PendingHeal {
  member: string;
  reason: string;
  /** Backoff: not checked (nor healed) before this. */
  notBefore: number;
}

/** A member healed lately: how often within the window, and when last. */
export interface HealRecord {
  member: string;
  count: number;
  at: number;
}

/** What the cluster state keeps for healing; absent in state from before self-healing. */
export interface HealState {
  healing?: PendingHeal[];
  heals?: HealRecord[];
  /** One line for status and the Web UI: the newest heal, or why a member is no longer healed. */
  lastHeal?: string;
}

export interface HealPolicy {
  /** Heals within the window before a member that dies again is left in config error. */
  limit: number;
  /** The wait before the second heal in a window; doubled for each one after, up to maxBackoffSeconds. */
  backoffSeconds: number;
  maxBackoffSeconds: number;
  /** A member that lived this long since its last heal starts counting again. */
  windowSeconds: number;
}

export const DEFAULT_HEAL_POLICY: HealPolicy = {
  limit: 3,
  backoffSeconds: 5,
  maxBackoffSeconds: 300,
  windowSeconds: 600,
};

export function healPolicy(overrides: Partial<HealPolicy> = {}): HealPolicy {
  const pick = (key: keyof HealPolicy) => {
    const value = overrides[key];
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : DEFAULT_HEAL_POLICY[key];
  };
  return {
    limit: Math.floor(pick('limit')),
    backoffSeconds: pick('backoffSeconds'),
    maxBackoffSeconds: pick('maxBackoffSeconds'),
    windowSeconds: pick('windowSeconds'),
  };
}

/** The member's heal record if it is recent enough to count. */
function recent(heals: HealRecord[], member: string, now: number, policy: HealPolicy): HealRecord | undefined {
  const record = heals.find((h) => h.member === member);
  return record && now - record.at < policy.windowSeconds * 1000 ? record : undefined;
}

/** The wait before heal number `count + 1` of a window. */
export function backoffMs(count: number, policy: HealPolicy): number {
  if (count <= 0) return 0;
  return Math.min(policy.backoffSeconds * 2 ** (count - 1), policy.maxBackoffSeconds) * 1000;
}

/**
 * A report, folded into the pending list: returns the new list, or undefined when it changes
 * nothing (a member unknown, leaving, being launched, already pending or given up on). Reports come
 * from any worker, so the payload is checked like any other input.
 */
export function noteDown(
  state: HealState,
  members: Member[],
  report: MemberDownReport | undefined,
  now: number,
  policy: HealPolicy,
): PendingHeal[] | undefined {
  const name: unknown = report?.member;
  const reason: unknown = report?.reason;
  if (typeof name !== 'string') return undefined;
  const member = members.find((m) => m.name === name);
  // Unknown, on its way out, or in the middle of its (re-)launch: that step's own outcome says how it went.
  if (!member || !isLive(member) || member.state === 'create pending' || !member.launched) return undefined;
  const healing = state.healing ?? [];
  if (healing.some((p) => p.member === name)) return undefined;
  const record = recent(state.heals ?? [], name, now, policy);
  // Given up on: it stays in config error until `kdflow retry`.
  if (record && record.count > policy.limit) return undefined;
  const notBefore = record ? record.at + backoffMs(record.count, policy) : now;
  const why = typeof reason === 'string' && reason.trim() !== '' ? shortError(reason) : 'its container died';
  return [...healing, { member: name, reason: why, notBefore: Math.max(now, notBefore) }];
}

export const healDue = (state: HealState, now: number) => (state.healing ?? []).some((p) => p.notBefore <= now);

/** Milliseconds until the next pending report may be checked; undefined when none waits. */
export function nextHealIn(state: HealState, now: number): number | undefined {
  const waiting = (state.healing ?? []).filter((p) => p.notBefore > now);
  if (waiting.length === 0) return undefined;
  return Math.min(...waiting.map((p) => p.notBefore)) - now;
}

/** `kdflow retry` starts a member's count again: a member it re-creates is healed again later. */
export function forgetHeals(state: HealState, retried: (string | null)[]): HealRecord[] {
  if (retried.includes(null)) return [];
  return (state.heals ?? []).filter((h) => !retried.includes(h.member));
}

export interface HealOutcome {
  members: Member[];
  heals: HealRecord[];
  lastHeal?: string;
}

/**
 * The checked reports, applied: each member the runtime found dead is healed (relaunched by
 * `relaunch`, the planner's retry of a dead member) or, past the limit, left in config error. A
 * member found alive again was a stale report (a launch, a removal, another worker's late word).
 */
export function applyHeals(
  members: Member[],
  heals: HealRecord[],
  due: PendingHeal[],
  dead: Record<string, string>,
  now: number,
  policy: HealPolicy,
  relaunch: (members: Member[], only: string, dead: ReadonlySet<string>) => Member[],
): HealOutcome {
  const at = new Date(now).toISOString();
  let next = members;
  let lastHeal: string | undefined;
  // Records of members that are gone or lived through the window are dropped: bounded by the members.
  let records = heals.filter(
    (h) => members.some((m) => m.name === h.member && isLive(m)) && now - h.at < policy.windowSeconds * 1000,
  );
  for (const pending of due) {
    const seen = dead[pending.member];
    const member = next.find((m) => m.name === pending.member);
    if (seen === undefined || !member || !isLive(member)) continue;
    const reason = shortError(seen || pending.reason);
    const count = (recent(records, pending.member, now, policy)?.count ?? 0) + 1;
    records = [...records.filter((h) => h.member !== pending.member), { member: pending.member, count, at: now }];
    if (count > policy.limit) {
      const minutes = Math.round(policy.windowSeconds / 60);
      const error = `died ${count} times within ${minutes} min, healed ${policy.limit}: ${reason}; kdflow retry re-creates it`;
      next = next.map((m) =>
        m.name === pending.member ? { ...m, state: 'config error', ready: false, lastError: shortError(error) } : m,
      );
      lastHeal = `${at} ${pending.member} not healed again (${count} deaths within ${minutes} min): ${reason}`;
    } else {
      next = relaunch(next, pending.member, new Set([pending.member]));
      lastHeal = `${at} healing ${pending.member} (${count} of ${policy.limit}): ${reason}`;
    }
  }
  return { members: next, heals: records, ...(lastHeal ? { lastHeal: shortError(lastHeal) } : {}) };
}

/** The due reports' members, as the runtime sees them now; undefined when it could not be asked. */
export async function probeDue(
  desired: Desired,
  members: Member[],
  due: PendingHeal[],
  heartbeatTimeoutSeconds: number,
): Promise<{ dead: Record<string, string> } | { error: string }> {
  const asked = members.filter((m) => isLive(m) && due.some((p) => p.member === m.name));
  if (asked.length === 0) return { dead: {} };
  try {
    return await probe(heartbeatTimeoutSeconds).probeMembers.executeWithOptions(
      {
        summary: `heal check: ${listed(asked.map((m) => m.name))} reported dead (${shortError(due[0]?.reason ?? '').slice(0, 60)})`,
      },
      [{ members: asked.map((m) => target(desired, m)) }],
    );
  } catch (error) {
    if (isCancellation(error)) throw error;
    return { error: failureMessage(error) };
  }
}
