/**
 * The lifecycle as one pure function. `nextStep(desired, observed)` says what to do next; the
 * workflow runs it, folds the outcome in with `applyOutcome`, and asks again, so a crash, a retry or
 * a continue-as-new resumes from state alone. `plan` replays that loop assuming success, which is
 * what `kdflow plan` prints (the workflow answers it with its own state: the plan query).
 */
import {
  desiredMembers,
  effectiveRole,
  fromRanges,
  growOrder,
  provisionStages,
  memberName,
  mergeRanges,
  toRanges,
  type EventName,
} from '../api/contract.ts';
import {
  shortError,
  succeeded,
  type Desired,
  type LastRun,
  type Member,
  type MemberRef,
  type Notify,
  type NotifyEvent,
  type Step,
  type StepOutcome,
} from './model.ts';

/** The one definition of a member that is not on its way out. */
export const isLive = (m: Pick<Member, 'state'>) => m.state !== 'delete pending' && m.state !== 'deleting';

/** A short key of who is in the cluster; a member whose configmeta has another key is stale. */
export function topologyKey(liveNames: string[]): string {
  const names = [...liveNames].sort().join(',');
  let hash = 0x811c9dc5;
  for (let i = 0; i < names.length; i++) {
    hash ^= names.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${liveNames.length}:${hash.toString(16)}`;
}

export const liveNames = (members: Member[]) => members.filter(isLive).map((m) => m.name);

function roleEvents(desired: Desired, roleId: string): EventName[] {
  const role = effectiveRole(desired.app, roleId);
  // A role without a config package has no startscript to run.
  return role && role.configPackage ? role.events : [];
}

const allows = (desired: Desired, m: Member, event: EventName) => roleEvents(desired, m.role).includes(event);

/** Batch numbers: generation × this, plus 0 for a launch or 1 + the role's index for a role's growth. */
const BATCHES_PER_GENERATION = 1000;

export function nextStep(desired: Desired, members: Member[]): Step | undefined {
  const counts = desiredMembers(desired.spec, desired.app);
  const topology = topologyKey(liveNames(members));
  const ofRole = (role: string) => members.filter((m) => m.role === role);
  // Leavers are handled in their role's turn: survivors hear --delnodes before configmeta drops them.
  const shrinking = members.some((m) => !isLive(m));
  // Leavers some survivor has not yet heard --delnodes about, in any role: configmeta keeps listing
  // them until it has (a member's configmeta never drops a leaver before its script hears of it).
  const delnodesTargets = members.filter((m) => m.state === 'configured' && allows(desired, m, 'delnodes'));
  const unannouncedLeavers = (role?: string) =>
    members.filter((m) => !isLive(m) && !m.delnodesSent && (role === undefined || m.role === role));
  // A member in config error is left as it is until `kdflow retry`.
  const staleMembers = () =>
    members.filter((m) => isLive(m) && m.launched && m.state !== 'config error' && m.topology !== topology);

  // Launch: every role's members are created as one batch, so one configmeta describes them all
  // before any script runs, and they learn of each other from it rather than from --addnodes.
  // With a provision order (docs/adr/0053), that is the first stage's roles; later stages grow in.
  const stages = provisionStages(desired.app);
  if (members.length === 0) {
    const everyone = (stages[0] ?? []).flatMap((id) =>
      Array.from({ length: counts.get(id) ?? 0 }, (_, ordinal) => ({
        name: memberName(desired.name, id, ordinal),
        role: id,
        ordinal,
      })),
    );
    if (everyone.length > 0)
      return {
        kind: 'launchMembers',
        batch: desired.generation * BATCHES_PER_GENERATION,
        members: everyone,
        topology: topologyKey(everyone.map((m) => m.name)),
      };
  }

  // A role of a later provision stage is created once every member of the stages before it is configured.
  const stageOf = (role: string) => stages.findIndex((stage) => stage.includes(role));
  const stageReady = (stage: number) =>
    stages
      .slice(0, stage)
      .flat()
      .every((r) => {
        const theirs = ofRole(r);
        return theirs.length >= (counts.get(r) ?? 0) && theirs.every((m) => m.state === 'configured');
      });

  // Each role's turn, in the app's grow order (its role order unless it declares one).
  for (const [roleIndex, role] of growOrder(desired.app).entries()) {
    const want = counts.get(role) ?? 0;
    const mine = ofRole(role);

    // Shrink: the highest ordinals leave; survivors hear --delnodes before anything is removed.
    const leaving = mine.filter((m) => isLive(m) && m.ordinal >= want);
    if (leaving.length > 0) return { kind: 'markLeaving', role, members: leaving.map((m) => m.name) };
    const leavers = mine.filter((m) => !isLive(m));
    if (leavers.length > 0) {
      const unannounced = unannouncedLeavers(role);
      const targets = delnodesTargets.map((m) => m.name);
      if (unannounced.length > 0 && targets.length > 0) {
        return {
          kind: 'runEvent',
          event: 'delnodes',
          role,
          targets,
          about: toRanges(unannounced.map((m) => m.ordinal)),
        };
      }
      // Another role's leavers are told of first, in that role's turn.
      if (targets.length > 0 && unannouncedLeavers().length > 0) continue;
      const stale = staleMembers();
      if (stale.length > 0) return { kind: 'writeConfigmeta', members: stale.map((m) => m.name), topology };
      return { kind: 'removeMembers', role, members: leavers.map((m) => m.name) };
    }

    // Grow: new members take the next ordinals; members a retry sent back are launched again.
    const missing: MemberRef[] = [];
    for (let ordinal = 0; ordinal < want; ordinal++) {
      if (!mine.some((m) => m.ordinal === ordinal))
        missing.push({ name: memberName(desired.name, role, ordinal), role, ordinal });
    }
    const unlaunched = mine.filter((m) => m.state === 'creating' && !m.launched);
    const stage = stageOf(role);
    if (mine.length === 0 && missing.length > 0 && stage > 0) {
      if (!stageReady(stage)) continue;
      // A later provision stage is one batch: every role of it without members yet, launched together.
      for (const other of stages[stage] ?? [])
        if (other !== role && ofRole(other).length === 0)
          for (let ordinal = 0; ordinal < (counts.get(other) ?? 0); ordinal++)
            missing.push({ name: memberName(desired.name, other, ordinal), role: other, ordinal });
    }
    if (missing.length > 0 || unlaunched.length > 0) {
      // Each role's growth is its own batch, so a later role's new members are announced to this one's.
      // With a role order, a gated stage may launch after a later turn: batches must still follow launch order.
      const turn = desired.generation * BATCHES_PER_GENERATION + 1 + roleIndex;
      const batch = desired.app.roleOrder ? Math.max(turn, 1 + Math.max(0, ...members.map((m) => m.batch))) : turn;
      const launching = [...unlaunched.map(({ name, ordinal }) => ({ name, role, ordinal })), ...missing];
      return {
        kind: 'launchMembers',
        batch,
        members: launching,
        topology: topologyKey([...liveNames(members), ...missing.map((m) => m.name)]),
      };
    }

    // Members launched before this one grew: their configmeta is rewritten to describe everyone.
    const stale = staleMembers();
    if (stale.length > 0 && !shrinking) return { kind: 'writeConfigmeta', members: stale.map((m) => m.name), topology };

    // New members are configured and announced once every leaver is gone: until then the others'
    // configmeta cannot be rewritten to list them.
    if (shrinking) continue;
    const creating = mine.filter((m) => m.state === 'creating');
    // Scripts read configmeta, so they wait until it describes the current members.
    if (creating.some((m) => m.topology !== topology)) continue;
    if (creating.length > 0) {
      if (roleEvents(desired, role).includes('configure'))
        return { kind: 'runEvent', event: 'configure', role, targets: creating.map((m) => m.name) };
      return { kind: 'markConfigured', role, members: creating.map((m) => m.name) };
    }

    // Announce members that reached configured to the members that were there before their batch.
    const fresh = mine.filter((m) => m.state === 'configured' && !m.announced);
    if (fresh.length > 0) {
      const batch = Math.min(...fresh.map((m) => m.batch));
      const group = fresh.filter((m) => m.batch === batch);
      const targets = members
        .filter((m) => m.state === 'configured' && m.batch < batch && allows(desired, m, 'addnodes'))
        .map((m) => m.name);
      if (targets.length === 0) return { kind: 'markAnnounced', members: group.map((m) => m.name) };
      return { kind: 'runEvent', event: 'addnodes', role, targets, about: toRanges(group.map((m) => m.ordinal)) };
    }
  }

  // Notifies queued again by `kdflow retry`, one member at a time.
  const retrying = members.find((m) => m.state === 'configured' && m.retryNotifies.length > 0);
  const notify = retrying?.retryNotifies[0];
  if (retrying && notify)
    return {
      kind: 'runEvent',
      event: notify.event,
      role: notify.role,
      targets: [retrying.name],
      about: notify.ordinals,
      retry: true,
    };
  return undefined;
}

/** Fold a step's outcome into the members. Pure; `plan` uses it with success assumed. */
export function applyOutcome(desired: Desired, members: Member[], step: Step, outcome: StepOutcome): Member[] {
  return withCurrentNotifies(foldOutcome(desired, members, step, outcome));
}

function foldOutcome(desired: Desired, members: Member[], step: Step, outcome: StepOutcome): Member[] {
  const touched = new Set(stepMembers(step));
  const failure = (m: Member) => outcome.failed[m.name];
  const failedAs = (m: Member, error: string): Member => ({
    ...m,
    state: 'config error',
    lastError: shortError(error),
  });

  switch (step.kind) {
    case 'launchMembers': {
      const launched = (m: Member): Member => {
        const error = failure(m);
        return error
          ? { ...failedAs(m, error), launched: false, ready: false }
          : { ...m, state: 'creating', launched: true, ready: true, topology: step.topology };
      };
      const known = new Set(members.map((m) => m.name));
      const updated = members.map((m) => (touched.has(m.name) ? launched(m) : m));
      const refs = step.members.filter((ref) => !known.has(ref.name));
      const ids = nextNodeIds(members, refs.length);
      const fresh = refs.map((ref, i) =>
        launched({ ...newMember(desired, ref.role, ref.ordinal), batch: step.batch, nodeId: ids[i] }),
      );
      return sortMembers(desired, [...updated, ...fresh]);
    }
    case 'writeConfigmeta':
      // A member that cannot learn the topology is in error either way; retry rewrites it.
      return members.map((m) =>
        touched.has(m.name) ? (failure(m) ? failedAs(m, failure(m) as string) : { ...m, topology: step.topology }) : m,
      );
    case 'markConfigured':
      return members.map((m) => (touched.has(m.name) ? { ...m, state: 'configured', lastError: undefined } : m));
    case 'markAnnounced':
      return members.map((m) => (touched.has(m.name) ? { ...m, announced: true } : m));
    case 'markLeaving':
      return members.map((m) => (touched.has(m.name) ? { ...m, state: 'delete pending' } : m));
    case 'removeMembers':
      return members.filter((m) => !touched.has(m.name));
    case 'runEvent':
      return applyRunEvent(step, members, outcome);
  }
}

function applyRunEvent(step: Extract<Step, { kind: 'runEvent' }>, members: Member[], outcome: StepOutcome): Member[] {
  const targets = new Set(step.targets);
  const about = new Set(step.about && !step.retry ? stepAboutNames(step, members) : []);
  return members.map((m) => {
    let next = m;
    if (targets.has(m.name)) {
      const error = outcome.failed[m.name];
      const record = outcome.runs[m.name];
      const run: LastRun | undefined = record && {
        ...record,
        ...(step.about ? { about: { role: step.role, ordinals: step.about } } : {}),
      };
      if (run) next = { ...next, runs: { ...next.runs, [step.event]: run } };
      if (step.event === 'configure') {
        const warning = outcome.warnings?.[m.name];
        next = error
          ? { ...next, state: 'config error', lastError: shortError(error), warning: undefined }
          : { ...next, state: 'configured', lastError: undefined, warning: warning && shortError(warning) };
      } else {
        const notify: Notify = { event: step.event as NotifyEvent, role: step.role, ordinals: step.about ?? [] };
        const retried = step.retry ? next.retryNotifies.slice(1) : next.retryNotifies;
        // A failed notify is recorded on its member and never blocks the cluster.
        next = error
          ? {
              ...next,
              retryNotifies: retried,
              failedNotifies: withNotify(next.failedNotifies, notify),
              lastError: shortError(error),
            }
          : { ...next, retryNotifies: retried };
      }
    }
    if (about.has(m.name))
      next = step.event === 'addnodes' ? { ...next, announced: true } : { ...next, delnodesSent: true };
    return next;
  });
}

/** Failed notifies stay O(1) per member: one about the same event and role as the last merges into it. */
function withNotify(list: Notify[], notify: Notify): Notify[] {
  const last = list.at(-1);
  if (last && last.event === notify.event && last.role === notify.role)
    return [...list.slice(0, -1), { ...last, ordinals: mergeRanges(last.ordinals, notify.ordinals) }];
  return [...list, notify];
}

/**
 * A notify waiting for `kdflow retry` must still be true when it runs: an --addnodes only about
 * members that are live, a --delnodes only about members that are gone or leaving. What became
 * untrue is dropped; what remains is about disjoint members, so the order between an --addnodes and a
 * --delnodes no longer matters and each member keeps at most one of each per role.
 */
function withCurrentNotifies(members: Member[]): Member[] {
  if (!members.some((m) => m.failedNotifies.length > 0 || m.retryNotifies.length > 0)) return members;
  const live = new Set(members.filter(isLive).map((m) => `${m.role}\u0000${m.ordinal}`));
  const current = (list: Notify[]): Notify[] => {
    const kept = new Map<string, Notify>();
    for (const n of list) {
      const ordinals = fromRanges(n.ordinals).filter(
        (o) => live.has(`${n.role}\u0000${o}`) === (n.event === 'addnodes'),
      );
      if (ordinals.length === 0) continue;
      const key = `${n.event}\u0000${n.role}`;
      const before = kept.get(key);
      kept.set(key, { ...n, ordinals: before ? mergeRanges(before.ordinals, toRanges(ordinals)) : toRanges(ordinals) });
    }
    return [...kept.values()];
  };
  return members.map((m) =>
    m.failedNotifies.length > 0 || m.retryNotifies.length > 0
      ? { ...m, failedNotifies: current(m.failedNotifies), retryNotifies: current(m.retryNotifies) }
      : m,
  );
}

/** The members of the step's role whose ordinals the step is about. */
function stepAboutNames(step: Extract<Step, { kind: 'runEvent' }>, members: Member[]): string[] {
  const ordinals = new Set(
    (step.about ?? []).flatMap(([first, last]) => Array.from({ length: last - first + 1 }, (_, i) => first + i)),
  );
  return members.filter((m) => m.role === step.role && ordinals.has(m.ordinal)).map((m) => m.name);
}

/**
 * The node ids the next `count` new members take: after the highest any member holds (a leaver's
 * included), so no two members share one. The launch step and its outcome both use this on the same
 * members, so the configmeta a launch writes and the state agree.
 */
export function nextNodeIds(members: Pick<Member, 'nodeId'>[], count: number): number[] {
  const highest = members.reduce((max, m) => Math.max(max, m.nodeId ?? 0), 0);
  return Array.from({ length: count }, (_, i) => highest + 1 + i);
}

/** Members of state from before node ids get theirs, in member order after the highest in use. */
export function withNodeIds<M extends Pick<Member, 'nodeId'>>(members: M[]): M[] {
  if (members.every((m) => m.nodeId !== undefined)) return members;
  let next = nextNodeIds(members, 1)[0] ?? 1;
  return members.map((m) => (m.nodeId !== undefined ? m : { ...m, nodeId: next++ }));
}

export function newMember(desired: Desired, role: string, ordinal: number): Member {
  return {
    name: memberName(desired.name, role, ordinal),
    role,
    ordinal,
    state: 'create pending',
    launched: false,
    ready: false,
    topology: '',
    batch: desired.generation,
    announced: false,
    delnodesSent: false,
    failedNotifies: [],
    retryNotifies: [],
    runs: {},
  };
}

/** App role order, then ordinal: the order configmeta lists members and status shows them. */
export function sortMembers(desired: Desired, members: Member[]): Member[] {
  const order = new Map(desired.app.roles.map((r, i) => [r.id, i]));
  return [...members].sort((a, b) => (order.get(a.role) ?? 0) - (order.get(b.role) ?? 0) || a.ordinal - b.ordinal);
}

/** The members a step acts on or is about (a notify's leavers and joiners included). */
export function stepMembers(step: Step, members: Member[] = []): string[] {
  switch (step.kind) {
    case 'launchMembers':
      return [...step.members.map((m) => m.name), ...(step.refresh ?? [])];
    case 'runEvent':
      return [...new Set([...step.targets, ...stepAboutNames(step, members)])];
    default:
      return step.members;
  }
}

/**
 * `kdflow retry`: failed members and members the runtime reports dead start over (launched again,
 * so a dead one is re-created under its own name); failed notifies run again.
 */
export function requestRetry(members: Member[], only?: string, dead: ReadonlySet<string> = new Set()): Member[] {
  return members.map((m) => {
    if (only !== undefined && m.name !== only) return m;
    if (!isLive(m)) return m;
    const relaunch: Partial<Member> = {
      state: 'creating',
      launched: false,
      ready: false,
      topology: '',
      lastError: undefined,
    };
    if (m.state === 'config error') {
      // Its fresh --configure and configmeta supersede any notify it missed; it was never announced.
      return { ...m, ...relaunch, announced: false, failedNotifies: [], retryNotifies: [] };
    }
    // Dead but once configured: same name and FQDN, so the others need not hear of it again.
    if (dead.has(m.name)) return { ...m, ...relaunch, failedNotifies: [], retryNotifies: [] };
    if (m.failedNotifies.length > 0)
      return {
        ...m,
        retryNotifies: [...m.retryNotifies, ...m.failedNotifies],
        failedNotifies: [],
        lastError: undefined,
      };
    return m;
  });
}

/** Every step the change would take, if every script succeeded. Bounded so a planner bug cannot hang a caller. */
export function plan(desired: Desired, members: Member[], limit = 10_000): Step[] {
  return planWith({ nextStep, applyOutcome }, desired, members, limit);
}

/** `plan` for any planner version's `nextStep` and `applyOutcome` (workflows/planners.ts). */
export function planWith(
  planner: { nextStep: typeof nextStep; applyOutcome: typeof applyOutcome },
  desired: Desired,
  members: Member[],
  limit = 10_000,
): Step[] {
  const steps: Step[] = [];
  let current = members;
  for (let step = planner.nextStep(desired, current); step; step = planner.nextStep(desired, current)) {
    if (steps.length === limit) throw new Error(`plan did not converge after ${limit} steps`);
    steps.push(step);
    current = planner.applyOutcome(desired, current, step, succeeded);
  }
  return steps;
}
