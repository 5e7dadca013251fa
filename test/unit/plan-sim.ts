/**
 * Fixtures and a simulator for the unit tests of the pure lifecycle planner (workflows/plan.ts).
 *
 * `Sim` drives the loop the cluster workflow runs (nextStep → applyOutcome) with a chosen failure
 * function. Before each step it checks the step's preconditions (scripts only on healthy members,
 * --configure only on launched members whose configmeta is current, notifies only to configured
 * members and only about the right ones, configmeta never dropping a leaver the survivors have not
 * heard of, removals only after --delnodes), and it tracks what each member's startscript was told:
 * its configmeta at --configure, then the names in the `--fqdns` of the argv `scriptArgv` formats
 * from the step, as the runScript activity does. So "everyone knows everyone" is checked end to end.
 */
import { expect } from 'vitest';
import {
  KdAppSpec,
  KdClusterSpec,
  desiredMembers,
  effectiveRole,
  growOrder,
  fromRanges,
  memberFqdn,
  memberName,
  provisionStages,
  scriptArgv,
  toRanges,
  type EventName,
  type ScriptEvent,
} from '../../api/index.ts';
import {
  MAX_ERROR_CHARS,
  type Desired,
  type Member,
  type RunRecord,
  type Step,
  type StepOutcome,
} from '../../workflows/model.ts';
import { isLive, liveNames, sortMembers, stepMembers, topologyKey } from '../../workflows/plan.ts';
import { plannerFor, type Planner } from '../../workflows/planners.ts';

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

export const NS = 'team1';
export const CLUSTER = 'kc';
export const PKG = 'file:///pkg';
/** The domain every member FQDN ends with: nothing the planner keeps or hands out may contain it. */
export const FQDN_SUFFIX = '.svc.cluster.local';

export interface RoleIn {
  id: string;
  cardinality: string;
  eventList?: EventName[];
  configPackage?: { packageURL: string } | null;
}

export function makeApp(roles: RoleIn[]): KdAppSpec {
  return KdAppSpec.parse({
    label: { name: 'Test app' },
    distroID: 'test/app',
    version: '1.0',
    defaultImageRepoTag: 'img:1',
    defaultConfigPackage: { packageURL: PKG },
    roles,
  });
}

/** counts: role → members; `null` lists the role without a count (cardinality's N); absent: not listed. */
export function makeDesired(app: KdAppSpec, counts: Record<string, number | null>, generation: number): Desired {
  const spec = KdClusterSpec.parse({
    app: 'testapp',
    roles: Object.entries(counts).map(([id, members]) => (members === null ? { id } : { id, members })),
  });
  return { namespace: NS, name: CLUSTER, app, spec, generation };
}

export const nm = (role: string, ordinal: number) => memberName(CLUSTER, role, ordinal);
export const fq = (role: string, ordinal: number) => memberFqdn(nm(role, ordinal), CLUSTER, NS);
export const names = (role: string, ...ordinals: number[]) => ordinals.map((o) => nm(role, o));
export const fqdns = (role: string, ...ordinals: number[]) => ordinals.map((o) => fq(role, o));
export const notifyArgv = (event: 'addnodes' | 'delnodes', role: string, list: string[]) => [
  `--${event}`,
  '--nodegroup',
  '1',
  '--role',
  role,
  '--fqdns',
  list.join(','),
];
const fqdnToName = (fqdn: string) => fqdn.split('.')[0]!;

export type RunEventStep = Extract<Step, { kind: 'runEvent' }>;
export type LaunchStep = Extract<Step, { kind: 'launchMembers' }>;

/** The startscript argv the runScript activity formats for a step, via the same function. */
export function argvOf(step: RunEventStep): string[] {
  return scriptArgv(step.event, step.about ? { role: step.role, ordinals: step.about } : undefined, CLUSTER, NS);
}

