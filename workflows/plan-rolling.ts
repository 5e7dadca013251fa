/**
 * Rolling operations as pure functions (docs/adr/0037): upgrade, reconfigure and restart move the
 * cluster's members one wave at a time (maxUnavailable members, 1 by default), in role order then
 * ordinal. The workflow asks `nextRollingStep` what to do, runs it, and folds the outcome in with
 * `applyRollingOutcome`, exactly as it does for the lifecycle (plan.ts), so a crash or a
 * continue-as-new resumes from the rollout's state alone.
 *
 * The first failure stops the wave: the failed member is put back first, then the members of its
 * wave, then those done before it, newest first, each with the old package (and image) and the old
 * startscript's `--rollback --from NEW --to OLD`. With `onFailure: pause` the rollout waits for
 * `resume` (the failed member is tried again) or `rollback`. A rollout never ends "in progress":
 * every path ends in `done`, `rolled back`, `rollback failed` or (a restart) `failed`.
 */
import {
  effectiveRole,
  type EventName,
  type KdAppSpec,
  type KdClusterSpec,
  type OnFailure,
  type RolloutKind,
  type RolloutPhase,
  type RolloutStatus,
} from '../api/contract.ts';
import { shortError, type Member, type MemberRef, type StepOutcome } from './model.ts';
import { isLive } from './plan.ts';

/** Which side of the rollout a step acts for: the old app and spec, or the new. */
export type Side = 'from' | 'to';
export type Direction = 'forward' | 'back';

export interface RolloutSide {
  app: KdAppSpec;
  spec: KdClusterSpec;
}

/** Where one member of the current wave is: its replacement, a configure after a restart, its script, or finished. */
export type Stage = 'replace' | 'configure' | 'script' | 'done' | 'failed';

export interface WaveMember {
  name: string;
  stage: Stage;
}

/** A rolling operation's whole state: O(N) member names once, O(maxUnavailable) for the wave. */
export interface Rollout {
  /** Unique per cluster (the workflow's step counter when it began): names the member replacements. */
  id: number;
  kind: RolloutKind;
  from: RolloutSide;
  to: RolloutSide;
  /** Members in rollout order; order[0..done) have moved forward. */
  order: string[];
  maxUnavailable: number;
  onFailure: OnFailure;
  phase: RolloutPhase;
  done: number;
  /** Set when rolling back begins: the members to put back, in order; back[0..rolledBack) are. */
  back: string[];
  rolledBack: number;
  wave: WaveMember[];
  failed?: { member: string; error: string };
  rollbackFailures: number;
  cancelled?: boolean;
}

export type RollingStep =
  /**
   * Put the side's package (and image, settings) into the members: on Kubernetes the pod is
   * re-created under its own name on its own volume; locally the package is re-installed (and, for a
   * restart, the member's processes are ended and started again). `token` makes it idempotent.
   */
  | { kind: 'replaceMembers'; direction: Direction; side: Side; members: MemberRef[]; token: string; restart: boolean }
  | {
      kind: 'rollingScript';
      direction: Direction;
      side: Side;
      event: EventName;
      role: string;
      targets: string[];
      versions?: { from: string; to: string };
    };

/** A step's outcome; a replacement also says which members still hold a successful configure (KubeDirector's rule after a restart). */
export interface RollingOutcome extends StepOutcome {
  configurePersisted?: Record<string, boolean>;
}

const ACTIVE: readonly RolloutPhase[] = ['rolling', 'rolling back'];
export const isActive = (r: Rollout | undefined): boolean => r !== undefined && ACTIVE.includes(r.phase);
/** Waiting for a decision or moving: not settled, so no other rolling operation may start. */
export const isUnsettled = (r: Rollout | undefined): boolean => isActive(r) || r?.phase === 'paused';

