/**
 * Cluster hooks and role order (docs/adr/0053): the planner's staged create and grow order through
 * the simulator of plan-sim.ts (its preconditions and "everyone knows everyone" included), on both
 * planner versions; the pure hook decisions (postProvision once, retry, the delete's plan); and the
 * app rules, which the schema and the workflow's light check share.
 */
import { describe, expect, it } from 'vitest';
import { KdAppSpec, checkAppSpec, growOrder, provisionStages, terminateStages } from '../../api/index.ts';
import type { KdAppSpecInput } from '../../api/index.ts';
import { hookPlanLines, nextPostProvision, retriedHooks, teardownPlan, type HookRun } from '../../workflows/hooks.ts';
import { applyOutcome, plan } from '../../workflows/plan.ts';
import { plannerFor } from '../../workflows/planners.ts';
import {
  Sim,
  brief,
  expectEveryoneKnowsEveryone,
  expectSettled,
  makeDesired,
  names,
  nm,
  type FailFn,
} from './plan-sim.ts';

const ALL_EVENTS = ['configure', 'addnodes', 'delnodes', 'postprovision', 'preterminate'] as const;

function staged(extra: Partial<KdAppSpecInput>, roles = ['master', 'worker', 'edge']): KdAppSpec {
  return KdAppSpec.parse({
    label: { name: 'Test app' },
    distroID: 'test/app',
    version: '1.0',
    defaultImageRepoTag: 'img:1',
    defaultConfigPackage: { packageURL: 'file:///pkg.tgz' },
    defaultEventList: [...ALL_EVENTS],
    roles: roles.map((id) => ({ id, cardinality: '0+' })),
    ...extra,
  });
}

const launches = (steps: ReturnType<typeof plan>) =>
  steps.flatMap((s) => (s.kind === 'launchMembers' ? [[...new Set(s.members.map((m) => m.role))].join(',')] : []));

describe.each([2, 3])('role order on planner v%i', (version) => {
  const planner = plannerFor(version);
  const run = (app: KdAppSpec, counts: Record<string, number>, fail?: FailFn) => {
    const sim = new Sim(makeDesired(app, counts, 1), fail, planner);
    const steps = sim.converge();
    return { sim, steps };
  };

  it('without roleOrder, create launches every role as one batch (unchanged)', () => {
    const { steps } = run(staged({}), { master: 1, worker: 2, edge: 1 });
    expect(launches(steps)).toEqual(['master,worker,edge']);
  });

  it('provision stages: masters configured before workers are created; a stage of two roles is one batch', () => {
    const app = staged({ roleOrder: { provision: [['master'], ['worker', 'edge']] } });
    const { sim, steps } = run(app, { master: 2, worker: 2, edge: 1 });
    expect(launches(steps)).toEqual(['master', 'worker,edge']);
    const counts = { master: 2, worker: 2, edge: 1 };
    const configuredMasters = steps.findIndex(
      (s) => s.kind === 'runEvent' && s.event === 'configure' && s.role === 'master',
    );
    const workersLaunched = steps.findIndex(
      (s) => s.kind === 'launchMembers' && s.members.some((m) => m.role === 'worker'),
    );
    expect(configuredMasters).toBeGreaterThanOrEqual(0);
    expect(configuredMasters).toBeLessThan(workersLaunched);
    // Masters hear --addnodes about the later stage; workers and edge learned of each other from configmeta.
    expect(steps.filter((s) => s.kind === 'runEvent' && s.event === 'addnodes').map(brief)).toEqual([
      expect.objectContaining({ role: 'worker', targets: names('master', 0, 1) }),
      expect.objectContaining({ role: 'edge', targets: names('master', 0, 1) }),
    ]);
    expectSettled(sim, counts);
    expectEveryoneKnowsEveryone(sim);
  });

  it('roles no stage names form the last stage', () => {
    const app = staged({ roleOrder: { provision: [['edge']] } });
    expect(provisionStages(app)).toEqual([['edge'], ['master', 'worker']]);
    expect(launches(run(app, { master: 1, worker: 1, edge: 1 }).steps)).toEqual(['edge', 'master,worker']);
  });

  it('a master in config error holds the workers back until retry, then they come', () => {
    const app = staged({ roleOrder: { provision: [['master'], ['worker']] } });
    let failing = true;
    const fail: FailFn = (step, member) =>
      failing && step.kind === 'runEvent' && step.event === 'configure' && member === nm('master', 0)
        ? 'boom'
        : undefined;
    const { sim, steps } = run(app, { master: 1, worker: 2 }, fail);
    expect(launches(steps)).toEqual(['master']);
    expect(sim.members.map((m) => m.role)).toEqual(['master']);
    failing = false;
    sim.retry();
    const after = sim.converge();
    expect(launches(after)).toEqual(['master', 'worker']);
    expectSettled(sim, { master: 1, worker: 2 });
    expectEveryoneKnowsEveryone(sim);
  });

  it('grow order: a resize takes the roles in the declared turns', () => {
    const app = staged({ roleOrder: { grow: ['edge', 'worker'] } });
    expect(growOrder(app)).toEqual(['edge', 'worker', 'master']);
    const { sim } = run(app, { master: 1, worker: 1, edge: 1 });
    sim.change({ master: 2, worker: 2, edge: 2 });
    const steps = sim.converge();
    expect(launches(steps)).toEqual(['edge', 'worker', 'master']);
    expectSettled(sim, { master: 2, worker: 2, edge: 2 });
    expectEveryoneKnowsEveryone(sim);
  });

  it('from every small start to every small target with stages, the cluster converges and everyone knows everyone', () => {
    const app = staged({ roleOrder: { provision: [['worker'], ['master']], grow: ['edge'] } });
    for (const start of [0, 1, 2])
      for (const target of [0, 1, 3]) {
        const { sim } = run(app, { master: start, worker: start ? 1 : 0, edge: start });
        sim.change({ master: target, worker: 1, edge: 3 - target });
        sim.converge();
        expectSettled(sim, { master: target, worker: 1, edge: 3 - target });
        expectEveryoneKnowsEveryone(sim);
      }
  });
});

