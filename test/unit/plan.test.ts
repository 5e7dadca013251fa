/**
 * Unit tests of the pure lifecycle planner (workflows/plan.ts) against the KubeDirector lifecycle:
 * create, grow, shrink, event filtering, failures, retry, and convergence as a property.
 *
 * A small simulator (`Sim`) drives the same loop the cluster workflow runs (nextStep → applyOutcome),
 * with a chosen failure function, checks per-step preconditions (scripts only run on healthy members,
 * notifies carry the right fqdns, removals only of announced leavers) and tracks what each member's
 * startscript has been told, so "everyone knows everyone" can be checked at the end.
 */
import { describe, expect, it } from 'vitest';
import { KdAppSpec, KdClusterSpec, desiredMembers, effectiveRole, memberFqdn, memberName, type EventName, type ScriptRun } from '../../api/index.ts';
import { succeeded, type Desired, type Member, type Step, type StepOutcome } from '../../workflows/model.ts';
import { applyOutcome, newMember, nextStep, plan, requestRetry, sortMembers, stepMembers, topologyKey } from '../../workflows/plan.ts';

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const NS = 'team1';
const CLUSTER = 'kc';
const PKG = 'file:///pkg';

interface RoleIn {
  id: string;
  cardinality: string;
  eventList?: EventName[];
  configPackage?: { packageURL: string } | null;
}