/** The roles in the order an upgrade to `app` takes them: its `upgrade.roleOrder` first, then the rest in role order. */
export function upgradeRoleOrder(app: KdAppSpec): string[] {
  const listed = (app.upgrade?.roleOrder ?? []).filter((id) => app.roles.some((r) => r.id === id));
  return [...new Set([...listed, ...app.roles.map((r) => r.id)])];
}

/** The members a rollout goes through: configured and live, by role (`roles`, the app's order by default), then ordinal. */
function rolloutOrder(
  app: KdAppSpec,
  members: Member[],
  include: (m: Member) => boolean = () => true,
  roles: string[] = app.roles.map((r) => r.id),
): string[] {
  const roleIndex = new Map(roles.map((id, i) => [id, i]));
  return members
    .filter((m) => isLive(m) && m.state === 'configured' && include(m))
    .sort((a, b) => (roleIndex.get(a.role) ?? 0) - (roleIndex.get(b.role) ?? 0) || a.ordinal - b.ordinal)
    .map((m) => m.name);
}

interface Begin {
  id: number;
  kind: RolloutKind;
  from: RolloutSide;
  to: RolloutSide;
  order: string[];
  maxUnavailable?: number;
  onFailure?: OnFailure;
}

function begin(b: Begin, members: Member[]): Rollout {
  return settle(
    {
      ...b,
      maxUnavailable: b.maxUnavailable ?? 1,
      onFailure: b.onFailure ?? 'rollback',
      phase: 'rolling',
      done: 0,
      back: [],
      rolledBack: 0,
      wave: [],
      rollbackFailures: 0,
    },
    members,
  );
}

/**
 * An upgrade to `to`, in the order and with the policy the new version's `upgrade` field gives;
 * `options` (the CLI's --max-unavailable and --on-failure) override that policy.
 */
export function startUpgrade(
  id: number,
  current: RolloutSide,
  to: KdAppSpec,
  members: Member[],
  options: { maxUnavailable?: number; onFailure?: OnFailure } = {},
): Rollout {
  const maxUnavailable = options.maxUnavailable ?? to.upgrade?.maxUnavailable;
  const onFailure = options.onFailure ?? to.upgrade?.onFailure;
  return begin(
    {
      id,
      kind: 'upgrade',
      from: current,
      to: { ...current, app: to },
      order: rolloutOrder(to, members, undefined, upgradeRoleOrder(to)),
      ...(maxUnavailable !== undefined ? { maxUnavailable } : {}),
      ...(onFailure !== undefined ? { onFailure } : {}),
    },
    members,
  );
}

export function startRestart(
  id: number,
  current: RolloutSide,
  members: Member[],
  only: { role?: string; members?: string[]; maxUnavailable?: number } = {},
): Rollout {
  const names = only.members && only.members.length > 0 ? new Set(only.members) : undefined;
  const include = (m: Member) => (only.role === undefined || m.role === only.role) && (!names || names.has(m.name));
  return begin(
    {
      id,
      kind: 'restart',
      from: current,
      to: current,
      order: rolloutOrder(current.app, members, include),
      ...(only.maxUnavailable !== undefined ? { maxUnavailable: only.maxUnavailable } : {}),
    },
    members,
  );
}

/** The settings a reconfigure rolls out: a role's env, pod labels and resources. */
const settingsOf = (spec: KdClusterSpec, role: string) => {
  const r = spec.roles.find((x) => x.id === role);
  return JSON.stringify([r?.env ?? [], r?.podLabels ?? {}, r?.resources ?? {}]);
};

/** Roles whose live members run with other settings than `next` gives them. */
export function reconfiguredRoles(current: KdClusterSpec, next: KdClusterSpec, members: Member[]): string[] {
  const roles = [...new Set(members.filter(isLive).map((m) => m.role))];
  return roles.filter((role) => settingsOf(current, role) !== settingsOf(next, role));
}