const hooked = staged({
  hooks: { postProvision: { role: 'master', attempts: 2 }, preTerminate: { role: 'master', timeoutSeconds: 5 } },
  roleOrder: { terminate: [['edge', 'worker']] },
});

function settledCluster(app: KdAppSpec, counts: Record<string, number>) {
  const sim = new Sim(makeDesired(app, counts, 1), undefined, plannerFor(3));
  sim.converge();
  return sim;
}

describe('postProvision', () => {
  it('is due once, on the lowest configured member of its role, only when the whole cluster is configured', () => {
    const sim = new Sim(makeDesired(hooked, { master: 2, worker: 1 }, 1), undefined, plannerFor(3));
    expect(nextPostProvision(sim.desired, sim.members, {})).toBeUndefined();
    sim.step();
    expect(nextPostProvision(sim.desired, sim.members, {})).toBeUndefined();
    sim.converge();
    const due = nextPostProvision(sim.desired, sim.members, {});
    expect(due).toMatchObject({
      member: nm('master', 0),
      settings: { event: 'postprovision', attempts: 2, timeoutSeconds: 300 },
    });
    const ran: HookRun = {
      state: 'succeeded',
      member: nm('master', 0),
      attempts: 1,
      exitCode: 0,
      startedAt: 1,
      finishedAt: 2,
    };
    expect(nextPostProvision(sim.desired, sim.members, { hooks: { postProvision: ran } })).toBeUndefined();
    // A grow is not a provision: the record stays, nothing more is due.
    sim.change({ master: 2, worker: 3 }).converge();
    expect(nextPostProvision(sim.desired, sim.members, { hooks: { postProvision: ran } })).toBeUndefined();
  });

  it('not while a member is in config error; a failed run waits for retry of the cluster or its member', () => {
    const sim = new Sim(
      makeDesired(hooked, { master: 1, worker: 1 }, 1),
      (step, member) => (step.kind === 'runEvent' && member === nm('worker', 0) ? 'no' : undefined),
      plannerFor(3),
    );
    sim.converge();
    expect(nextPostProvision(sim.desired, sim.members, {})).toBeUndefined();
    const failed: HookRun = {
      state: 'failed',
      member: nm('master', 0),
      attempts: 2,
      exitCode: 1,
      startedAt: 1,
      finishedAt: 2,
      error: 'x',
    };
    const state = { hooks: { postProvision: failed } };
    expect(retriedHooks(state, [nm('worker', 0)])).toBe(state.hooks);
    expect(retriedHooks(state, [nm('master', 0)])).toEqual({});
    expect(retriedHooks(state, [null])).toEqual({});
    const succeeded = { hooks: { postProvision: { ...failed, state: 'succeeded' as const } } };
    expect(retriedHooks(succeeded, [null])).toBe(succeeded.hooks);
  });

  it('an app without hooks has none due, whatever its state', () => {
    const sim = settledCluster(staged({}), { master: 1 });
    expect(nextPostProvision(sim.desired, sim.members, {})).toBeUndefined();
  });
});

