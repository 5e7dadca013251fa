/**
 * --reconnect as a planner decision (workflows/reconnect.ts, docs/adr/0044): nothing changes for a
 * cluster without connections; a new digest of the connections sends --reconnect to configured
 * members once the lifecycle is idle; members launched with a digest are not sent one; a failed
 * --reconnect waits for `kdflow retry`; the digest survives packing.
 */
import { describe, expect, it } from 'vitest';
import { packMembers, unpackMembers } from '../../workflows/carry.ts';
import { succeeded, type Member, type Step, type StepOutcome } from '../../workflows/model.ts';
import { plannerFor } from '../../workflows/planners.ts';
import { plan } from '../../workflows/plan.ts';
import { planV3 } from '../../workflows/plan-v3.ts';
import { CLUSTER, app3, makeDesired, nm } from './plan-sim.ts';

const planner = plannerFor(3);

/** Runs the planner to quiescence, every step as `outcome` says (success by default). */
function converge(desired: Parameters<typeof planner.nextStep>[0], start: Member[], outcome = (_s: Step) => succeeded) {
  let members = start;
  const steps: Step[] = [];
  for (let step = planner.nextStep(desired, members); step; step = planner.nextStep(desired, members)) {
    if (steps.length > 100) throw new Error('did not converge');
    steps.push(step);
    members = planner.applyOutcome(desired, members, step, outcome(step));
  }
  return { members, steps };
}

const reconnects = (steps: Step[]) => steps.filter((s) => s.kind === 'runEvent' && s.event === 'reconnect');

describe('--reconnect', () => {
  it('plans exactly what the wrapped planner plans for a cluster without connections', () => {
    const desired = makeDesired(app3, { a: 1, b: 3 }, 1);
    expect(planner.plan(desired, [])).toEqual(planV3(desired, []));
    expect(plannerFor(2).plan(desired, [])).toEqual(plan(desired, []));
  });

  it('sends nothing to members launched with the current digest, and --reconnect to every configured member on a new one', () => {
    const created = makeDesired(app3, { a: 1, b: 2 }, 1);
    const first = converge({ ...created, connections: 'd1' }, []);
    expect(reconnects(first.steps)).toEqual([]);
    expect(first.members.every((m) => m.connected === 'd1')).toBe(true);

    const next = converge({ ...created, connections: 'd2' }, first.members);
    expect(next.steps).toEqual([
      { kind: 'runEvent', event: 'reconnect', role: 'a', targets: [nm('a', 0), nm('b', 0), nm('b', 1)] },
    ]);
    expect(next.members.every((m) => m.connected === 'd2')).toBe(true);
  });

  it('waits for the lifecycle: a grow is planned first, and its new member is not sent --reconnect', () => {
    const first = converge({ ...makeDesired(app3, { a: 1, b: 2 }, 1), connections: 'd1' }, []);
    const grown = converge({ ...makeDesired(app3, { a: 1, b: 3 }, 2), connections: 'd2' }, first.members);
    const last = grown.steps.at(-1);
    expect(last).toEqual({
      kind: 'runEvent',
      event: 'reconnect',
      role: 'a',
      targets: [nm('a', 0), nm('b', 0), nm('b', 1)],
    });
    expect(reconnects(grown.steps)).toHaveLength(1);
  });

  it('keeps a failed --reconnect on its member until `kdflow retry`, and never loops on it', () => {
    const desired = { ...makeDesired(app3, { a: 1, b: 1 }, 1), connections: 'd1' };
    const first = converge(desired, []);
    const failB = (s: Step): StepOutcome =>
      s.kind === 'runEvent' && s.event === 'reconnect' ? { failed: { [nm('b', 0)]: 'exit 3' }, runs: {} } : succeeded;
    const after = converge({ ...desired, connections: 'd2' }, first.members, failB);
    expect(reconnects(after.steps)).toHaveLength(1);
    const b = after.members.find((m) => m.name === nm('b', 0));
    expect(b).toMatchObject({ state: 'configured', connected: '!d2', lastError: 'exit 3' });
    // Packed and unpacked at continue-as-new, the digests stay.
    expect(unpackMembers(CLUSTER, packMembers(after.members)).map((m) => m.connected)).toEqual(['d2', '!d2']);

    const retried = planner.requestRetry(after.members);
    expect(converge({ ...desired, connections: 'd2' }, retried).steps).toEqual([
      { kind: 'runEvent', event: 'reconnect', role: 'b', targets: [nm('b', 0)] },
    ]);
  });
});