export function startReconfigure(
  id: number,
  from: RolloutSide,
  to: RolloutSide,
  members: Member[],
): Rollout | undefined {
  const roles = new Set(reconfiguredRoles(from.spec, to.spec, members));
  if (roles.size === 0) return undefined;
  return begin(
    { id, kind: 'reconfigure', from, to, order: rolloutOrder(to.app, members, (m) => roles.has(m.role)) },
    members,
  );
}

const directionOf = (r: Rollout): Direction => (r.phase === 'rolling back' ? 'back' : 'forward');
const sideOf = (direction: Direction): Side => (direction === 'forward' ? 'to' : 'from');

/** The script a member gets in this direction, if its role (on that side) lists the event. */
function scriptFor(r: Rollout, direction: Direction): { event: EventName; versions?: { from: string; to: string } } {
  const from = r.from.app.version;
  const to = r.to.app.version;
  switch (r.kind) {
    case 'upgrade':
      return direction === 'forward'
        ? { event: 'upgrade', versions: { from, to } }
        : { event: 'rollback', versions: { from: to, to: from } };
    case 'reconfigure':
      return { event: 'reconfigure' };
    case 'restart':
      return { event: 'restart' };
  }
}

function roleRuns(app: KdAppSpec, role: string, event: EventName): boolean {
  const effective = effectiveRole(app, role);
  return Boolean(effective?.configPackage) && (effective?.events.includes(event) ?? false);
}

export function nextRollingStep(r: Rollout | undefined, members: Member[]): RollingStep | undefined {
  if (!r || !isActive(r)) return undefined;
  const direction = directionOf(r);
  const side = sideOf(direction);
  const byName = new Map(members.map((m) => [m.name, m]));
  const at = (stage: Stage) => r.wave.filter((w) => w.stage === stage && byName.has(w.name));
  const replace = at('replace');
  if (replace.length > 0) {
    const refs = replace
      .map((w) => byName.get(w.name) as Member)
      .map(({ name, role, ordinal }) => ({ name, role, ordinal }));
    const token = r.kind === 'restart' ? `r${r.id}-restart` : `r${r.id}-${side}`;
    return { kind: 'replaceMembers', direction, side, members: refs, token, restart: r.kind === 'restart' };
  }
  // The whole wave runs its scripts at once, whatever their roles: a rolling event is about no other
  // member, so `role` only names the first target's (each run takes its own role's env).
  const scriptStep = (
    stage: Stage,
    event: EventName,
    versions?: { from: string; to: string },
  ): RollingStep | undefined => {
    const waiting = at(stage).map((w) => byName.get(w.name) as Member);
    const role = waiting[0]?.role;
    if (role === undefined) return undefined;
    return {
      kind: 'rollingScript',
      direction,
      side,
      event,
      role,
      targets: waiting.map((m) => m.name),
      ...(versions ? { versions } : {}),
    };
  };
  const { event, versions } = scriptFor(r, direction);
  return scriptStep('configure', 'configure') ?? scriptStep('script', event, versions);
}

