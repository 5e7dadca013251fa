/** Self-healing's pure decisions (workflows/heal.ts, docs/adr/0049): queueing reports, backoff, the bound. */
import { describe, expect, it } from 'vitest';
import {
  applyHeals,
  backoffMs,
  forgetHeals,
  healDue,
  healPolicy,
  nextHealIn,
  noteDown,
  type HealState,
} from '../../workflows/heal.ts';
import { succeeded } from '../../workflows/model.ts';
import { applyOutcome, nextStep, plan, requestRetry } from '../../workflows/plan.ts';
import { makeDesired, nm, single } from './plan-sim.ts';

const desired = makeDesired(single, { worker: 3 }, 1);
const configured = () => {
  let members = applyOutcome(desired, [], nextStep(desired, [])!, succeeded);
  for (let step = nextStep(desired, members); step; step = nextStep(desired, members))
    members = applyOutcome(desired, members, step, succeeded);
  return members;
};
const policy = healPolicy({ limit: 2, backoffSeconds: 10, maxBackoffSeconds: 25, windowSeconds: 600 });
const w1 = nm('worker', 1);

describe('reports', () => {
  it('queues a death once, whoever reports it, and ignores members that are unknown, leaving or being launched', () => {
    const members = configured();
    const state: HealState = {};
    state.healing = noteDown(state, members, { member: w1, reason: 'keep-alive process is not running' }, 1000, policy);
    expect(state.healing).toEqual([{ member: w1, reason: 'keep-alive process is not running', notBefore: 1000 }]);
    expect(
      noteDown(state, members, { member: w1, reason: 'again', observer: 'worker 2' }, 1100, policy),
    ).toBeUndefined();
    expect(noteDown({}, members, { member: 'nobody', reason: 'x' }, 0, policy)).toBeUndefined();
    const leaving = members.map((m) => (m.name === w1 ? { ...m, state: 'deleting' as const } : m));
    expect(noteDown({}, leaving, { member: w1, reason: 'x' }, 0, policy)).toBeUndefined();
    const relaunching = requestRetry(members, w1, new Set([w1]));
    expect(noteDown({}, relaunching, { member: w1, reason: 'x' }, 0, policy)).toBeUndefined();
  });

  it('takes any payload without throwing: a bad one is dropped, a missing reason gets a plain one', () => {
    const members = configured();
    for (const bad of [undefined, {}, { member: 3 }, { member: null }] as never[])
      expect(noteDown({}, members, bad, 0, policy)).toBeUndefined();
    expect(noteDown({}, members, { member: w1 } as never, 0, policy)?.[0]?.reason).toBe('its container died');
    expect(noteDown({}, members, { member: w1, reason: 'x'.repeat(500) }, 0, policy)?.[0]?.reason.length).toBe(160);
  });

  it('backs off after a recent heal, doubling up to the cap, and starts again after the window', () => {
    expect([0, 1, 2, 3, 4].map((n) => backoffMs(n, policy))).toEqual([0, 10_000, 20_000, 25_000, 25_000]);
    const members = configured();
    const state: HealState = { heals: [{ member: w1, count: 1, at: 5000 }] };
    state.healing = noteDown(state, members, { member: w1, reason: 'x' }, 6000, policy);
    expect(state.healing?.[0]?.notBefore).toBe(15_000);
    expect(healDue(state, 14_999)).toBe(false);
    expect(nextHealIn(state, 6000)).toBe(9000);
    expect(healDue(state, 15_000)).toBe(true);
    expect(nextHealIn(state, 15_000)).toBeUndefined();
    // Outside the window the record no longer counts: no wait.
    expect(
      noteDown({ heals: [{ member: w1, count: 2, at: 0 }] }, members, { member: w1, reason: 'x' }, 600_000, policy)?.[0]
        ?.notBefore,
    ).toBe(600_000);
  });
});

describe('heals', () => {
  it('relaunches a dead member as retry does, and the planner brings it back with a configure and nothing else', () => {
    const members = configured();
    const due = [{ member: w1, reason: 'reported', notBefore: 0 }];
    const out = applyHeals(members, [], due, { [w1]: 'keep-alive process is not running' }, 1000, policy, requestRetry);
    expect(out.heals).toEqual([{ member: w1, count: 1, at: 1000 }]);
    expect(out.lastHeal).toBe(`1970-01-01T00:00:01.000Z healing ${w1} (1 of 2): keep-alive process is not running`);
    const steps = plan(desired, out.members);
    expect(steps.map((s) => s.kind)).toEqual(['launchMembers', 'runEvent']);
    expect(steps[1]).toMatchObject({ event: 'configure', targets: [w1] });
    const healed = out.members.find((m) => m.name === w1);
    expect(healed?.nodeId).toBe(members.find((m) => m.name === w1)?.nodeId);
  });

  it('a member found alive was a stale report: nothing changes', () => {
    const members = configured();
    const out = applyHeals(members, [], [{ member: w1, reason: 'r', notBefore: 0 }], {}, 1000, policy, requestRetry);
    expect(out.members).toBe(members);
    expect(out.heals).toEqual([]);
    expect(out.lastHeal).toBeUndefined();
  });

  it('past the limit a member is left in config error with the reason, and further reports are dropped until retry', () => {
    const members = configured();
    const due = [{ member: w1, reason: 'r', notBefore: 0 }];
    const out = applyHeals(
      members,
      [{ member: w1, count: 2, at: 0 }],
      due,
      { [w1]: 'pod deleted' },
      1000,
      policy,
      requestRetry,
    );
    const dead = out.members.find((m) => m.name === w1);
    expect(dead).toMatchObject({ state: 'config error', ready: false });
    expect(dead?.lastError).toBe('died 3 times within 10 min, healed 2: pod deleted; kdflow retry re-creates it');
    expect(out.lastHeal).toMatch(/not healed again \(3 deaths within 10 min\): pod deleted/);
    expect(plan(desired, out.members)).toEqual([]);
    expect(noteDown({ heals: out.heals }, out.members, { member: w1, reason: 'r' }, 2000, policy)).toBeUndefined();
    expect(forgetHeals({ heals: out.heals }, [w1])).toEqual([]);
    expect(forgetHeals({ heals: out.heals }, [null])).toEqual([]);
    expect(forgetHeals({ heals: out.heals }, ['other'])).toEqual(out.heals);
  });

  it('drops records of members that are gone or lived through the window: bounded by the members', () => {
    const members = configured();
    const out = applyHeals(
      members,
      [
        { member: 'gone', count: 1, at: 900_000 },
        { member: nm('worker', 0), count: 1, at: 0 },
        { member: nm('worker', 2), count: 1, at: 900_000 },
      ],
      [],
      {},
      1_000_000,
      policy,
      requestRetry,
    );
    expect(out.heals).toEqual([{ member: nm('worker', 2), count: 1, at: 900_000 }]);
  });

  it('a bad policy falls back to the defaults, field by field', () => {
    expect(healPolicy({ limit: -1, backoffSeconds: Number.NaN, windowSeconds: 60 })).toEqual({
      limit: 3,
      backoffSeconds: 5,
      maxBackoffSeconds: 300,
      windowSeconds: 60,
    });
  });
});
