/**
 * The lifecycle as one pure function. `nextStep(desired, observed)` says what to do next; the
 * workflow runs it, folds the outcome in with `applyOutcome`, and asks again, so a crash, a retry or
 * a continue-as-new resumes from state alone. `plan` replays that loop assuming success, which is
 * what `kdflow plan` prints.
 */
import { desiredMembers, effectiveRole, memberFqdn, memberName, type EventName } from '../api/index.ts';
import { succeeded, type Desired, type Member, type Step, type StepOutcome } from './model.ts';

const LEAVING = new Set(['delete pending', 'deleting']);
const isLive = (m: Member) => !LEAVING.has(m.state);

/** A short key of who is in the cluster; a member whose configmeta has another key is stale. */
export function topologyKey(members: Member[]): string {
  const names = members.filter(isLive).map((m) => m.name).join(',');
  let hash = 0x811c9dc5;
  for (let i = 0; i < names.length; i++) {
    hash ^= names.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${members.filter(isLive).length}:${hash.toString(16)}`;
}

function roleEvents(desired: Desired, roleId: string): EventName[] {
  const role = effectiveRole(desired.app, roleId);
  // A role without a config package has no startscript to run.
  return role && role.configPackage ? role.events : [];
}

const allows = (desired: Desired, m: Member, event: EventName) => roleEvents(desired, m.role).includes(event);

function notifyArgv(event: 'addnodes' | 'delnodes', role: string, fqdns: string[]): string[] {
  return [`--${event}`, '--nodegroup', '1', '--role', role, '--fqdns', fqdns.join(',')];
}

export function nextStep(desired: Desired, members: Member[]): Step | undefined {
  const counts = desiredMembers(desired.spec, desired.app);
  const topology = topologyKey(members);
  const ofRole = (role: string) => members.filter((m) => m.role === role);
  const waitingForReady = members.some((m) => m.state === 'creating' && !m.ready);
  // Leavers are handled in their role's turn: survivors hear --delnodes before configmeta drops them.
  const shrinking = members.some((m) => !isLive(m));
  // A member in config error is left as it is until `kdflow retry`.
  const staleMembers = () => members.filter((m) => isLive(m) && m.ready && m.state !== 'config error' && m.configmeta !== topology);

  // Launch: every role's members are created as one batch, so one configmeta describes them all
  // before any script runs, and they learn of each other from it rather than from --addnodes.
  if (members.length === 0) {
    const everyone = desired.app.roles.flatMap(({ id }) => Array.from({ length: counts.get(id) ?? 0 }, (_, ordinal) => ({ name: memberName(desired.name, id, ordinal), role: id, ordinal })));
    if (everyone.length > 0) return { kind: 'createMembers', batch: desired.generation * BATCHES_PER_GENERATION, members: everyone };
  }

  for (const [roleIndex, { id: role }] of desired.app.roles.entries()) {
    const want = counts.get(role) ?? 0;
    const mine = ofRole(role);

    // Shrink: the highest ordinals leave; survivors hear --delnodes before anything is removed.
    const leaving = mine.filter((m) => isLive(m) && m.ordinal >= want);
    if (leaving.length > 0) return { kind: 'markLeaving', role, members: leaving.map((m) => m.name) };
    const leavers = mine.filter((m) => !isLive(m));
    if (leavers.length > 0) {
      const unannounced = leavers.filter((m) => !m.delnodesSent);
      const targets = members.filter((m) => m.state === 'configured' && allows(desired, m, 'delnodes')).map((m) => m.name);
      if (unannounced.length > 0 && targets.length > 0) {
        const fqdns = unannounced.map((m) => m.fqdn);
        return { kind: 'runEvent', event: 'delnodes', role, argv: notifyArgv('delnodes', role, fqdns), targets, about: unannounced.map((m) => m.name) };
      }
      const stale = staleMembers();
      if (stale.length > 0) return { kind: 'writeConfigmeta', members: stale.map((m) => m.name), topology };
      return { kind: 'removeMembers', role, members: leavers.map((m) => m.name) };
    }

    // Grow: new members take the next ordinals.
    const missing: { name: string; role: string; ordinal: number }[] = [];
    for (let ordinal = 0; ordinal < want; ordinal++) {
      if (!mine.some((m) => m.ordinal === ordinal)) missing.push({ name: memberName(desired.name, role, ordinal), role, ordinal });
    }
    const uncreated = mine.filter((m) => m.state === 'creating' && !m.created);
    if (missing.length > 0 || uncreated.length > 0) {
      // Each role's growth is its own batch, so a later role's new members are announced to this one's.
      const batch = desired.generation * BATCHES_PER_GENERATION + 1 + roleIndex;
      return { kind: 'createMembers', batch, members: [...uncreated.map(({ name, ordinal }) => ({ name, role, ordinal })), ...missing] };
    }
    const unready = members.filter((m) => m.state === 'creating' && m.created && !m.ready);
    if (unready.length > 0) return { kind: 'awaitReady', members: unready.map((m) => m.name) };

    // Configmeta is written once every member is ready, so it describes all of them at once.
    const stale = staleMembers();
    if (stale.length > 0 && !waitingForReady && !shrinking) return { kind: 'writeConfigmeta', members: stale.map((m) => m.name), topology };

    const creating = mine.filter((m) => m.state === 'creating');
    // Scripts read configmeta, so they wait until it describes the current members.
    if (creating.some((m) => m.configmeta !== topology)) continue;
    const effective = effectiveRole(desired.app, role);
    if (creating.length > 0 && effective?.configPackage && creating.some((m) => !m.packageInstalled)) {
      return { kind: 'installPackage', role, packageURL: effective.configPackage.packageURL, members: creating.filter((m) => !m.packageInstalled).map((m) => m.name) };
    }
    if (creating.length > 0) {
      if (roleEvents(desired, role).includes('configure')) {
        return { kind: 'runEvent', event: 'configure', role, argv: ['--configure'], targets: creating.map((m) => m.name), about: [] };
      }
      return { kind: 'markConfigured', role, members: creating.map((m) => m.name) };
    }

    // Announce members that reached configured to the members that were there before their batch.
    const fresh = mine.filter((m) => m.state === 'configured' && !m.announced);
    if (fresh.length > 0) {
      const batch = Math.min(...fresh.map((m) => m.batch));
      const group = fresh.filter((m) => m.batch === batch);
      const targets = members.filter((m) => m.state === 'configured' && m.batch < batch && allows(desired, m, 'addnodes')).map((m) => m.name);
      if (targets.length === 0) return { kind: 'markAnnounced', members: group.map((m) => m.name) };
      const fqdns = group.map((m) => m.fqdn);
      return { kind: 'runEvent', event: 'addnodes', role, argv: notifyArgv('addnodes', role, fqdns), targets, about: group.map((m) => m.name) };
    }
  }

  // Notifies queued again by `kdflow retry`, one member at a time.
  const retrying = members.find((m) => m.state === 'configured' && m.retryNotifies.length > 0);
  const notify = retrying?.retryNotifies[0];
  if (retrying && notify) {
    return { kind: 'runEvent', event: notify.event, role: notify.role, argv: notifyArgv(notify.event, notify.role, notify.fqdns), targets: [retrying.name], about: [], retry: true };
  }
  return undefined;
}

const MAX_EVENTS_PER_MEMBER = 20;
/** Batch numbers: generation × this, plus 0 for a launch or 1 + the role's index for a role's growth. */
const BATCHES_PER_GENERATION = 1000;

/** Fold a step's outcome into the members. Pure; `plan` uses it with success assumed. */
export function applyOutcome(desired: Desired, members: Member[], step: Step, outcome: StepOutcome): Member[] {
  const touched = new Set(stepMembers(step));
  const failure = (m: Member) => outcome.failed[m.name];
  const withRun = (m: Member): Member => {
    const run = outcome.runs[m.name];
    return run ? { ...m, events: [...m.events, run].slice(-MAX_EVENTS_PER_MEMBER) } : m;
  };

  switch (step.kind) {
    case 'createMembers': {
      const created = new Set(step.members.map((m) => m.name));
      const updated = members.map((m) => (created.has(m.name) ? createdMember(m, failure(m)) : m));
      const fresh = step.members
        .filter((ref) => !members.some((m) => m.name === ref.name))
        .map((ref) => {
          const member = { ...newMember(desired, ref.role, ref.ordinal), batch: step.batch };
          return createdMember(member, outcome.failed[member.name]);
        });
      return sortMembers(desired, [...updated, ...fresh]);
    }
    case 'awaitReady':
      return members.map((m) => (touched.has(m.name) ? (failure(m) ? { ...m, state: 'config error', lastError: failure(m) } : { ...m, ready: true }) : m));
    case 'writeConfigmeta':
      // A member that cannot learn the topology is in error either way; retry rewrites it.
      return members.map((m) => (touched.has(m.name) ? (failure(m) ? { ...m, state: 'config error', lastError: failure(m) } : { ...m, configmeta: step.topology }) : m));
    case 'installPackage':
      return members.map((m) => (touched.has(m.name) ? (failure(m) ? { ...m, state: 'config error', lastError: failure(m) } : { ...m, packageInstalled: true }) : m));
    case 'markConfigured':
      return members.map((m) => (touched.has(m.name) ? { ...m, state: 'configured', lastError: undefined } : m));
    case 'markAnnounced':
      return members.map((m) => (touched.has(m.name) ? { ...m, announced: true } : m));
    case 'markLeaving':
      return members.map((m) => (touched.has(m.name) ? { ...m, state: 'delete pending' } : m));
    case 'removeMembers':
      return members.filter((m) => !touched.has(m.name));
    case 'runEvent':
      return applyRunEvent(step, members, outcome).map((m) => (touched.has(m.name) ? withRun(m) : m));
  }
}

function applyRunEvent(step: Extract<Step, { kind: 'runEvent' }>, members: Member[], outcome: StepOutcome): Member[] {
  const targets = new Set(step.targets);
  const about = new Set(step.about);
  return members.map((m) => {
    let next = m;
    if (targets.has(m.name)) {
      const error = outcome.failed[m.name];
      if (step.event === 'configure') {
        next = error ? { ...m, state: 'config error', lastError: error } : { ...m, state: 'configured', lastError: undefined };
      } else {
        const notify = { event: step.event, role: step.role, fqdns: fqdnsOf(step.argv) };
        const retried = step.retry ? m.retryNotifies.slice(1) : m.retryNotifies;
        // A failed notify is recorded on its member and never blocks the cluster.
        next = error ? { ...m, retryNotifies: retried, failedNotifies: [...m.failedNotifies, notify], lastError: error } : { ...m, retryNotifies: retried };
      }
    }
    if (about.has(m.name)) next = step.event === 'addnodes' ? { ...next, announced: true } : { ...next, delnodesSent: true };
    return next;
  });
}

function fqdnsOf(argv: string[]): string[] {
  const at = argv.indexOf('--fqdns');
  return at >= 0 ? (argv[at + 1] ?? '').split(',').filter(Boolean) : [];
}

function createdMember(m: Member, error: string | undefined): Member {
  return error ? { ...m, state: 'config error', lastError: error } : { ...m, state: 'creating', created: true };
}

export function newMember(desired: Desired, role: string, ordinal: number): Member {
  const name = memberName(desired.name, role, ordinal);
  return {
    name,
    role,
    ordinal,
    fqdn: memberFqdn(name, desired.name, desired.namespace),
    state: 'create pending',
    created: false,
    ready: false,
    configmeta: '',
    packageInstalled: false,
    batch: desired.generation,
    announced: false,
    delnodesSent: false,
    failedNotifies: [],
    retryNotifies: [],
    events: [],
  };
}

/** App role order, then ordinal: the order configmeta lists members and status shows them. */
export function sortMembers(desired: Desired, members: Member[]): Member[] {
  const order = new Map(desired.app.roles.map((r, i) => [r.id, i]));
  return [...members].sort((a, b) => (order.get(a.role) ?? 0) - (order.get(b.role) ?? 0) || a.ordinal - b.ordinal);
}

export function stepMembers(step: Step): string[] {
  switch (step.kind) {
    case 'createMembers':
      return step.members.map((m) => m.name);
    case 'runEvent':
      return [...new Set([...step.targets, ...step.about])];
    default:
      return step.members;
  }
}

/** `kdflow retry`: failed members start over (re-ensured, so a dead one is recreated); failed notifies run again. */
export function requestRetry(members: Member[], only?: string): Member[] {
  return members.map((m) => {
    if (only !== undefined && m.name !== only) return m;
    if (m.state === 'config error') {
      // Re-created from scratch: its fresh --configure and configmeta supersede any notify it missed.
      return { ...m, state: 'creating', created: false, ready: false, configmeta: '', packageInstalled: false, announced: false, failedNotifies: [], retryNotifies: [], lastError: undefined };
    }
    if (m.failedNotifies.length > 0) return { ...m, retryNotifies: [...m.retryNotifies, ...m.failedNotifies], failedNotifies: [], lastError: undefined };
    return m;
  });
}

/** Every step the change would take, if every script succeeded. Bounded so a planner bug cannot hang a caller. */
export function plan(desired: Desired, members: Member[], limit = 10_000): Step[] {
  const steps: Step[] = [];
  let current = members;
  for (let step = nextStep(desired, current); step; step = nextStep(desired, current)) {
    if (steps.length === limit) throw new Error(`plan did not converge after ${limit} steps`);
    steps.push(step);
    current = applyOutcome(desired, current, step, succeeded);
  }
  return steps;
}