describe('the delete plan', () => {
  it('preTerminate first, then the terminate stages, the last one with the cluster', () => {
    const sim = settledCluster(hooked, { master: 2, worker: 1, edge: 1 });
    expect(terminateStages(hooked)).toEqual([['edge', 'worker'], ['master']]);
    expect(teardownPlan(sim.desired, sim.members, false)).toEqual([
      {
        kind: 'hook',
        step: {
          member: nm('master', 0),
          settings: expect.objectContaining({ event: 'preterminate', timeoutSeconds: 5, attempts: 1 }),
        },
      },
      { kind: 'remove', members: [nm('worker', 0), nm('edge', 0)] },
      { kind: 'teardown', members: names('master', 0, 1) },
    ]);
  });

  it('--skip-hooks, or no member of the hook role, skips the hook with the reason; no roleOrder is one teardown', () => {
    const sim = settledCluster(hooked, { worker: 1 });
    expect(teardownPlan(sim.desired, sim.members, true)[0]).toEqual({
      kind: 'skipHook',
      reason: 'skipped: kdflow delete --skip-hooks',
    });
    expect(teardownPlan(sim.desired, sim.members, false)[0]).toEqual({
      kind: 'skipHook',
      reason: 'skipped: role "master" has no member to run on',
    });
    const plain = settledCluster(staged({}), { master: 1, worker: 2 });
    expect(teardownPlan(plain.desired, plain.members, false)).toEqual([
      { kind: 'teardown', members: [nm('master', 0), ...names('worker', 0, 1)] },
    ]);
  });

  it('kdflow plan shows the hook and the delete order', () => {
    const desired = makeDesired(hooked, { master: 1, worker: 1 }, 1);
    const steps = plan(desired, []);
    expect(hookPlanLines(applyOutcome, desired, [], steps, {})).toEqual([
      `postprovision on ${nm('master', 0)} (hook, once)`,
      `on delete: preterminate on ${nm('master', 0)}, then remove ${nm('worker', 0)}, then remove ${nm('master', 0)}`,
    ]);
    expect(hookPlanLines(applyOutcome, makeDesired(staged({}), { master: 1 }, 1), [], [], {})).toEqual([]);
  });
});

describe('the app rules', () => {
  const issues = (extra: Partial<KdAppSpecInput>, roles?: object[]) => {
    const raw = {
      label: { name: 'x' },
      distroID: 'd',
      version: '1',
      defaultImageRepoTag: 'img:1',
      defaultConfigPackage: { packageURL: 'file:///p.tgz' },
      roles: roles ?? [
        { id: 'master', cardinality: '1', eventList: ['configure', 'postprovision'] },
        { id: 'worker', cardinality: '0+' },
      ],
      ...extra,
    };
    const zod = KdAppSpec.safeParse(raw);
    const light = checkAppSpec(raw);
    const fromZod = zod.success ? [] : zod.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    const fromLight = light.issues.map((i) => `${i.path}: ${i.message}`);
    // The schema and the workflow's own check agree on the verdict.
    expect(fromLight.length > 0).toBe(fromZod.length > 0);
    return fromZod;
  };

  it('accepts a hook on a role whose eventList names it, and role orders over known roles', () => {
    expect(
      issues({
        hooks: { postProvision: { role: 'master' } },
        roleOrder: { provision: [['master'], ['worker']], grow: ['worker'] },
      }),
    ).toEqual([]);
  });

  it('refuses an unknown role, a role whose eventList lacks the event, a role named twice, an empty stage, bad bounds', () => {
    expect(issues({ hooks: { postProvision: { role: 'nope' } } })).toEqual([
      'hooks.postProvision.role: unknown role "nope"; the app has "master", "worker"',
    ]);
    expect(issues({ hooks: { preTerminate: { role: 'worker' } } })).toEqual([
      `hooks.preTerminate.role: role "worker"'s eventList does not name preterminate; add it, so its startscript is known to handle --preterminate`,
    ]);
    expect(issues({ roleOrder: { terminate: [['worker'], [], ['worker', 'x']] } })).toEqual([
      'roleOrder.terminate.1: a stage names at least one role',
      'roleOrder.terminate.2.0: role "worker" is named twice',
      'roleOrder.terminate.2.1: unknown role "x"; the app has "master", "worker"',
    ]);
    expect(issues({ hooks: { postProvision: { role: 'master', attempts: 11, timeoutSeconds: 0 } } })).toHaveLength(2);
    expect(
      issues({ hooks: { postProvision: { role: 'master' } } }, [
        { id: 'master', cardinality: '1', configPackage: null, eventList: ['postprovision'] },
      ]),
    ).toEqual(['hooks.postProvision.role: role "master" has no config package, so no startscript to run']);
  });
});
