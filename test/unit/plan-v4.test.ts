/**
 * Planner v4 (workflows/plan-v4.ts, docs/adr/0047): a create configures every role at once, so a
 * script that waits for another role's token is not left to time out; the rest is v3's.
 */
import { describe, expect, it } from 'vitest';
import {
  freshPlannerVersion,
  plannerFor,
  PLANNER_V3_PATCH,
  PLANNER_V4_PATCH,
  PLANNER_VERSION,
} from '../../workflows/planners.ts';
import {
  app3,
  brief,
  expectEveryoneKnowsEveryone,
  expectSettled,
  makeDesired,
  mixed,
  names,
  settled,
  single,
  Sim,
} from './plan-sim.ts';

const v3 = plannerFor(3);
const v4 = plannerFor(4);

describe('planner v4', () => {
  it('is what new runs take; a history with only v3’s marker stays on v3, one with none on v2', () => {
    expect(PLANNER_VERSION).toBe(4);
    expect(freshPlannerVersion(() => true)).toBe(4);
    expect(freshPlannerVersion((id) => id === PLANNER_V4_PATCH)).toBe(4);
    expect(freshPlannerVersion((id) => id === PLANNER_V3_PATCH)).toBe(3);
    expect(freshPlannerVersion(() => false)).toBe(2);
  });

  it('configures every role of a create in one step (v3 took one step a role)', () => {
    const steps4 = new Sim(makeDesired(app3, { a: 1, b: 2, c: 1 }, 1), undefined, v4).converge();
    const steps3 = new Sim(makeDesired(app3, { a: 1, b: 2, c: 1 }, 1), undefined, v3).converge();
    const configures = (steps: ReturnType<Sim['converge']>) =>
      steps.filter((s) => s.kind === 'runEvent' && s.event === 'configure').map(brief);
    expect(configures(steps4)).toEqual([
      {
        kind: 'runEvent',
        event: 'configure',
        role: 'a',
        targets: [...names('a', 0), ...names('b', 0, 1), ...names('c', 0)],
      },
    ]);
    expect(configures(steps3).length).toBe(3);
  });

  it('leaves roles that do not configure, and grows, as v3 does', () => {
    const sim = new Sim(makeDesired(mixed, { worker: 1, head: 1, cache: 1, proxy: 1, passive: 1 }, 1), undefined, v4);
    const steps = sim.converge();
    const configure = steps.filter((s) => s.kind === 'runEvent' && s.event === 'configure').map(brief);
    expect(configure).toEqual([
      {
        kind: 'runEvent',
        event: 'configure',
        role: 'worker',
        targets: [...names('worker', 0), ...names('head', 0), ...names('cache', 0)],
      },
    ]);
    expectSettled(sim, { worker: 1, head: 1, cache: 1, proxy: 1, passive: 1 });
    expectEveryoneKnowsEveryone(sim);
    // A grow launches one role at a time, so it configures as v3 does.
    const grow4 = settled(single, { worker: 2 }, v4).change({ worker: 4 }).converge().map(brief);
    const grow3 = settled(single, { worker: 2 }, v3).change({ worker: 4 }).converge().map(brief);
    expect(grow4).toEqual(grow3);
  });
});