export function applyRollingOutcome(
  r: Rollout,
  members: Member[],
  step: RollingStep,
  outcome: RollingOutcome,
): { rollout: Rollout; members: Member[] } {
  // An outcome of the other direction (a step that finished as a cancel turned the rollout) is stale.
  if (!isActive(r) || step.direction !== directionOf(r)) return { rollout: r, members };
  const touched = new Set(step.kind === 'replaceMembers' ? step.members.map((m) => m.name) : step.targets);
  const side = r[step.side];
  const { event } = scriptFor(r, step.direction);
  const roleOf = new Map(members.map((m) => [m.name, m.role]));
  const afterReplace = (name: string): Stage => {
    const role = roleOf.get(name) ?? '';
    if (r.kind === 'restart' && outcome.configurePersisted?.[name] === false && roleRuns(side.app, role, 'configure'))
      return 'configure';
    return roleRuns(side.app, role, event) ? 'script' : 'done';
  };
  const wave = r.wave.map((w): WaveMember => {
    if (!touched.has(w.name)) return w;
    if (outcome.failed[w.name] !== undefined) return { ...w, stage: 'failed' };
    if (step.kind === 'replaceMembers') return { ...w, stage: afterReplace(w.name) };
    if (step.event === 'configure')
      return { ...w, stage: roleRuns(side.app, roleOf.get(w.name) ?? '', event) ? 'script' : 'done' };
    return { ...w, stage: 'done' };
  });
  const finished = new Set(wave.filter((w) => w.stage === 'done').map((w) => w.name));
  const nextMembers = members.map((m) => {
    if (!touched.has(m.name)) return m;
    const error = outcome.failed[m.name];
    const run = outcome.runs[m.name];
    let next: Member = run && step.kind === 'rollingScript' ? { ...m, runs: { ...m.runs, [step.event]: run } } : m;
    if (error !== undefined) next = { ...next, state: 'config error', lastError: shortError(error) };
    else if (finished.has(m.name)) next = { ...next, state: 'configured', lastError: undefined };
    return next;
  });
  let rollout: Rollout = { ...r, wave };
  const failedHere = wave.find((w) => w.stage === 'failed');
  if (failedHere) {
    const error = shortError(outcome.failed[failedHere.name] ?? 'failed');
    if (rollout.phase === 'rolling back') {
      rollout = {
        ...rollout,
        rollbackFailures: rollout.rollbackFailures + wave.filter((w) => w.stage === 'failed').length,
      };
    } else {
      rollout = { ...rollout, failed: { member: failedHere.name, error } };
      if (r.kind === 'restart') rollout = { ...rollout, phase: 'failed' };
      else if (r.onFailure === 'pause') rollout = { ...rollout, phase: 'paused' };
      else rollout = beginRollback(rollout);
    }
  }
  return { rollout: settle(rollout, nextMembers), members: nextMembers };
}

/**
 * Rolling back: the wave's members first (the failed ones, then the others), then the members done
 * before it, newest first. Every one of them was touched, so every one is put back.
 */
function beginRollback(r: Rollout): Rollout {
  const failed = r.wave.filter((w) => w.stage === 'failed').map((w) => w.name);
  const unfinished = r.wave.filter((w) => w.stage !== 'failed' && w.stage !== 'done').map((w) => w.name);
  const finished = r.wave
    .filter((w) => w.stage === 'done')
    .map((w) => w.name)
    .reverse();
  const before = r.order.slice(0, r.done).reverse();
  return {
    ...r,
    phase: 'rolling back',
    back: [...failed, ...unfinished, ...finished, ...before],
    rolledBack: 0,
    wave: [],
  };
}

/** Moves finished waves on and ends the rollout when nothing is left: the only place waves are formed. */
function settle(r: Rollout, members: Member[]): Rollout {
  const live = new Set(members.filter(isLive).map((m) => m.name));
  let rollout = r;
  for (;;) {
    if (rollout.phase === 'rolling') {
      if (!rollout.wave.every((w) => w.stage === 'done')) return rollout;
      const done = rollout.done + rollout.wave.length;
      if (done >= rollout.order.length) return { ...rollout, done: rollout.order.length, wave: [], phase: 'done' };
      // A member that left meanwhile (a shrink) has nothing to move: it counts as done.
      const next = rollout.order.slice(done, done + rollout.maxUnavailable);
      rollout = {
        ...rollout,
        done,
        wave: next.map((name) => ({ name, stage: live.has(name) ? 'replace' : 'done' })),
      };
      if (rollout.wave.some((w) => w.stage !== 'done')) return rollout;
    } else if (rollout.phase === 'rolling back') {
      if (!rollout.wave.every((w) => w.stage === 'done' || w.stage === 'failed')) return rollout;
      const rolledBack = rollout.rolledBack + rollout.wave.length;
      if (rolledBack >= rollout.back.length)
        return {
          ...rollout,
          rolledBack: rollout.back.length,
          wave: [],
          phase: rollout.rollbackFailures > 0 ? 'rollback failed' : 'rolled back',
        };
      // One at a time, so "the failed member first, then newest first" holds member by member.
      const name = rollout.back[rolledBack] as string;
      rollout = { ...rollout, rolledBack, wave: [{ name, stage: live.has(name) ? 'replace' : 'done' }] };
      if (rollout.wave.some((w) => w.stage !== 'done')) return rollout;
    } else {
      return rollout;
    }
  }
}