/** The single-role app: one role "worker", cardinality "1+", every event. */
export const single = makeApp([{ id: 'worker', cardinality: '1+' }]);
/** The three-role app of the property tests: cardinalities "1", "2+", "0+", every event. */
export const app3 = makeApp([
  { id: 'a', cardinality: '1' },
  { id: 'b', cardinality: '2+' },
  { id: 'c', cardinality: '0+' },
]);
/** Roles with different event lists; the first role ("worker") is the one we shrink and grow. */
export const mixed = makeApp([
  { id: 'worker', cardinality: '1+', eventList: ['configure', 'addnodes'] }, // hears joins, not leaves
  { id: 'head', cardinality: '1' }, // every event (eventList absent)
  { id: 'cache', cardinality: '0+', eventList: ['configure'] }, // configures only, never notified
  { id: 'proxy', cardinality: '0+', configPackage: null }, // no startscript at all
  { id: 'passive', cardinality: '0+', eventList: ['addnodes', 'delnodes'] }, // no --configure, but notified
]);

// ---------------------------------------------------------------------------------------------
// The simulator
// ---------------------------------------------------------------------------------------------

export type FailFn = (step: Step, member: string, sim: Sim) => string | undefined;
export const never: FailFn = () => undefined;

/** Members that do work in a step (and so may fail): the targets of a script, the members of an activity. */
export function actors(step: Step): string[] {
  switch (step.kind) {
    case 'launchMembers':
      return [...step.members.map((m) => m.name), ...(step.refresh ?? [])];
    case 'writeConfigmeta':
      return step.members;
    case 'runEvent':
      return step.targets;
    default:
      return [];
  }
}

// --reconnect is sent whatever the eventList says, as KubeDirector does (docs/adr/0044).
export const allows = (app: KdAppSpec, role: string, event: ScriptEvent) => {
  const r = effectiveRole(app, role);
  return !!r && !!r.configPackage && (event === 'reconnect' || r.events.includes(event));
};

/** Batch numbers as the planner documents them: generation × 1000, plus 1 + the role's index for a role's growth. */
const BATCHES_PER_GENERATION = 1000;
/** A fixed clock: run times are data here, never measured. */
const T0 = Date.UTC(2024, 0, 1);

export class Sim {
  members: Member[] = [];
  /** Every step taken, over the life of the simulation. */
  steps: Step[] = [];
  /** What each member's startscript was told: configmeta at --configure, then --addnodes/--delnodes. */
  knows = new Map<string, Set<string>>();
  /** The member names each member's configmeta lists. */
  meta = new Map<string, string[]>();
  /** Every startscript invocation on each member, in order, failed ones included; kept across re-creation. */
  invocations = new Map<string, string[][]>();
  desired: Desired;
  fail: FailFn;
  /** The workflow's step counter: with the generation it names a script run. */
  seq = 0;
  /**
   * Check that configmeta and notifies keep KubeDirector's order: --delnodes before configmeta drops
   * a leaver, configmeta listing the joiners before --addnodes. Off only where a test says why.
   */
  strictOrder = true;

  /** The planner version under test (workflows/planners.ts); v2 unless a test says otherwise. */
  planner: Pick<Planner, 'nextStep' | 'applyOutcome' | 'requestRetry'>;

  constructor(
    desired: Desired,
    fail: FailFn = never,
    planner: Pick<Planner, 'nextStep' | 'applyOutcome' | 'requestRetry'> = plannerFor(2),
  ) {
    this.desired = desired;
    this.fail = fail;
    this.planner = planner;
  }

  get(name: string): Member {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }

  /** The argv of every startscript run on `name`, oldest first. */
  told(name: string): string[][] {
    return this.invocations.get(name) ?? [];
  }

  /** One turn of the loop; returns the step taken, or undefined when the planner is done. */
  step(): Step | undefined {
    const step = this.planner.nextStep(this.desired, this.members);
    if (!step) return undefined;
    this.seq += 1;
    this.checkPreconditions(step);
    const failed: Record<string, string> = {};
    for (const member of actors(step)) {
      const error = this.fail(step, member, this);
      if (error) failed[member] = error;
    }
    const runs: Record<string, RunRecord> = {};
    if (step.kind === 'runEvent') {
      for (const target of step.targets) runs[target] = this.runRecord(failed[target]);
    }
    const outcome: StepOutcome = { failed, runs };
    this.track(step, outcome);
    const before = this.members;
    this.members = this.planner.applyOutcome(this.desired, this.members, step, outcome);
    this.checkPostconditions(step, before);
    this.steps.push(step);
    return step;
  }