function makeApp(roles: RoleIn[]): KdAppSpec {
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
function makeDesired(app: KdAppSpec, counts: Record<string, number | null>, generation: number): Desired {
  const spec = KdClusterSpec.parse({
    app: 'testapp',
    roles: Object.entries(counts).map(([id, members]) => (members === null ? { id } : { id, members })),
  });
  return { namespace: NS, name: CLUSTER, app, spec, generation };
}

const nm = (role: string, ordinal: number) => memberName(CLUSTER, role, ordinal);
const fq = (role: string, ordinal: number) => memberFqdn(nm(role, ordinal), CLUSTER, NS);
const names = (role: string, ...ordinals: number[]) => ordinals.map((o) => nm(role, o));
const fqdns = (role: string, ...ordinals: number[]) => ordinals.map((o) => fq(role, o));
const notifyArgv = (event: 'addnodes' | 'delnodes', role: string, list: string[]) => [`--${event}`, '--nodegroup', '1', '--role', role, '--fqdns', list.join(',')];
const fqdnToName = (fqdn: string) => fqdn.split('.')[0]!;

/** The single-role app: one role "worker", cardinality "1+", every event. */
const single = makeApp([{ id: 'worker', cardinality: '1+' }]);
/** The three-role app of the property tests: cardinalities "1", "2+", "0+", every event. */
const app3 = makeApp([
  { id: 'a', cardinality: '1' },
  { id: 'b', cardinality: '2+' },
  { id: 'c', cardinality: '0+' },
]);
/** Roles with different event lists; the first role ("worker") is the one we shrink and grow. */
const mixed = makeApp([
  { id: 'worker', cardinality: '1+', eventList: ['configure', 'addnodes'] }, // hears joins, not leaves
  { id: 'head', cardinality: '1' }, // every event (eventList absent)
  { id: 'cache', cardinality: '0+', eventList: ['configure'] }, // configures only, never notified
  { id: 'proxy', cardinality: '0+', configPackage: null }, // no startscript at all
  { id: 'passive', cardinality: '0+', eventList: ['addnodes', 'delnodes'] }, // no --configure, but notified
]);

// ---------------------------------------------------------------------------------------------
// The simulator
// ---------------------------------------------------------------------------------------------

type FailFn = (step: Step, member: string, sim: Sim) => string | undefined;
const never: FailFn = () => undefined;

/** Members that do work in a step (and so may fail): the targets of a script, the members of an activity. */
function actors(step: Step): string[] {
  switch (step.kind) {
    case 'createMembers':
      return step.members.map((m) => m.name);
    case 'awaitReady':
    case 'writeConfigmeta':
    case 'installPackage':
      return step.members;
    case 'runEvent':
      return step.targets;
    default:
      return [];
  }
}

const isLive = (m: Member) => m.state !== 'delete pending' && m.state !== 'deleting';
const allows = (app: KdAppSpec, role: string, event: EventName) => {
  const r = effectiveRole(app, role);
  return !!r && !!r.configPackage && r.events.includes(event);
};

class Sim {
  members: Member[] = [];
  /** Every step taken, over the life of the simulation. */
  steps: Step[] = [];
  /** What each member's startscript was told: configmeta at --configure, then --addnodes/--delnodes. */
  knows = new Map<string, Set<string>>();
  /** The member names each member's configmeta lists. */
  meta = new Map<string, string[]>();
  desired: Desired;
  fail: FailFn;
  private runs = 0;

  constructor(desired: Desired, fail: FailFn = never) {
    this.desired = desired;
    this.fail = fail;
  }

  get(name: string): Member {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }

  /** One turn of the loop; returns the step taken, or undefined when the planner is done. */
  step(): Step | undefined {
    const step = nextStep(this.desired, this.members);
    if (!step) return undefined;
    this.checkPreconditions(step);
    const failed: Record<string, string> = {};
    for (const member of actors(step)) {
      const error = this.fail(step, member, this);
      if (error) failed[member] = error;
    }
    const runs: Record<string, ScriptRun> = {};
    if (step.kind === 'runEvent') {
      for (const target of step.targets) runs[target] = this.scriptRun(step, failed[target]);
    }
    const outcome: StepOutcome = { failed, runs };
    this.track(step, outcome);
    this.members = applyOutcome(this.desired, this.members, step, outcome);
    this.steps.push(step);
    return step;
  }

  /** Run until the planner has nothing left; the steps of this call. Throws past the bound. */
  converge(limit = 2000): Step[] {
    const taken: Step[] = [];
    for (let step = this.step(); step; step = this.step()) {
      taken.push(step);
      if (taken.length > limit) throw new Error(`did not converge within ${limit} steps; last: ${JSON.stringify(step)}`);
    }
    return taken;
  }

  change(counts: Record<string, number | null>, app: KdAppSpec = this.desired.app): this {
    this.desired = makeDesired(app, counts, this.desired.generation + 1);
    return this;
  }

  retry(member?: string): this {
    this.members = requestRetry(this.members, member);
    return this;
  }

  private scriptRun(step: Extract<Step, { kind: 'runEvent' }>, error: string | undefined): ScriptRun {
    this.runs += 1;
    return {
      runId: `run-${this.runs}`,
      event: step.event,
      argv: step.argv,
      exitCode: error ? 1 : 0,
      attempts: 1,
      startedAt: '2024-01-01T00:00:00.000Z',
      finishedAt: '2024-01-01T00:00:01.000Z',
      ...(error ? { error } : {}),
    };
  }

  private checkPreconditions(step: Step): void {
    const by = (n: string) => this.get(n);
    const topology = topologyKey(this.members);
    const where = JSON.stringify(step);
    switch (step.kind) {
      case 'runEvent': {
        const fqdnArg = step.argv[step.argv.indexOf('--fqdns') + 1] ?? '';
        for (const t of step.targets) {
          expect(allows(this.desired.app, by(t).role, step.event), `${t} does not handle ${step.event}: ${where}`).toBe(true);
        }
        if (step.event === 'configure') {
          expect(step.argv).toEqual(['--configure']);
          for (const t of step.targets) {
            expect(by(t).state, where).toBe('creating');
            expect(by(t).configmeta, `configure on ${t} with a stale configmeta: ${where}`).toBe(topology);
            expect(by(t).packageInstalled, where).toBe(true);
          }
        } else {
          for (const t of step.targets) expect(by(t).state, `notify to a member not configured: ${where}`).toBe('configured');
          expect(step.argv.slice(0, 5)).toEqual([`--${step.event}`, '--nodegroup', '1', '--role', step.role]);
          expect(step.argv[5]).toBe('--fqdns');
          if (!step.retry) {
            expect(fqdnArg.split(','), where).toEqual(step.about.map((n) => by(n).fqdn));
            for (const a of step.about) {
              expect(by(a).role, where).toBe(step.role);
              if (step.event === 'addnodes') {
                expect(by(a).state, `addnodes about a member not configured: ${where}`).toBe('configured');
                expect(step.targets, where).not.toContain(a);
              } else {
                expect(isLive(by(a)), `delnodes about a live member: ${where}`).toBe(false);
              }
            }
            for (const t of step.targets) expect(isLive(by(t)), where).toBe(true);
          }
        }
        break;
      }
      case 'removeMembers':
        for (const n of step.members) {
          expect(by(n).state, where).toBe('delete pending');
          expect(by(n).role, where).toBe(step.role);
        }
        // Survivors hear --delnodes before anything is removed.
        if (this.members.some((m) => m.state === 'configured' && allows(this.desired.app, m.role, 'delnodes'))) {
          for (const n of step.members) expect(by(n).delnodesSent, `${n} removed before delnodes: ${where}`).toBe(true);
        }
        break;
      case 'markConfigured':
        for (const n of step.members) expect(by(n).state, where).toBe('creating');
        break;
      case 'installPackage':
        expect(step.packageURL).toBe(PKG);
        for (const n of step.members) expect(by(n).state, where).toBe('creating');
        break;
      case 'writeConfigmeta':
        expect(step.topology).toBe(topology);
        for (const n of step.members) expect(isLive(by(n)), where).toBe(true);
        break;
      default:
        break;
    }
  }

  private track(step: Step, outcome: StepOutcome): void {
    const ok = (n: string) => !outcome.failed[n];
    switch (step.kind) {
      case 'writeConfigmeta': {
        const listed = this.members.filter(isLive).map((m) => m.name);
        for (const n of step.members) if (ok(n)) this.meta.set(n, listed);
        break;
      }
      case 'markConfigured':
        for (const n of step.members) this.knows.set(n, new Set(this.meta.get(n) ?? []));
        break;
      case 'runEvent': {
        if (step.event === 'configure') {
          for (const t of step.targets) if (ok(t)) this.knows.set(t, new Set(this.meta.get(t) ?? []));
          break;
        }
        const at = step.argv.indexOf('--fqdns');
        const about = (step.argv[at + 1] ?? '').split(',').filter(Boolean).map(fqdnToName);
        for (const t of step.targets) {
          if (!ok(t)) continue;
          const set = this.knows.get(t) ?? new Set<string>();
          for (const a of about) step.event === 'addnodes' ? set.add(a) : set.delete(a);
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
function settled(app: KdAppSpec, counts: Record<string, number | null>): Sim {
  const sim = new Sim(makeDesired(app, {}, 0));
  const sofar: Record<string, number | null> = {};
  for (const role of app.roles) {
    if (!(role.id in counts)) continue;
    sofar[role.id] = counts[role.id]!;
    sim.change({ ...sofar }).converge();
  }
  return sim;
}

/** The shape of a step that tests compare against: kind plus its key fields. */
function brief(step: Step): Record<string, unknown> {
  switch (step.kind) {
    case 'createMembers':
      return { kind: step.kind, role: [...new Set(step.members.map((m) => m.role))].join(','), members: step.members.map((m) => m.name) };
    case 'runEvent':
      return { kind: step.kind, event: step.event, role: step.role, argv: step.argv, targets: step.targets, about: step.about, ...(step.retry ? { retry: true } : {}) };
    case 'writeConfigmeta':
      return { kind: step.kind, members: step.members };
    case 'installPackage':
      return { kind: step.kind, role: step.role, members: step.members };
    case 'markConfigured':
    case 'markLeaving':
    case 'removeMembers':
      return { kind: step.kind, role: step.role, members: step.members };
    default:
      return { kind: step.kind, members: step.members };
  }
}

function mulberry32(seed: number): () => number {
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
function expectSettled(sim: Sim, counts: Record<string, number>): void {
  expect(nextStep(sim.desired, sim.members)).toBeUndefined();
  const topology = topologyKey(sim.members);
  for (const role of sim.desired.app.roles) {
    const want = counts[role.id] ?? 0;
    const mine = sim.members.filter((m) => m.role === role.id);
    expect(mine.map((m) => m.ordinal)).toEqual([...Array(want).keys()]);
    expect(mine.map((m) => m.name)).toEqual(names(role.id, ...Array(want).keys()));
    expect(mine.map((m) => m.fqdn)).toEqual(fqdns(role.id, ...Array(want).keys()));
  }
  expect(sim.members.map((m) => m.name)).toEqual(sortMembers(sim.desired, sim.members).map((m) => m.name));
  for (const m of sim.members) {
    expect(isLive(m), `${m.name} left ${m.state}`).toBe(true);
    if (m.state !== 'config error') {
      expect(m.state, m.name).toBe('configured');
      expect(m.configmeta, `${m.name} has a stale configmeta`).toBe(topology);
      expect(m.ready).toBe(true);
      expect(m.created).toBe(true);
    } else {
      expect(m.lastError, m.name).toBeTruthy();
    }
    // A member in config error may hold notifies queued before it failed; they cannot run on it.
    if (m.state === 'configured') expect(m.retryNotifies, m.name).toEqual([]);
  }
}

/** Every configured member that handles every event has been told of exactly the live members. */
function expectEveryoneKnowsEveryone(sim: Sim): void {
  const live = sim.members.filter(isLive).map((m) => m.name).sort();
  for (const m of sim.members) {
    if (m.state !== 'configured') continue;
    if (!(['configure', 'addnodes', 'delnodes'] as const).every((e) => allows(sim.desired.app, m.role, e))) continue;
    expect([...(sim.knows.get(m.name) ?? [])].sort(), `what ${m.name}'s startscript was told`).toEqual(live);
  }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('fixtures', () => {
  it('desiredMembers: listed count, cardinality N when listed without a count, 0 when unlisted', () => {
    const d = makeDesired(app3, { a: null, b: 5 }, 1);
    expect([...desiredMembers(d.spec, d.app)]).toEqual([
      ['a', 1],
      ['b', 5],
      ['c', 0],
    ]);
    expect([...desiredMembers(makeDesired(app3, { b: null }, 1).spec, app3)]).toEqual([
      ['a', 0],
      ['b', 2],
      ['c', 0],
    ]);
  });

  it('member names and fqdns follow <cluster>-<role>-<ordinal> and <member>.<cluster>.<namespace>.svc.cluster.local', () => {
    expect(nm('worker', 3)).toBe('kc-worker-3');
    expect(memberName('kc', 'vanilla_centos', 0)).toBe('kc-vanilla-centos-0');
    expect(fq('worker', 3)).toBe('kc-worker-3.kc.team1.svc.cluster.local');
    const m = newMember(makeDesired(single, { worker: 1 }, 7), 'worker', 2);
    expect(m).toMatchObject({ name: 'kc-worker-2', role: 'worker', ordinal: 2, fqdn: 'kc-worker-2.kc.team1.svc.cluster.local', batch: 7, state: 'create pending' });
  });
});

describe('create', () => {
  it('one role: create, ready, configmeta once, package, --configure, and no --addnodes within the batch', () => {
    const sim = new Sim(makeDesired(single, { worker: 3 }, 1));
    const steps = sim.converge();
    const all = names('worker', 0, 1, 2);
    expect(steps.map(brief)).toEqual([
      { kind: 'createMembers', role: 'worker', members: all },
      { kind: 'awaitReady', members: all },
      { kind: 'writeConfigmeta', members: all },
      { kind: 'installPackage', role: 'worker', members: all },
      { kind: 'runEvent', event: 'configure', role: 'worker', argv: ['--configure'], targets: all, about: [] },
      { kind: 'markAnnounced', members: all },
    ]);
    const create = steps[0] as Extract<Step, { kind: 'createMembers' }>;
    expect(create.members).toEqual([0, 1, 2].map((o) => ({ name: nm('worker', o), role: 'worker', ordinal: o })));
    expect((steps[2] as Extract<Step, { kind: 'writeConfigmeta' }>).topology).toBe(topologyKey(sim.members));
    expectSettled(sim, { worker: 3 });
    for (const m of sim.members) {
      expect(m).toMatchObject({ state: 'configured', batch: 1000, announced: true, packageInstalled: true, failedNotifies: [], lastError: undefined });
      expect(m.events.map((e) => e.argv)).toEqual([['--configure']]);
    }
    expectEveryoneKnowsEveryone(sim);
  });

  it('plan() lists the same steps the loop takes, and nothing for a settled cluster', () => {
    const d = makeDesired(single, { worker: 3 }, 1);
    const sim = new Sim(d);
    expect(plan(d, [])).toEqual(sim.converge());
    expect(plan(d, sim.members)).toEqual([]);
    expect(nextStep(d, sim.members)).toBeUndefined();
  });

  it('a role with an underscore gets dashes in its member names', () => {
    const app = makeApp([{ id: 'vanilla_centos', cardinality: '2' }]);
    const sim = new Sim(makeDesired(app, { vanilla_centos: null }, 1));
    const steps = sim.converge();
    expect(steps[0]).toEqual({
      kind: 'createMembers',
      batch: 1000,
      members: [
        { name: 'kc-vanilla-centos-0', role: 'vanilla_centos', ordinal: 0 },
        { name: 'kc-vanilla-centos-1', role: 'vanilla_centos', ordinal: 1 },
      ],
    });
    expect(sim.members.map((m) => m.fqdn)).toEqual(['kc-vanilla-centos-0.kc.team1.svc.cluster.local', 'kc-vanilla-centos-1.kc.team1.svc.cluster.local']);
    expect(sim.members.every((m) => m.state === 'configured')).toBe(true);
  });

  it('a role without a configPackage runs no script: no package, no --configure, just markConfigured', () => {
    const app = makeApp([{ id: 'proxy', cardinality: '2', configPackage: null }]);
    const sim = new Sim(makeDesired(app, { proxy: null }, 1));
    const all = names('proxy', 0, 1);
    expect(sim.converge().map(brief)).toEqual([
      { kind: 'createMembers', role: 'proxy', members: all },
      { kind: 'awaitReady', members: all },
      { kind: 'writeConfigmeta', members: all },
      { kind: 'markConfigured', role: 'proxy', members: all },
      { kind: 'markAnnounced', members: all },
    ]);
    expect(sim.members.every((m) => m.state === 'configured' && m.events.length === 0 && !m.packageInstalled)).toBe(true);
  });

  it("a role whose eventList lacks 'configure' installs its package (its other events need it) but runs no --configure", () => {
    const app = makeApp([{ id: 'p', cardinality: '1', eventList: ['addnodes'] }]);
    const sim = new Sim(makeDesired(app, { p: 1 }, 1));
    expect(sim.converge().map(brief)).toEqual([
      { kind: 'createMembers', role: 'p', members: names('p', 0) },
      { kind: 'awaitReady', members: names('p', 0) },
      { kind: 'writeConfigmeta', members: names('p', 0) },
      { kind: 'installPackage', role: 'p', members: names('p', 0) },
      { kind: 'markConfigured', role: 'p', members: names('p', 0) },
      { kind: 'markAnnounced', members: names('p', 0) },
    ]);
    expect(sim.get(nm('p', 0)).state).toBe('configured');
  });

  it('an empty eventList runs no script at all', () => {
    const app = makeApp([{ id: 'q', cardinality: '1', eventList: [] }]);
    const steps = new Sim(makeDesired(app, { q: 1 }, 1)).converge();
    expect(steps.some((s) => s.kind === 'runEvent')).toBe(false);
    expect(steps.map((s) => s.kind)).toContain('markConfigured');
  });

  it('several roles: created as one batch in app role order, nobody is told about its own batch by --addnodes', () => {
    const sim = new Sim(makeDesired(app3, { c: 1, a: 1, b: 2 }, 1));
    const steps = sim.converge();
    const creates = steps.filter((s): s is Extract<Step, { kind: 'createMembers' }> => s.kind === 'createMembers');
    expect(creates.map((s) => s.members.map((m) => m.role))).toEqual([['a', 'b', 'b', 'c']]);
    expect(steps.some((s) => s.kind === 'runEvent' && s.event !== 'configure')).toBe(false);
    expect(steps.filter((s) => s.kind === 'runEvent').flatMap((s) => (s as Extract<Step, { kind: 'runEvent' }>).targets).sort()).toEqual(
      [...names('a', 0), ...names('b', 0, 1), ...names('c', 0)].sort(),
    );
    expectSettled(sim, { a: 1, b: 2, c: 1 });
  });

  // Regression test (found as a planner bug, fixed in workflows/plan.ts).
  it('several roles: configmeta is written once, describing every member, before any script runs', () => {
    const sim = new Sim(makeDesired(app3, { a: 1, b: 2 }, 1));
    const steps = sim.converge();
    const writes = steps.filter((s): s is Extract<Step, { kind: 'writeConfigmeta' }> => s.kind === 'writeConfigmeta');
    expect(writes.map((s) => s.members)).toEqual([[...names('a', 0), ...names('b', 0, 1)]]);
    const firstScript = steps.findIndex((s) => s.kind === 'installPackage' || s.kind === 'runEvent');
    expect(steps.indexOf(writes[0]!)).toBeLessThan(firstScript);
  });

  // The same, stated as the outcome: a-0's startscript learns of b-0/b-1.
  it('several roles: every member is told of every other (configmeta at --configure, or --addnodes)', () => {
    const sim = new Sim(makeDesired(app3, { a: 1, b: 2, c: 1 }, 1));
    sim.converge();
    expectEveryoneKnowsEveryone(sim);
  });
});

describe('grow', () => {
  it('one role by 2: next ordinals; configmeta on every live member; --configure on the new; --addnodes on the old', () => {
    const sim = settled(single, { worker: 2 });
    const steps = sim.change({ worker: 4 }).converge();
    const fresh = names('worker', 2, 3);
    expect(steps.map(brief)).toEqual([
      { kind: 'createMembers', role: 'worker', members: fresh },
      { kind: 'awaitReady', members: fresh },
      { kind: 'writeConfigmeta', members: names('worker', 0, 1, 2, 3) },
      { kind: 'installPackage', role: 'worker', members: fresh },
      { kind: 'runEvent', event: 'configure', role: 'worker', argv: ['--configure'], targets: fresh, about: [] },
      {
        kind: 'runEvent',
        event: 'addnodes',
        role: 'worker',
        argv: ['--addnodes', '--nodegroup', '1', '--role', 'worker', '--fqdns', `${fq('worker', 2)},${fq('worker', 3)}`],
        targets: names('worker', 0, 1),
        about: fresh,
      },
    ]);
    expectSettled(sim, { worker: 4 });
    // Launch batch of generation 1; the growth of role 0 (worker) in generation 2.
    expect(sim.members.map((m) => m.batch)).toEqual([1000, 1000, 2001, 2001]);
    expect(sim.members.every((m) => m.announced)).toBe(true);
    expect(sim.get(nm('worker', 0)).events.map((e) => e.argv[0])).toEqual(['--configure', '--addnodes']);
    expect(sim.get(nm('worker', 3)).events.map((e) => e.argv[0])).toEqual(['--configure']);
    expectEveryoneKnowsEveryone(sim);
  });

  it('the middle role of three: old members of every role hear --addnodes; configmeta waits for readiness', () => {
    const sim = settled(app3, { a: 1, b: 2, c: 2 });
    const steps = sim.change({ a: 1, b: 3, c: 2 }).converge();
    const all = [...names('a', 0), ...names('b', 0, 1, 2), ...names('c', 0, 1)];
    expect(steps.map(brief)).toEqual([
      { kind: 'createMembers', role: 'b', members: names('b', 2) },
      { kind: 'awaitReady', members: names('b', 2) },
      { kind: 'writeConfigmeta', members: all },
      { kind: 'installPackage', role: 'b', members: names('b', 2) },
      { kind: 'runEvent', event: 'configure', role: 'b', argv: ['--configure'], targets: names('b', 2), about: [] },
      { kind: 'runEvent', event: 'addnodes', role: 'b', argv: notifyArgv('addnodes', 'b', fqdns('b', 2)), targets: [...names('a', 0), ...names('b', 0, 1), ...names('c', 0, 1)], about: names('b', 2) },
    ]);
    expectSettled(sim, { a: 1, b: 3, c: 2 });
    expectEveryoneKnowsEveryone(sim);
  });

  it('a role with no members yet (0 → 2): the existing members of other roles hear --addnodes', () => {
    const sim = settled(app3, { a: 1, b: 2 });
    const steps = sim.change({ a: 1, b: 2, c: 2 }).converge();
    expect(steps.at(-1)).toEqual({
      kind: 'runEvent',
      event: 'addnodes',
      role: 'c',
      argv: notifyArgv('addnodes', 'c', fqdns('c', 0, 1)),
      targets: [...names('a', 0), ...names('b', 0, 1)],
      about: names('c', 0, 1),
    });
    expectSettled(sim, { a: 1, b: 2, c: 2 });
    expectEveryoneKnowsEveryone(sim);
  });

  it('eventList filters who hears --addnodes; no-package and no-configure roles skip the scripts they lack', () => {
    const base = { worker: 2, head: 1, cache: 1, proxy: 1, passive: 1 };
    const sim = settled(mixed, base);
    const everyone = (extra: Record<string, number>) => {
      const counts = { ...base, ...extra };
      return mixed.roles.flatMap((r) => names(r.id, ...Array(counts[r.id as keyof typeof counts]).keys()));
    };
    // The hearers of --addnodes: configured, older, with a package and 'addnodes' in the eventList.
    const hearers = [...names('worker', 0, 1), ...names('head', 0), ...names('passive', 0)];

    // worker (configure + addnodes): package, --configure, and notifies to the hearers.
    expect(sim.change({ ...base, worker: 3 }).converge().map(brief)).toEqual([
      { kind: 'createMembers', role: 'worker', members: names('worker', 2) },
      { kind: 'awaitReady', members: names('worker', 2) },
      { kind: 'writeConfigmeta', members: everyone({ worker: 3 }) },
      { kind: 'installPackage', role: 'worker', members: names('worker', 2) },
      { kind: 'runEvent', event: 'configure', role: 'worker', argv: ['--configure'], targets: names('worker', 2), about: [] },
      { kind: 'runEvent', event: 'addnodes', role: 'worker', argv: notifyArgv('addnodes', 'worker', fqdns('worker', 2)), targets: hearers, about: names('worker', 2) },
    ]);

    // proxy (configPackage null): no package and no --configure, yet the others hear of it.
    const hearers2 = [...names('worker', 0, 1, 2), ...names('head', 0), ...names('passive', 0)];
    expect(sim.change({ ...base, worker: 3, proxy: 2 }).converge().map(brief)).toEqual([
      { kind: 'createMembers', role: 'proxy', members: names('proxy', 1) },
      { kind: 'awaitReady', members: names('proxy', 1) },
      { kind: 'writeConfigmeta', members: everyone({ worker: 3, proxy: 2 }) },
      { kind: 'markConfigured', role: 'proxy', members: names('proxy', 1) },
      { kind: 'runEvent', event: 'addnodes', role: 'proxy', argv: notifyArgv('addnodes', 'proxy', fqdns('proxy', 1)), targets: hearers2, about: names('proxy', 1) },
    ]);

    // passive (addnodes + delnodes, no configure): package but no --configure.
    expect(sim.change({ ...base, worker: 3, proxy: 2, passive: 2 }).converge().map(brief)).toEqual([
      { kind: 'createMembers', role: 'passive', members: names('passive', 1) },
      { kind: 'awaitReady', members: names('passive', 1) },
      { kind: 'writeConfigmeta', members: everyone({ worker: 3, proxy: 2, passive: 2 }) },
      { kind: 'installPackage', role: 'passive', members: names('passive', 1) },
      { kind: 'markConfigured', role: 'passive', members: names('passive', 1) },
      { kind: 'runEvent', event: 'addnodes', role: 'passive', argv: notifyArgv('addnodes', 'passive', fqdns('passive', 1)), targets: hearers2, about: names('passive', 1) },
    ]);

    // cache (configure only): configured, never notified itself.
    const counts = { ...base, worker: 3, proxy: 2, passive: 2 };
    expectSettled(sim, counts);
    expect(sim.get(nm('cache', 0)).events.map((e) => e.argv[0])).toEqual(['--configure']);
    expect(sim.get(nm('proxy', 0)).events).toEqual([]);
    expect(sim.get(nm('passive', 0)).events.map((e) => e.argv[0])).toEqual(['--addnodes', '--addnodes', '--addnodes']);
  });

  it('when no older member handles addnodes, the new members are just marked announced', () => {
    const app = makeApp([{ id: 'w', cardinality: '1+', eventList: ['configure'] }]);
    const sim = settled(app, { w: 1 });
    const steps = sim.change({ w: 2 }).converge();
    expect(steps.at(-1)).toEqual({ kind: 'markAnnounced', members: names('w', 1) });
    expect(steps.some((s) => s.kind === 'runEvent' && s.event === 'addnodes')).toBe(false);
  });

  it('a new member that fails --configure is left out of the fqdns; after retry it gets its own late --addnodes', () => {
    const sim = settled(single, { worker: 2 });
    sim.fail = (step, member) => (step.kind === 'runEvent' && step.event === 'configure' && member === nm('worker', 3) ? 'exit 1' : undefined);
    const steps = sim.change({ worker: 4 }).converge();
    expect(steps.slice(-2).map(brief)).toEqual([
      { kind: 'runEvent', event: 'configure', role: 'worker', argv: ['--configure'], targets: names('worker', 2, 3), about: [] },
      { kind: 'runEvent', event: 'addnodes', role: 'worker', argv: notifyArgv('addnodes', 'worker', fqdns('worker', 2)), targets: names('worker', 0, 1), about: names('worker', 2) },
    ]);
    const broken = sim.get(nm('worker', 3));
    expect(broken).toMatchObject({ state: 'config error', lastError: 'exit 1', announced: false });
    expect(broken.events.map((e) => [e.argv[0], e.exitCode])).toEqual([['--configure', 1]]);
    expectSettled(sim, { worker: 4 });

    // Retrying a healthy member changes nothing.
    expect(requestRetry(sim.members, nm('worker', 0))).toEqual(sim.members);

    sim.fail = never;
    const retried = sim.retry(nm('worker', 3)).converge();
    expect(retried.map(brief)).toEqual([
      { kind: 'createMembers', role: 'worker', members: names('worker', 3) },
      { kind: 'awaitReady', members: names('worker', 3) },
      { kind: 'writeConfigmeta', members: names('worker', 3) },
      { kind: 'installPackage', role: 'worker', members: names('worker', 3) },
      { kind: 'runEvent', event: 'configure', role: 'worker', argv: ['--configure'], targets: names('worker', 3), about: [] },
      // Only the members older than its batch: worker-2 (same batch) knew it from configmeta.
      { kind: 'runEvent', event: 'addnodes', role: 'worker', argv: notifyArgv('addnodes', 'worker', fqdns('worker', 3)), targets: names('worker', 0, 1), about: names('worker', 3) },
    ]);
    expect(sim.get(nm('worker', 3))).toMatchObject({ state: 'configured', lastError: undefined, announced: true });
    expectSettled(sim, { worker: 4 });
    expectEveryoneKnowsEveryone(sim);
  });

  it('a member that fails to be created or to become ready stays in config error; the rest converge', () => {
    for (const kind of ['createMembers', 'awaitReady', 'installPackage'] as const) {
      const sim = settled(single, { worker: 1 });
      sim.fail = (step, member) => (step.kind === kind && member === nm('worker', 2) ? `${kind} failed` : undefined);
      const steps = sim.change({ worker: 3 }).converge();
      expect(sim.get(nm('worker', 2)), kind).toMatchObject({ state: 'config error', lastError: `${kind} failed` });
      expect(sim.get(nm('worker', 1)).state).toBe('configured');
      expect(steps.at(-1), kind).toEqual({
        kind: 'runEvent',
        event: 'addnodes',
        role: 'worker',
        argv: notifyArgv('addnodes', 'worker', fqdns('worker', 1)),
        targets: names('worker', 0),
        about: names('worker', 1),
      });
      expect(steps.some((s) => s.kind === 'runEvent' && s.targets.includes(nm('worker', 2))), kind).toBe(false);
      expectSettled(sim, { worker: 3 });
      sim.fail = never;
      sim.retry().converge();
      expect(sim.members.every((m) => m.state === 'configured'), kind).toBe(true);
      expectEveryoneKnowsEveryone(sim);
    }
  });

  it('several roles in one spec are handled in app role order', () => {
    const sim = settled(app3, { a: 1, b: 2 });
    const steps = sim.change({ c: 2, b: 3, a: 1 }).converge();
    const roleOf = (s: Step) => ('role' in s ? s.role : undefined);
    const roles = steps.map(roleOf).filter((r): r is string => r !== undefined);
    const lastB = roles.lastIndexOf('b');
    const firstC = roles.indexOf('c');
    expect(lastB).toBeLessThan(firstC);
    expect(steps.filter((s) => s.kind === 'createMembers').map((s) => (s as Extract<Step, { kind: 'createMembers' }>).members.map((m) => m.name))).toEqual([names('b', 2), names('c', 0, 1)]);
    expectSettled(sim, { a: 1, b: 3, c: 2 });
  });

  // Regression test (found as a planner bug, fixed in workflows/plan.ts).
  it('several roles growing in one spec: each new member is told of the others (configmeta or --addnodes)', () => {
    const sim = settled(app3, { a: 1, b: 2 });
    sim.change({ a: 1, b: 3, c: 2 }).converge();
    expectSettled(sim, { a: 1, b: 3, c: 2 });
    expectEveryoneKnowsEveryone(sim);
  });
});

describe('shrink', () => {
  it('one role by 2: highest ordinals leave; survivors hear --delnodes, then configmeta, then removal', () => {
    const sim = settled(single, { worker: 4 });
    const steps = sim.change({ worker: 2 }).converge();
    const leavers = names('worker', 2, 3);
    expect(steps.map(brief)).toEqual([
      { kind: 'markLeaving', role: 'worker', members: leavers },
      {
        kind: 'runEvent',
        event: 'delnodes',
        role: 'worker',
        argv: ['--delnodes', '--nodegroup', '1', '--role', 'worker', '--fqdns', `${fq('worker', 2)},${fq('worker', 3)}`],
        targets: names('worker', 0, 1),
        about: leavers,
      },
      { kind: 'writeConfigmeta', members: names('worker', 0, 1) },
      { kind: 'removeMembers', role: 'worker', members: leavers },
    ]);
    expect((steps[2] as Extract<Step, { kind: 'writeConfigmeta' }>).topology).toBe(topologyKey(sim.members));
    expectSettled(sim, { worker: 2 });
    expect(sim.get(nm('worker', 1)).events.map((e) => e.argv[0])).toEqual(['--configure', '--delnodes']);
    expectEveryoneKnowsEveryone(sim);
  });

  it('markLeaving puts the leavers in delete pending, then the planner announces them', () => {
    const sim = settled(single, { worker: 3 });
    sim.change({ worker: 1 });
    sim.step();
    expect(sim.members.map((m) => m.state)).toEqual(['configured', 'delete pending', 'delete pending']);
    expect(sim.members.filter((m) => m.state === 'delete pending').every((m) => !m.delnodesSent)).toBe(true);
    sim.step();
    expect(sim.members.filter((m) => m.state === 'delete pending').every((m) => m.delnodesSent)).toBe(true);
  });

  it('eventList filters who hears --delnodes (any role); leavers are announced before removal', () => {
    const base = { worker: 3, head: 1, cache: 1, proxy: 1, passive: 1 };
    const sim = settled(mixed, base);
    const steps = sim.change({ ...base, worker: 1 }).converge();
    const leavers = names('worker', 1, 2);
    expect(steps.map(brief)).toEqual([
      { kind: 'markLeaving', role: 'worker', members: leavers },
      // worker lacks delnodes, cache lacks it, proxy has no package: head and passive hear it.
      { kind: 'runEvent', event: 'delnodes', role: 'worker', argv: notifyArgv('delnodes', 'worker', fqdns('worker', 1, 2)), targets: [...names('head', 0), ...names('passive', 0)], about: leavers },
      { kind: 'writeConfigmeta', members: [...names('worker', 0), ...names('head', 0), ...names('cache', 0), ...names('proxy', 0), ...names('passive', 0)] },
      { kind: 'removeMembers', role: 'worker', members: leavers },
    ]);
    expectSettled(sim, { ...base, worker: 1 });
  });

  it('when no survivor handles delnodes: no --delnodes, configmeta then removal', () => {
    const app = makeApp([{ id: 'w', cardinality: '1+', eventList: ['configure', 'addnodes'] }]);
    const sim = settled(app, { w: 3 });
    expect(sim.change({ w: 1 }).converge().map(brief)).toEqual([
      { kind: 'markLeaving', role: 'w', members: names('w', 1, 2) },
      { kind: 'writeConfigmeta', members: names('w', 0) },
      { kind: 'removeMembers', role: 'w', members: names('w', 1, 2) },
    ]);
    expectSettled(sim, { w: 1 });
  });

  it('a role to zero while other roles stay', () => {
    const sim = settled(app3, { a: 1, b: 2, c: 2 });
    const steps = sim.change({ a: 1, b: 2, c: 0 }).converge();
    expect(steps.map(brief)).toEqual(
      expect.arrayContaining([
        { kind: 'runEvent', event: 'delnodes', role: 'c', argv: notifyArgv('delnodes', 'c', fqdns('c', 0, 1)), targets: [...names('a', 0), ...names('b', 0, 1)], about: names('c', 0, 1) },
        { kind: 'writeConfigmeta', members: [...names('a', 0), ...names('b', 0, 1)] },
      ]),
    );
    expect(steps).toHaveLength(4);
    expect(brief(steps[0]!)).toEqual({ kind: 'markLeaving', role: 'c', members: names('c', 0, 1) });
    expect(brief(steps[3]!)).toEqual({ kind: 'removeMembers', role: 'c', members: names('c', 0, 1) });
    expectSettled(sim, { a: 1, b: 2 });
    expectEveryoneKnowsEveryone(sim);
  });

  it('everything to zero: no survivor to notify, just removal', () => {
    const sim = settled(single, { worker: 2 });
    expect(sim.change({ worker: 0 }).converge().map(brief)).toEqual([
      { kind: 'markLeaving', role: 'worker', members: names('worker', 0, 1) },
      { kind: 'removeMembers', role: 'worker', members: names('worker', 0, 1) },
    ]);
    expect(sim.members).toEqual([]);
  });

  it('a leaver in config error leaves too (and is named in --delnodes)', () => {
    const sim = settled(single, { worker: 2 });
    sim.fail = (step, member) => (step.kind === 'runEvent' && step.event === 'configure' && member === nm('worker', 3) ? 'boom' : undefined);
    sim.change({ worker: 4 }).converge();
    sim.fail = never;
    const steps = sim.change({ worker: 2 }).converge();
    expect(steps[1]).toMatchObject({ kind: 'runEvent', event: 'delnodes', about: names('worker', 2, 3), targets: names('worker', 0, 1) });
    expectSettled(sim, { worker: 2 });
  });

  // Regression test (found as a planner bug, fixed in workflows/plan.ts).
  it('a role other than the first: --delnodes still comes before the configmeta rewrite', () => {
    const sim = settled(app3, { a: 1, b: 3 });
    expect(sim.change({ a: 1, b: 2 }).converge().map(brief)).toEqual([
      { kind: 'markLeaving', role: 'b', members: names('b', 2) },
      { kind: 'runEvent', event: 'delnodes', role: 'b', argv: notifyArgv('delnodes', 'b', fqdns('b', 2)), targets: [...names('a', 0), ...names('b', 0, 1)], about: names('b', 2) },
      { kind: 'writeConfigmeta', members: [...names('a', 0), ...names('b', 0, 1)] },
      { kind: 'removeMembers', role: 'b', members: names('b', 2) },
    ]);
  });

  it('a role other than the first: --delnodes still precedes removal, and the result is right', () => {
    const sim = settled(app3, { a: 1, b: 3, c: 1 });
    const steps = sim.change({ a: 1, b: 2, c: 1 }).converge();
    const del = steps.findIndex((s) => s.kind === 'runEvent' && s.event === 'delnodes');
    const rm = steps.findIndex((s) => s.kind === 'removeMembers');
    expect(del).toBeGreaterThan(0);
    expect(del).toBeLessThan(rm);
    expect(steps[del]).toMatchObject({ about: names('b', 2), targets: [...names('a', 0), ...names('b', 0, 1), ...names('c', 0)] });
    expectSettled(sim, { a: 1, b: 2, c: 1 });
    expectEveryoneKnowsEveryone(sim);
  });

  it('grow one role and shrink another in one spec', () => {
    const sim = settled(app3, { a: 1, b: 3, c: 0 });
    const steps = sim.change({ a: 1, b: 2, c: 1 }).converge();
    const rm = steps.findIndex((s) => s.kind === 'removeMembers');
    const createC = steps.findIndex((s) => s.kind === 'createMembers');
    expect(rm).toBeLessThan(createC); // b before c
    expect(steps.at(-1)).toMatchObject({ kind: 'runEvent', event: 'addnodes', role: 'c', targets: [...names('a', 0), ...names('b', 0, 1)], about: names('c', 0) });
    expectSettled(sim, { a: 1, b: 2, c: 1 });
    expectEveryoneKnowsEveryone(sim);
  });
});

describe('notify failures and retry', () => {
  it('a failed --addnodes is recorded on its target, which stays configured; retry runs it again', () => {
    const sim = settled(single, { worker: 3 });
    sim.fail = (step, member) => (step.kind === 'runEvent' && step.event === 'addnodes' && member === nm('worker', 1) ? 'addnodes exit 3' : undefined);
    const steps = sim.change({ worker: 4 }).converge();
    expect(steps.at(-1)).toMatchObject({ kind: 'runEvent', event: 'addnodes', targets: names('worker', 0, 1, 2), about: names('worker', 3) });
    const target = sim.get(nm('worker', 1));
    expect(target).toMatchObject({
      state: 'configured',
      lastError: 'addnodes exit 3',
      failedNotifies: [{ event: 'addnodes', role: 'worker', fqdns: fqdns('worker', 3) }],
      retryNotifies: [],
    });
    expect(target.events.at(-1)).toMatchObject({ event: 'addnodes', exitCode: 1, error: 'addnodes exit 3' });
    expect(sim.get(nm('worker', 3)).announced).toBe(true);
    expectSettled(sim, { worker: 4 });

    // requestRetry moves the failed notify into retryNotifies; the planner re-runs it on that member only.
    sim.retry();
    expect(sim.get(nm('worker', 1))).toMatchObject({ failedNotifies: [], retryNotifies: [{ event: 'addnodes', role: 'worker', fqdns: fqdns('worker', 3) }], lastError: undefined });
    sim.fail = never;
    expect(sim.converge().map(brief)).toEqual([
      { kind: 'runEvent', event: 'addnodes', role: 'worker', argv: notifyArgv('addnodes', 'worker', fqdns('worker', 3)), targets: names('worker', 1), about: [], retry: true },
    ]);
    expect(sim.get(nm('worker', 1))).toMatchObject({ state: 'configured', failedNotifies: [], retryNotifies: [] });
    expectSettled(sim, { worker: 4 });
    expectEveryoneKnowsEveryone(sim);
  });

  it('a failed --delnodes is recorded on its target; the leaver is still removed; retry runs it again', () => {
    const sim = settled(single, { worker: 3 });
    sim.fail = (step, member) => (step.kind === 'runEvent' && step.event === 'delnodes' && member === nm('worker', 0) ? 'delnodes exit 2' : undefined);
    const steps = sim.change({ worker: 2 }).converge();
    expect(steps.map((s) => s.kind)).toEqual(['markLeaving', 'runEvent', 'writeConfigmeta', 'removeMembers']);
    expect(sim.get(nm('worker', 0))).toMatchObject({
      state: 'configured',
      lastError: 'delnodes exit 2',
      failedNotifies: [{ event: 'delnodes', role: 'worker', fqdns: fqdns('worker', 2) }],
    });
    expectSettled(sim, { worker: 2 });

    sim.fail = never;
    expect(sim.retry(nm('worker', 0)).converge().map(brief)).toEqual([
      { kind: 'runEvent', event: 'delnodes', role: 'worker', argv: notifyArgv('delnodes', 'worker', fqdns('worker', 2)), targets: names('worker', 0), about: [], retry: true },
    ]);
    expect(sim.get(nm('worker', 0))).toMatchObject({ failedNotifies: [], retryNotifies: [] });
    expectEveryoneKnowsEveryone(sim);
  });

  it('a retried notify that fails again is recorded again and does not loop', () => {
    const sim = settled(single, { worker: 2 });
    sim.fail = (step, member) => (step.kind === 'runEvent' && step.event === 'addnodes' && member === nm('worker', 0) ? 'still failing' : undefined);
    sim.change({ worker: 3 }).converge();
    const again = sim.retry().converge();
    expect(again).toHaveLength(1);
    expect(sim.get(nm('worker', 0))).toMatchObject({ state: 'configured', retryNotifies: [], failedNotifies: [{ event: 'addnodes', role: 'worker', fqdns: fqdns('worker', 2) }], lastError: 'still failing' });
  });

  it('several failed notifies on one member are retried one at a time, in order', () => {
    const sim = settled(single, { worker: 1 });
    sim.fail = (step, member) => (step.kind === 'runEvent' && step.event !== 'configure' && member === nm('worker', 0) ? 'x' : undefined);
    sim.change({ worker: 2 }).converge();
    sim.change({ worker: 3 }).converge();
    sim.change({ worker: 2 }).converge();
    expect(sim.get(nm('worker', 0)).failedNotifies).toEqual([
      { event: 'addnodes', role: 'worker', fqdns: fqdns('worker', 1) },
      { event: 'addnodes', role: 'worker', fqdns: fqdns('worker', 2) },
      { event: 'delnodes', role: 'worker', fqdns: fqdns('worker', 2) },
    ]);
    sim.fail = never;
    const steps = sim.retry().converge();
    expect(steps.map((s) => (s as Extract<Step, { kind: 'runEvent' }>).argv)).toEqual([
      notifyArgv('addnodes', 'worker', fqdns('worker', 1)),
      notifyArgv('addnodes', 'worker', fqdns('worker', 2)),
      notifyArgv('delnodes', 'worker', fqdns('worker', 2)),
    ]);
    expect(steps.every((s) => s.kind === 'runEvent' && s.retry === true && s.targets.length === 1 && s.targets[0] === nm('worker', 0))).toBe(true);
    expectSettled(sim, { worker: 2 });
  });

  it('requestRetry: config error → creating (re-ensured from scratch), failed notifies → retryNotifies, others untouched', () => {
    const d = makeDesired(single, { worker: 3 }, 1);
    const base = newMember(d, 'worker', 0);
    const broken: Member = { ...base, state: 'config error', created: true, ready: true, configmeta: 'k', packageInstalled: true, announced: true, lastError: 'boom' };
    const notify = { event: 'addnodes' as const, role: 'worker', fqdns: ['x'] };
    const queued = { event: 'delnodes' as const, role: 'worker', fqdns: ['y'] };
    const noisy: Member = { ...base, name: nm('worker', 1), ordinal: 1, state: 'configured', failedNotifies: [notify], retryNotifies: [queued], lastError: 'n' };
    const fine: Member = { ...base, name: nm('worker', 2), ordinal: 2, state: 'configured' };
    const all = requestRetry([broken, noisy, fine]);
    expect(all[0]).toMatchObject({ state: 'creating', created: false, ready: false, configmeta: '', packageInstalled: false, announced: false, lastError: undefined });
    expect(all[1]).toMatchObject({ state: 'configured', failedNotifies: [], retryNotifies: [queued, notify], lastError: undefined });
    expect(all[2]).toEqual(fine);
    // Only the named member.
    const one = requestRetry([broken, noisy, fine], nm('worker', 1));
    expect(one[0]).toEqual(broken);
    expect(one[1]!.retryNotifies).toEqual([queued, notify]);
    // Pure.
    expect(broken.state).toBe('config error');
    expect(noisy.failedNotifies).toEqual([notify]);
  });

  it('retry of a member whose creation failed re-creates it', () => {
    const sim = settled(single, { worker: 1 });
    sim.fail = (step, member) => (step.kind === 'createMembers' && member === nm('worker', 1) ? 'no space' : undefined);
    sim.change({ worker: 2 }).converge();
    expect(sim.get(nm('worker', 1))).toMatchObject({ state: 'config error', created: false, lastError: 'no space' });
    sim.fail = never;
    const steps = sim.retry().converge();
    expect(steps[0]).toEqual({ kind: 'createMembers', batch: expect.any(Number), members: [{ name: nm('worker', 1), role: 'worker', ordinal: 1 }] });
    expect(steps.at(-1)).toMatchObject({ kind: 'runEvent', event: 'addnodes', targets: names('worker', 0), about: names('worker', 1) });
    expectSettled(sim, { worker: 2 });
  });

  it('a configure failure in the first batch: retry configures it, with no --addnodes to its own batch', () => {
    const sim = new Sim(makeDesired(single, { worker: 2 }, 1), (step, member) => (step.kind === 'runEvent' && member === nm('worker', 1) ? 'bad' : undefined));
    sim.converge();
    expect(sim.members.map((m) => m.state)).toEqual(['configured', 'config error']);
    sim.fail = never;
    const steps = sim.retry().converge();
    expect(steps.map((s) => s.kind)).toEqual(['createMembers', 'awaitReady', 'writeConfigmeta', 'installPackage', 'runEvent', 'markAnnounced']);
    expectSettled(sim, { worker: 2 });
  });

  it('a config error member gets no more scripts, not even notifies about later members', () => {
    const sim = settled(single, { worker: 2 });
    sim.fail = (step, member) => (step.kind === 'runEvent' && step.event === 'configure' && member === nm('worker', 2) ? 'x' : undefined);
    sim.change({ worker: 3 }).converge();
    sim.fail = never;
    const grow = sim.change({ worker: 4 }).converge();
    const shrink = sim.change({ worker: 3 }).converge();
    for (const s of [...grow, ...shrink]) if (s.kind === 'runEvent') expect(s.targets).not.toContain(nm('worker', 2));
    expect(sim.get(nm('worker', 2)).events).toHaveLength(1);
    expect(sim.get(nm('worker', 2)).state).toBe('config error');
  });

  // Regression test (found as a planner bug, fixed in workflows/plan.ts).
  it('a member re-created by retry keeps no stale failed notify', () => {
    const sim = settled(single, { worker: 2 });
    sim.fail = (step, member) => (step.kind === 'runEvent' && step.event === 'addnodes' && member === nm('worker', 0) ? 'addnodes failed' : undefined);
    sim.change({ worker: 3 }).converge();
    expect(sim.get(nm('worker', 0)).failedNotifies).toEqual([{ event: 'addnodes', role: 'worker', fqdns: fqdns('worker', 2) }]);
    let once = true;
    sim.fail = (step, member) => {
      if (step.kind === 'writeConfigmeta' && member === nm('worker', 0) && once) {
        once = false;
        return 'write failed';
      }
      return undefined;
    };
    sim.change({ worker: 4 }).converge();
    expect(sim.get(nm('worker', 0))).toMatchObject({ state: 'config error', lastError: 'write failed' });
    sim.fail = never;
    sim.retry().converge();
    expect(sim.get(nm('worker', 0))).toMatchObject({ state: 'configured', lastError: undefined, failedNotifies: [], retryNotifies: [] });
    // Nothing is left to replay: worker-0 was just configured with a configmeta listing worker-2.
    expect(sim.retry().converge()).toEqual([]);
  });

  // Regression test (found as a planner bug, fixed in workflows/plan.ts).
  it('a member whose configmeta write keeps failing is left in config error and the plan converges', () => {
    const sim = settled(single, { worker: 2 });
    sim.fail = (step, member) => (step.kind === 'writeConfigmeta' && member === nm('worker', 1) ? 'node gone' : undefined);
    sim.change({ worker: 3 }).converge(200);
    expect(sim.get(nm('worker', 1)).state).toBe('config error');
    expectSettled(sim, { worker: 3 });
  });
});

describe('applyOutcome details', () => {
  it('records each target script run into its events, keeping the newest 20', () => {
    const sim = settled(single, { worker: 1 });
    for (let n = 2; n <= 25; n++) sim.change({ worker: n }).converge();
    const first = sim.get(nm('worker', 0));
    expect(first.events).toHaveLength(20);
    expect(first.events.at(-1)!.argv).toEqual(notifyArgv('addnodes', 'worker', fqdns('worker', 24)));
    expect(first.events[0]!.argv).toEqual(notifyArgv('addnodes', 'worker', fqdns('worker', 5)));
  });

  it('does not mutate its input members', () => {
    const d = makeDesired(single, { worker: 2 }, 1);
    const sim = settled(single, { worker: 2 });
    const frozen = structuredClone(sim.members);
    const d2 = makeDesired(single, { worker: 1 }, 2);
    let members = sim.members;
    for (let step = nextStep(d2, members); step; step = nextStep(d2, members)) {
      const failed = step.kind === 'runEvent' ? { [nm('worker', 0)]: 'x' } : {};
      members = applyOutcome(d2, members, step, { failed, runs: {} });
    }
    expect(members.map((m) => [m.name, m.state, m.failedNotifies.length])).toEqual([[nm('worker', 0), 'configured', 1]]);
    expect(sim.members).toEqual(frozen);
    expect(plan(d, sim.members)).toEqual([]);
  });

  it('stepMembers names everyone a step touches', () => {
    expect(stepMembers({ kind: 'createMembers', batch: 1000, members: [{ name: 'x', role: 'r', ordinal: 0 }] })).toEqual(['x']);
    expect(stepMembers({ kind: 'runEvent', event: 'addnodes', role: 'r', argv: [], targets: ['a', 'b'], about: ['c', 'a'] })).toEqual(['a', 'b', 'c']);
    expect(stepMembers({ kind: 'removeMembers', role: 'r', members: ['z'] })).toEqual(['z']);
  });

  it('createMembers keeps the members sorted in app role order, then ordinal', () => {
    const sim = settled(app3, { a: 1, b: 2, c: 1 });
    sim.change({ a: 1, b: 4, c: 2 }).converge();
    expect(sim.members.map((m) => m.name)).toEqual([...names('a', 0), ...names('b', 0, 1, 2, 3), ...names('c', 0, 1)]);
  });
});

describe('plan()', () => {
  it('is the success-only replay of the loop, for grow and shrink', () => {
    const sim = settled(app3, { a: 1, b: 2, c: 1 });
    const d = makeDesired(app3, { a: 1, b: 4, c: 0 }, 2);
    const planned = plan(d, sim.members);
    sim.desired = d;
    expect(sim.converge()).toEqual(planned);
  });

  it('is nextStep → applyOutcome(succeeded) until nextStep is undefined', () => {
    const d = makeDesired(app3, { a: 1, b: 3, c: 1 }, 1);
    const steps: Step[] = [];
    let members: Member[] = [];
    for (let step = nextStep(d, members); step; step = nextStep(d, members)) {
      steps.push(step);
      members = applyOutcome(d, members, step, succeeded);
    }
    expect(plan(d, [])).toEqual(steps);
    expect(members.every((m) => m.state === 'configured' && m.events.length === 0)).toBe(true); // succeeded carries no runs
  });

  it('throws rather than hang when the limit is reached', () => {
    const d = makeDesired(single, { worker: 3 }, 1);
    expect(() => plan(d, [], 3)).toThrow(/did not converge after 3 steps/);
  });

  // Regression test (found as a planner bug, fixed in workflows/plan.ts).
  it('a plan of exactly `limit` steps is returned', () => {
    const d = makeDesired(single, { worker: 3 }, 1);
    const n = plan(d, []).length;
    expect(plan(d, [], n)).toHaveLength(n);
  });
});

describe('topologyKey', () => {
  it('changes when membership changes, and not otherwise', () => {
    const sim = settled(single, { worker: 3 });
    const key = topologyKey(sim.members);
    expect(key).toMatch(/^3:[0-9a-f]+$/);
    // State, readiness, errors, events, batches: no change.
    const touched = sim.members.map((m, i) => ({ ...m, state: i === 1 ? ('config error' as const) : m.state, ready: false, lastError: 'x', events: [], batch: 9, configmeta: 'zzz' }));
    expect(topologyKey(touched)).toBe(key);
    expect(topologyKey(structuredClone(sim.members))).toBe(key);
    // A member more, a member less, a member leaving: change.
    const more = [...sim.members, newMember(sim.desired, 'worker', 3)];
    expect(topologyKey(more)).not.toBe(key);
    expect(topologyKey(more)).toMatch(/^4:/);
    expect(topologyKey(sim.members.slice(0, 2))).not.toBe(key);
    const leaving = sim.members.map((m) => (m.ordinal === 2 ? { ...m, state: 'delete pending' as const } : m));
    expect(topologyKey(leaving)).toBe(topologyKey(sim.members.slice(0, 2)));
    expect(topologyKey(sim.members.map((m) => (m.ordinal === 2 ? { ...m, state: 'deleting' as const } : m)))).toBe(topologyKey(sim.members.slice(0, 2)));
    // Same count, other names: change.
    const swapped = [sim.members[0]!, sim.members[1]!, newMember(sim.desired, 'worker', 7)];
    expect(topologyKey(swapped)).not.toBe(key);
    expect(topologyKey([])).toBe(topologyKey([]));
    expect(topologyKey([])).toMatch(/^0:/);
  });

  it('the configmeta key moves with grow and shrink, and returns to the same key for the same membership', () => {
    const sim = settled(single, { worker: 2 });
    const k2 = topologyKey(sim.members);
    sim.change({ worker: 3 }).converge();
    const k3 = topologyKey(sim.members);
    expect(k3).not.toBe(k2);
    sim.change({ worker: 2 }).converge();
    expect(topologyKey(sim.members)).toBe(k2);
    expect(sim.members.every((m) => m.configmeta === k2)).toBe(true);
  });

  it('distinct memberships of a 3-role cluster get distinct keys', () => {
    const keys = new Set<string>();
    let count = 0;
    for (let a = 0; a <= 4; a++)
      for (let b = 0; b <= 4; b++)
        for (let c = 0; c <= 4; c++) {
          const d = makeDesired(app3, { a, b, c }, 1);
          const members = [...Array(a).keys()].map((o) => newMember(d, 'a', o)).concat([...Array(b).keys()].map((o) => newMember(d, 'b', o)), [...Array(c).keys()].map((o) => newMember(d, 'c', o)));
          keys.add(topologyKey(members));
          count++;
        }
    expect(keys.size).toBe(count);
  });
});

// ---------------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------------

interface Counts3 extends Record<string, number> {
  a: number;
  b: number;
  c: number;
}

const STARTS: Counts3[] = [
  { a: 0, b: 0, c: 0 },
  { a: 1, b: 2, c: 0 },
  { a: 1, b: 3, c: 2 },
  { a: 2, b: 4, c: 1 },
];

function* targets(): Generator<Counts3> {
  for (let a = 0; a <= 4; a++) for (let b = 0; b <= 4; b++) for (let c = 0; c <= 4; c++) yield { a, b, c };
}

const changedRoles = (from: Record<string, number>, to: Record<string, number>) => Object.keys(to).filter((r) => (from[r] ?? 0) !== to[r]).length;

/** Transient failures: any member in any step that can fail, each time with probability p. */
function randomFailures(rng: () => number, p: number): FailFn {
  return () => (rng() < p ? 'random failure' : undefined);
}

/**
 * Failures that stick to members: each (member, step kind) pair fails always or never. Configmeta
 * writes are left out: a sticky one never converges (see "notify failures and retry").
 */
function stickyFailures(rng: () => number, p: number): FailFn {
  const decided = new Map<string, boolean>();
  return (step, member) => {
    if (step.kind === 'writeConfigmeta') return undefined;
    const key = `${member}/${step.kind}/${step.kind === 'runEvent' ? step.event : ''}`;
    if (!decided.has(key)) decided.set(key, rng() < p);
    return decided.get(key) ? `sticky ${key}` : undefined;
  };
}

describe('convergence (property)', () => {
  it('every change from a settled cluster converges, with every step succeeding', () => {
    let runs = 0;
    for (const start of STARTS) {
      for (const target of targets()) {
        const sim = start.a + start.b + start.c === 0 ? new Sim(makeDesired(app3, {}, 1)) : settled(app3, start);
        sim.change(target);
        // plan() is exactly the success-only replay of the loop.
        const planned = plan(sim.desired, sim.members);
        expect(sim.converge(500)).toEqual(planned);
        expectSettled(sim, target);
        expect(sim.members.every((m) => m.state === 'configured' && m.failedNotifies.length === 0 && m.announced)).toBe(true);
        // Every member's startscript learns of every other, from configmeta or --addnodes.
        expectEveryoneKnowsEveryone(sim);
        runs++;
      }
    }
    expect(runs).toBe(STARTS.length * 125);
  });

  for (const [label, make] of [
    ['random 15%', (rng: () => number) => randomFailures(rng, 0.15)],
    ['random 40%', (rng: () => number) => randomFailures(rng, 0.4)],
    ['sticky 20%', (rng: () => number) => stickyFailures(rng, 0.2)],
  ] as const) {
    it(`converges under ${label} failures; retry then heals everything`, () => {
      const rng = mulberry32(0xc0ffee ^ label.length);
      for (const start of STARTS) {
        for (const target of targets()) {
          const sim = start.a + start.b + start.c === 0 ? new Sim(makeDesired(app3, {}, 1)) : settled(app3, start);
          sim.fail = make(rng);
          sim.change(target).converge(500);
          expectSettled(sim, target);
          // Failed members took no script after their failure; failed notifies are recorded.
          for (const m of sim.members) if (m.state === 'config error') expect(m.lastError).toBeTruthy();

          // A retry under the same failures still converges.
          sim.retry().converge(500);
          expectSettled(sim, target);

          // A retry with the faults gone heals the cluster.
          sim.fail = never;
          sim.retry().converge(500);
          expectSettled(sim, target);
          expect(sim.members.every((m) => m.state === 'configured' && m.failedNotifies.length === 0 && m.retryNotifies.length === 0)).toBe(true);
        }
      }
    });
  }

  it('a change that lands mid-operation (after any number of steps) still converges to the new spec', () => {
    const rng = mulberry32(42);
    const all = [...targets()];
    for (let trial = 0; trial < 600; trial++) {
      const start = STARTS[Math.floor(rng() * STARTS.length)]!;
      const mid = all[Math.floor(rng() * all.length)]!;
      const end = all[Math.floor(rng() * all.length)]!;
      const sim = start.a + start.b + start.c === 0 ? new Sim(makeDesired(app3, {}, 1)) : settled(app3, start);
      sim.fail = rng() < 0.5 ? randomFailures(rng, 0.2) : never;
      sim.change(mid);
      const cut = Math.floor(rng() * 12);
      for (let i = 0; i < cut && sim.step(); i++);
      // A retry may land mid-operation too.
      if (rng() < 0.3) sim.retry();
      sim.change(end).converge(500);
      expectSettled(sim, end);
      sim.fail = never;
      sim.retry().converge(500);
      expectSettled(sim, end);
      expect(sim.members.every((m) => m.state === 'configured')).toBe(true);
    }
  });

  it('the mixed-eventList app converges too, with and without failures', () => {
    const rng = mulberry32(7);
    for (let trial = 0; trial < 300; trial++) {
      const counts = () => Object.fromEntries(mixed.roles.map((r) => [r.id, Math.floor(rng() * 4)]));
      const start = counts();
      const end = counts();
      const sim = settled(mixed, start);
      expectSettled(sim, start);
      sim.fail = rng() < 0.5 ? randomFailures(rng, 0.25) : never;
      sim.change(end).converge(500);
      expectSettled(sim, end);
      sim.fail = never;
      sim.retry().converge(500);
      expectSettled(sim, end);
      expect(sim.members.every((m) => m.state === 'configured')).toBe(true);
    }
  });
});