/** `kdflow upgrade NAME --resume|--rollback` on a paused rollout. */
export function decideRollout(r: Rollout, action: 'resume' | 'rollback', members: Member[]): Rollout {
  if (action === 'rollback') return settle(beginRollback(r), members);
  const wave = r.wave.map((w): WaveMember => (w.stage === 'failed' ? { ...w, stage: 'replace' } : w));
  const { failed: _failed, ...rest } = r;
  return settle({ ...rest, phase: 'rolling', wave }, members);
}

/**
 * `kdflow cancel` of a rolling operation: an upgrade or reconfigure rolls back (from its wave on);
 * a restart finishes the member in progress and stops.
 */
export function cancelRollout(r: Rollout, members: Member[]): Rollout {
  if (r.kind === 'restart')
    return settle({ ...r, cancelled: true, order: r.order.slice(0, r.done + r.wave.length) }, members);
  // The wave's members were touched by a step the cancel cut short: each is put back.
  const wave = r.wave.map((w): WaveMember => (w.stage === 'done' ? w : { ...w, stage: 'failed' }));
  return settle(beginRollback({ ...r, cancelled: true, wave }), members);
}

export function rolloutStatus(r: Rollout): RolloutStatus {
  return {
    kind: r.kind,
    from: r.from.app.version,
    to: r.to.app.version,
    phase: r.phase,
    done: r.done,
    total: r.order.length,
    rolledBack: r.rolledBack,
    toRollBack: r.back.length,
    current: isActive(r) ? r.wave.filter((w) => w.stage !== 'done').map((w) => w.name) : [],
    ...(r.failed ? { failed: r.failed } : {}),
    maxUnavailable: r.maxUnavailable,
    onFailure: r.onFailure,
    ...(r.kind === 'upgrade' ? { roleOrder: upgradeRoleOrder(r.to.app) } : {}),
    ...(r.cancelled ? { cancelled: true } : {}),
  };
}

/** Every step a rollout would take if each succeeded (tests and `kdflow plan`). Bounded. */
export function planRollout(r: Rollout, members: Member[], limit = 10_000): RollingStep[] {
  const steps: RollingStep[] = [];
  let current = { rollout: r, members };
  for (
    let step = nextRollingStep(current.rollout, current.members);
    step;
    step = nextRollingStep(current.rollout, current.members)
  ) {
    if (steps.length === limit) throw new Error(`rollout did not converge after ${limit} steps`);
    steps.push(step);
    current = applyRollingOutcome(current.rollout, current.members, step, { failed: {}, runs: {} });
  }
  return steps;
}

/** Status line of a rolling step, bounded. */
export function describeRollingStep(step: RollingStep): string {
  const names = step.kind === 'replaceMembers' ? step.members.map((m) => m.name) : step.targets;
  const shown = names.slice(0, 4).join(', ') + (names.length > 4 ? ` +${names.length - 4} more` : '');
  if (step.kind === 'replaceMembers')
    return step.restart
      ? `restart ${shown}`
      : `replace ${shown} (${step.side === 'to' ? 'new' : 'old'} version and settings)`;
  const versions = step.versions ? ` --from ${step.versions.from} --to ${step.versions.to}` : '';
  return `${step.event}${versions} on ${shown}`;
}