  /** Run until the planner has nothing left; the steps of this call. Throws past the bound. */
  converge(limit = 2000): Step[] {
    const taken: Step[] = [];
    for (let step = this.step(); step; step = this.step()) {
      taken.push(step);
      if (taken.length > limit)
        throw new Error(`did not converge within ${limit} steps; last: ${JSON.stringify(step)}`);
    }
    return taken;
  }

  change(counts: Record<string, number | null>, app: KdAppSpec = this.desired.app): this {
    this.desired = makeDesired(app, counts, this.desired.generation + 1);
    return this;
  }

  /** `kdflow retry [member]`, with the members the runtime reports dead. */
  retry(member?: string, dead: Iterable<string> = []): this {
    this.members = this.planner.requestRetry(this.members, member, new Set(dead));
    return this;
  }

  private runRecord(error: string | undefined): RunRecord {
    const startedAt = T0 + this.seq * 1000;
    return {
      generation: this.desired.generation,
      seq: this.seq,
      exitCode: error ? 1 : 0,
      attempts: 1,
      startedAt,
      finishedAt: startedAt + 500,
    };
  }

  private checkPreconditions(step: Step): void {
    const byName = new Map(this.members.map((m) => [m.name, m]));
    const by = (n: string) => {
      const m = byName.get(n);
      if (!m) throw new Error(`step names ${n}, which is not a member: ${JSON.stringify(step)}`);
      return m;
    };
    const live = liveNames(this.members);
    const topology = topologyKey(live);
    const where = JSON.stringify(step);
    const delnodesHeard = this.members.some(
      (m) => m.state === 'configured' && allows(this.desired.app, m.role, 'delnodes'),
    );
    // Nothing in a step grows with the cluster's DNS names: the argv is formatted at the activity.
    expect(where.includes(FQDN_SUFFIX), `a step lists FQDNs: ${where}`).toBe(false);
    switch (step.kind) {
      case 'launchMembers': {
        const refs = step.members.map((m) => m.name);
        expect(new Set(refs).size, where).toBe(refs.length);
        expect(refs.length, where).toBeGreaterThan(0);
        for (const ref of step.members) {
          expect(ref.name, where).toBe(nm(ref.role, ref.ordinal));
          const existing = byName.get(ref.name);
          // A launch creates a new member or re-launches one a retry sent back; never a healthy one.
          if (existing)
            expect([existing.state, existing.launched], `launch of ${ref.name}: ${where}`).toEqual(['creating', false]);
        }
        // The configmeta it writes describes the live members and the ones it launches.
        expect(step.topology, where).toBe(topologyKey([...new Set([...live, ...refs])]));
        const base = this.desired.generation * BATCHES_PER_GENERATION;
        if (this.members.length === 0) {
          expect(step.batch, where).toBe(base);
        } else {
          // One role, or the roles of a later provision stage (docs/adr/0053); numbered by the first's grow turn.
          const roles = [...new Set(step.members.map((m) => m.role))];
          const stage = provisionStages(this.desired.app).find((st) => st.includes(roles[0] ?? ''));
          if (roles.length > 1)
            expect(stage, `a growth launches one role or one stage: ${where}`).toEqual(expect.arrayContaining(roles));
          const turn = base + 1 + growOrder(this.desired.app).indexOf(roles[0] ?? '');
          // With a role order, batches follow launch order: after every batch launched before.
          const after = Math.max(turn, 1 + Math.max(0, ...this.members.map((m) => m.batch)));
          expect(step.batch, where).toBe(this.desired.app.roleOrder ? after : turn);
        }
        // v3: the members it rewrites are the ones v2's writeConfigmeta right after would; never while members leave.
        for (const n of step.refresh ?? []) {
          expect(refs.includes(n), where).toBe(false);
          expect(isLive(by(n)) && by(n).launched && by(n).state !== 'config error', where).toBe(true);
          expect(by(n).topology, `rewrite of a current configmeta: ${where}`).not.toBe(step.topology);
        }
        if (step.refresh)
          expect(this.members.every(isLive), `configmeta rewritten while members leave: ${where}`).toBe(true);
        break;
      }
      case 'runEvent': {
        expect(new Set(step.targets).size, where).toBe(step.targets.length);
        for (const t of step.targets) {
          expect(allows(this.desired.app, by(t).role, step.event), `${t} does not handle ${step.event}: ${where}`).toBe(
            true,
          );
          expect(isLive(by(t)), `script on a leaver: ${where}`).toBe(true);
        }
        const argv = argvOf(step);
        if (step.event === 'configure') {
          expect(step.about, where).toBeUndefined();
          expect(argv).toEqual(['--configure']);
          for (const t of step.targets) {
            // From v4, a create's configure is one step for every role (docs/adr/0047).
            if (this.planner.nextStep !== plannerFor(4).nextStep) expect(by(t).role, where).toBe(step.role);
            expect(by(t).state, where).toBe('creating');
            expect(by(t).launched, `configure on ${t} before its launch: ${where}`).toBe(true);
            expect(by(t).topology, `configure on ${t} with a stale configmeta: ${where}`).toBe(topology);
          }
          break;
        }
        for (const t of step.targets)
          expect(by(t).state, `notify to a member not configured: ${where}`).toBe('configured');
        const about = step.about ?? [];
        expect(about.length, `a notify about nobody: ${where}`).toBeGreaterThan(0);
        // Canonical ranges: sorted, disjoint, not adjacent.
        expect(toRanges(fromRanges(about)), where).toEqual(about);
        expect(argv.slice(0, 6)).toEqual([`--${step.event}`, '--nodegroup', '1', '--role', step.role, '--fqdns']);
        expect(argv[6]!.split(','), where).toEqual(fromRanges(about).map((o) => fq(step.role, o)));
        if (step.retry) {
          expect(step.targets, `a retry runs on one member: ${where}`).toHaveLength(1);
          break;
        }
        // About exactly members of step.role, named by ordinal.
        const aboutMembers = fromRanges(about).map((o) => by(nm(step.role, o)));
        for (const a of aboutMembers) expect(a.role, where).toBe(step.role);
        if (step.event === 'addnodes') {
          const batches = new Set(aboutMembers.map((a) => a.batch));
          expect(batches.size, `addnodes about several batches: ${where}`).toBe(1);
          for (const a of aboutMembers) {
            expect(a.state, `addnodes about a member not configured: ${where}`).toBe('configured');
            expect(a.announced, `addnodes about ${a.name} again: ${where}`).toBe(false);
            expect(step.targets, where).not.toContain(a.name);
          }
          // Only members older than the batch hear of it: the batch learnt of itself from configmeta.
          for (const t of step.targets) expect(by(t).batch, where).toBeLessThan([...batches][0]!);
          // A script may read configmeta: by now it describes the joiners.
          if (this.strictOrder)
            for (const t of step.targets)
              expect(by(t).topology, `addnodes to ${t} with a stale configmeta: ${where}`).toBe(topology);
        } else {
          for (const a of aboutMembers) {
            expect(isLive(a), `delnodes about a live member: ${where}`).toBe(false);
            expect(a.delnodesSent, `delnodes about ${a.name} again: ${where}`).toBe(false);
          }
        }
        break;
      }
      case 'removeMembers':
        for (const n of step.members) {
          expect(by(n).state, where).toBe('delete pending');
          expect(by(n).role, where).toBe(step.role);
          // Survivors hear --delnodes before anything is removed.
          if (delnodesHeard) expect(by(n).delnodesSent, `${n} removed before delnodes: ${where}`).toBe(true);
        }
        // ... and their configmeta no longer lists the leavers.
        for (const m of this.members) {
          if (isLive(m) && m.launched && m.state !== 'config error')
            expect(m.topology, `${m.name}'s configmeta still lists leavers: ${where}`).toBe(topology);
        }
        break;
      case 'markConfigured':
        expect(
          allows(this.desired.app, step.role, 'configure'),
          `markConfigured for a role that runs --configure: ${where}`,
        ).toBe(false);
        for (const n of step.members) {
          expect(by(n).role, where).toBe(step.role);
          expect(by(n).state, where).toBe('creating');
          expect(by(n).launched, where).toBe(true);
          expect(by(n).topology, where).toBe(topology);
        }
        break;
      case 'markAnnounced': {
        const group = step.members.map(by);
        const batches = new Set(group.map((m) => m.batch));
        expect(batches.size, where).toBe(1);
        for (const m of group) expect([m.state, m.announced], where).toEqual(['configured', false]);
        // Nobody older would have heard --addnodes about them.
        const hearers = this.members.filter(
          (m) => m.state === 'configured' && m.batch < [...batches][0]! && allows(this.desired.app, m.role, 'addnodes'),
        );
        expect(
          hearers.map((m) => m.name),
          where,
        ).toEqual([]);
        break;
      }
      case 'markLeaving': {
        const want = this.countOf(step.role);
        for (const n of step.members) {
          expect(by(n).role, where).toBe(step.role);
          expect(isLive(by(n)), where).toBe(true);
          expect(by(n).ordinal, where).toBeGreaterThanOrEqual(want);
        }
        break;
      }
      case 'writeConfigmeta':
        expect(step.topology).toBe(topology);
        for (const n of step.members) {
          expect(isLive(by(n)), where).toBe(true);
          expect(by(n).launched, where).toBe(true);
          expect(by(n).state, where).not.toBe('config error');
          expect(by(n).topology, `rewrite of a current configmeta: ${where}`).not.toBe(topology);
        }
        // Survivors hear --delnodes before configmeta drops the leavers.
        if (delnodesHeard && this.strictOrder) {
          for (const m of this.members)
            if (!isLive(m)) expect(m.delnodesSent, `configmeta drops ${m.name} before delnodes: ${where}`).toBe(true);
        }
        break;
    }
  }

  /** What holds after every step, whatever failed: facts per member stay O(1) and one line. */
  private checkPostconditions(step: Step, before: Member[]): void {
    const touched = new Set(stepMembers(step, before));
    for (const a of actors(step)) expect(touched.has(a), `stepMembers misses ${a}: ${JSON.stringify(step)}`).toBe(true);
    for (const m of this.members) {
      expect(JSON.stringify(m).includes(FQDN_SUFFIX), `${m.name} keeps an FQDN`).toBe(false);
      if (m.lastError !== undefined) {
        expect(m.lastError.length, m.name).toBeLessThanOrEqual(MAX_ERROR_CHARS);
        expect(m.lastError, m.name).not.toContain('\n');
      }
      // Consecutive failed notifies of one event and role merge into one.
      m.failedNotifies.forEach((n, i) => {
        const prev = m.failedNotifies[i - 1];
        if (prev)
          expect([prev.event, prev.role], `${m.name}: ${JSON.stringify(m.failedNotifies)}`).not.toEqual([
            n.event,
            n.role,
          ]);
      });
    }
  }

  private countOf(role: string): number {
    return desiredMembers(this.desired.spec, this.desired.app).get(role) ?? 0;
  }

  private track(step: Step, outcome: StepOutcome): void {
    const ok = (n: string) => !outcome.failed[n];
    switch (step.kind) {
      case 'launchMembers': {
        const listed = [...new Set([...liveNames(this.members), ...step.members.map((m) => m.name)])];
        for (const { name } of step.members) {
          // A (re-)created member starts from nothing: its startscript learns the cluster at --configure.
          this.knows.delete(name);
          if (ok(name)) this.meta.set(name, listed);
        }
        for (const n of step.refresh ?? []) if (ok(n)) this.meta.set(n, listed);
        break;
      }
      case 'writeConfigmeta': {
        const listed = liveNames(this.members);
        for (const n of step.members) if (ok(n)) this.meta.set(n, listed);
        break;
      }
      case 'markConfigured':
        for (const n of step.members) this.knows.set(n, new Set(this.meta.get(n) ?? []));
        break;
      case 'runEvent': {
        const argv = argvOf(step);
        for (const t of step.targets) this.invocations.set(t, [...this.told(t), argv]);
        if (step.event === 'configure') {
          for (const t of step.targets) if (ok(t)) this.knows.set(t, new Set(this.meta.get(t) ?? []));
          break;
        }
        const about = (argv[argv.indexOf('--fqdns') + 1] ?? '').split(',').filter(Boolean).map(fqdnToName);
        for (const t of step.targets) {
          if (!ok(t)) continue;
          const set = this.knows.get(t) ?? new Set<string>();
          for (const a of about) {
            if (step.event === 'addnodes') set.add(a);
            else set.delete(a);
          }
          this.knows.set(t, set);
        }
        break;
      }
      case 'removeMembers':
        for (const n of step.members) {
          this.knows.delete(n);
          this.meta.delete(n);
        }
        break;
      default:
        break;
    }
  }
}

/**
 * A cluster settled at `counts`, every step succeeded. Roles are brought up one spec change at a
 * time, in app order, so every member's startscript has been told of every other.
 */
export function settled(app: KdAppSpec, counts: Record<string, number | null>, planner = plannerFor(2)): Sim {
  const sim = new Sim(makeDesired(app, {}, 0), never, planner);
  const sofar: Record<string, number | null> = {};
  for (const role of app.roles) {
    if (!(role.id in counts)) continue;
    sofar[role.id] = counts[role.id]!;
    sim.change({ ...sofar }).converge();
  }
  return sim;
}

/** The shape of a step that tests compare against: kind plus its key fields. */
export function brief(step: Step): Record<string, unknown> {
  switch (step.kind) {
    case 'launchMembers':
      return {
        kind: step.kind,
        role: [...new Set(step.members.map((m) => m.role))].join(','),
        members: step.members.map((m) => m.name),
        ...(step.refresh ? { refresh: step.refresh } : {}),
      };
    case 'runEvent':
      return {
        kind: step.kind,
        event: step.event,
        role: step.role,
        targets: step.targets,
        ...(step.about ? { about: step.about } : {}),
        ...(step.retry ? { retry: true } : {}),
      };
    case 'markConfigured':
    case 'markLeaving':
    case 'removeMembers':
      return { kind: step.kind, role: step.role, members: step.members };
    default:
      return { kind: step.kind, members: step.members };
  }
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The invariants of a converged cluster. */
export function expectSettled(sim: Sim, counts: Record<string, number>): void {
  expect(sim.planner.nextStep(sim.desired, sim.members)).toBeUndefined();
  const topology = topologyKey(liveNames(sim.members));
  for (const role of sim.desired.app.roles) {
    const want = counts[role.id] ?? 0;
    const mine = sim.members.filter((m) => m.role === role.id);
    expect(mine.map((m) => m.ordinal)).toEqual([...Array(want).keys()]);
    expect(mine.map((m) => m.name)).toEqual(names(role.id, ...Array(want).keys()));
  }
  expect(sim.members.map((m) => m.name)).toEqual(sortMembers(sim.desired, sim.members).map((m) => m.name));
  for (const m of sim.members) {
    expect(isLive(m), `${m.name} left ${m.state}`).toBe(true);
    if (m.state !== 'config error') {
      expect(m.state, m.name).toBe('configured');
      expect(m.topology, `${m.name} has a stale configmeta`).toBe(topology);
      expect(m.ready).toBe(true);
      expect(m.launched).toBe(true);
    } else {
      expect(m.lastError, m.name).toBeTruthy();
    }
    // A member in config error may hold notifies queued before it failed; they cannot run on it.
    if (m.state === 'configured') expect(m.retryNotifies, m.name).toEqual([]);
  }
}

/** Every configured member that handles every event has been told of exactly the live members. */
export function expectEveryoneKnowsEveryone(sim: Sim): void {
  const live = liveNames(sim.members).sort();
  for (const m of sim.members) {
    if (m.state !== 'configured') continue;
    if (!(['configure', 'addnodes', 'delnodes'] as const).every((e) => allows(sim.desired.app, m.role, e))) continue;
    expect([...(sim.knows.get(m.name) ?? [])].sort(), `what ${m.name}'s startscript was told`).toEqual(live);
  }
}
