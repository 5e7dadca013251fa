import { describe, expect, it } from 'vitest';
import { KdAppSpec, KdClusterSpec, checkChange, newClusterIssues, type KdAppSpecInput } from '../../api/index.ts';
import type { Member } from '../../workflows/model.ts';
import { newMember } from '../../workflows/plan.ts';
import {
  applyRollingOutcome,
  cancelRollout,
  decideRollout,
  nextRollingStep,
  planRollout,
  rolloutStatus,
  startReconfigure,
  startRestart,
  startUpgrade,
  type Rollout,
  type RollingStep,
} from '../../workflows/plan-rolling.ts';

const app = (version: string, overrides: Partial<KdAppSpecInput> = {}) =>
  KdAppSpec.parse({
    label: { name: 'a' },
    distroID: 'a',
    version,
    defaultImageRepoTag: 'img:1',
    defaultConfigPackage: { packageURL: 'file:///p' },
    defaultEventList: ['configure', 'addnodes', 'delnodes', 'upgrade', 'rollback', 'reconfigure', 'restart'],
    roles: [
      { id: 'controller', cardinality: '1' },
      { id: 'worker', cardinality: '0+' },
    ],
    ...overrides,
  });
const spec = KdClusterSpec.parse({
  app: 'a',
  roles: [
    { id: 'controller', members: 1 },
    { id: 'worker', members: 3 },
  ],
});
const desired = { namespace: 'default', name: 'c', app: app('1'), spec, generation: 1 };
const members: Member[] = [
  ...[0].map((o) => ({ ...newMember(desired, 'controller', o), state: 'configured' as const, launched: true })),
  ...[0, 1, 2].map((o) => ({ ...newMember(desired, 'worker', o), state: 'configured' as const, launched: true })),
];
const names = (step: RollingStep) => (step.kind === 'replaceMembers' ? step.members.map((m) => m.name) : step.targets);
const short = (step: RollingStep) =>
  `${step.kind === 'replaceMembers' ? `replace:${step.side}` : `${step.event}`} ${names(step).join(',')}`;

/** Runs a rollout to its end; `fail(step)` names the members that fail a step. */
function run(rollout: Rollout, fail: (step: RollingStep) => string[] = () => []) {
  const steps: string[] = [];
  let state = { rollout, members };
  for (
    let step = nextRollingStep(state.rollout, state.members);
    step;
    step = nextRollingStep(state.rollout, state.members)
  ) {
    if (steps.length > 100) throw new Error('no end');
    steps.push(short(step));
    const failed = Object.fromEntries(fail(step).map((n) => [n, `${n} broke`]));
    state = applyRollingOutcome(state.rollout, state.members, step, { failed, runs: {} });
  }
  return { steps, ...state };
}

describe('upgrade', () => {
  it('goes member by member in role order, then ordinal, with --upgrade --from --to', () => {
    const r = startUpgrade(7, desired, app('2'), members);
    const steps = planRollout(r, members);
    expect(steps.map(short)).toEqual([
      'replace:to c-controller-0',
      'upgrade c-controller-0',
      'replace:to c-worker-0',
      'upgrade c-worker-0',
      'replace:to c-worker-1',
      'upgrade c-worker-1',
      'replace:to c-worker-2',
      'upgrade c-worker-2',
    ]);
    expect(steps[1]).toMatchObject({ versions: { from: '1', to: '2' }, side: 'to' });
    expect(steps[0]).toMatchObject({ token: 'r7-to', restart: false });
    const end = run(r);
    expect(rolloutStatus(end.rollout)).toMatchObject({ phase: 'done', done: 4, total: 4, current: [] });
  });

  it('on a failure of the third member restores it first, then rolls back the second and the first', () => {
    const end = run(startUpgrade(1, desired, app('2'), members), (s) =>
      s.kind === 'rollingScript' && s.event === 'upgrade' ? names(s).filter((n) => n === 'c-worker-1') : [],
    );
    expect(end.steps).toEqual([
      'replace:to c-controller-0',
      'upgrade c-controller-0',
      'replace:to c-worker-0',
      'upgrade c-worker-0',
      'replace:to c-worker-1',
      'upgrade c-worker-1',
      'replace:from c-worker-1',
      'rollback c-worker-1',
      'replace:from c-worker-0',
      'rollback c-worker-0',
      'replace:from c-controller-0',
      'rollback c-controller-0',
    ]);
    expect(rolloutStatus(end.rollout)).toMatchObject({
      phase: 'rolled back',
      done: 2,
      rolledBack: 3,
      toRollBack: 3,
      failed: { member: 'c-worker-1', error: 'c-worker-1 broke' },
    });
    // Restored, the failed member is configured again; the failure stays in the rollout's status.
    expect(end.members.every((m) => m.state === 'configured')).toBe(true);
  });

  it('runs --rollback --from NEW --to OLD with the old side', () => {
    const end = run(startUpgrade(1, desired, app('2'), members), (s) =>
      s.kind === 'replaceMembers' && s.side === 'to' ? names(s).filter((n) => n === 'c-worker-0') : [],
    );
    expect(end.steps).toEqual([
      'replace:to c-controller-0',
      'upgrade c-controller-0',
      'replace:to c-worker-0',
      'replace:from c-worker-0',
      'rollback c-worker-0',
      'replace:from c-controller-0',
      'rollback c-controller-0',
    ]);
    const r = startUpgrade(1, desired, app('2'), members);
    const rb = cancelRollout(r, members);
    expect(nextRollingStep(rb, members)).toMatchObject({ kind: 'replaceMembers', side: 'from', token: 'r1-from' });
  });

  it('a failed rollback ends in rollback failed, never in progress', () => {
    const end = run(startUpgrade(1, desired, app('2'), members), (s) =>
      names(s).includes('c-worker-0') && !(s.kind === 'replaceMembers' && s.side === 'from') ? ['c-worker-0'] : [],
    );
    expect(end.rollout.phase).toBe('rollback failed');
    expect(end.members.find((m) => m.name === 'c-worker-0')?.state).toBe('config error');
  });

  it('moves maxUnavailable members at once, and a wave failure puts the whole wave back first', () => {
    const r = startUpgrade(1, desired, app('2'), members, { maxUnavailable: 2 });
    expect(planRollout(r, members).map(short)).toEqual([
      'replace:to c-controller-0,c-worker-0',
      'upgrade c-controller-0,c-worker-0',
      'replace:to c-worker-1,c-worker-2',
      'upgrade c-worker-1,c-worker-2',
    ]);
    const end = run(r, (s) => (s.kind === 'rollingScript' ? names(s).filter((n) => n === 'c-worker-2') : []));
    expect(end.steps.slice(3)).toEqual([
      'upgrade c-worker-1,c-worker-2',
      'replace:from c-worker-2',
      'rollback c-worker-2',
      'replace:from c-worker-1',
      'rollback c-worker-1',
      'replace:from c-worker-0',
      'rollback c-worker-0',
      'replace:from c-controller-0',
      'rollback c-controller-0',
    ]);
  });

  it('pauses on failure when asked, then resumes from the failed member or rolls back', () => {
    const failOnce = new Set(['c-worker-0']);
    const fail = (s: RollingStep) =>
      s.kind === 'rollingScript' ? names(s).filter((n) => failOnce.has(n) && failOnce.delete(n)) : [];
    const paused = run(startUpgrade(1, desired, app('2'), members, { onFailure: 'pause' }), fail);
    expect(paused.rollout.phase).toBe('paused');
    expect(rolloutStatus(paused.rollout)).toMatchObject({ done: 1, failed: { member: 'c-worker-0' } });
    expect(nextRollingStep(paused.rollout, paused.members)).toBeUndefined();
    const resumed = decideRollout(paused.rollout, 'resume', paused.members);
    expect(nextRollingStep(resumed, paused.members)).toMatchObject({
      kind: 'replaceMembers',
      members: [{ name: 'c-worker-0' }],
    });
    const rolledBack = decideRollout(paused.rollout, 'rollback', paused.members);
    expect(rolledBack.back).toEqual(['c-worker-0', 'c-controller-0']);
  });

  it('skips members that left, and a role without the upgrade event gets only its new package', () => {
    const noScript = app('2', {
      roles: [
        { id: 'controller', cardinality: '1', eventList: ['configure'] },
        { id: 'worker', cardinality: '0+' },
      ],
    });
    const steps = planRollout(startUpgrade(1, desired, noScript, members), members).map(short);
    expect(steps.slice(0, 3)).toEqual(['replace:to c-controller-0', 'replace:to c-worker-0', 'upgrade c-worker-0']);
    const r = startUpgrade(1, desired, app('2'), members);
    const shrunk = members.filter((m) => m.name !== 'c-worker-1');
    expect(planRollout(r, shrunk).map(short)).not.toContain('replace:to c-worker-1');
  });
});

describe("the new version's upgrade policy", () => {
  it('takes roleOrder first, then the other roles; maxUnavailable and onFailure from the app', () => {
    const to = app('2', { upgrade: { roleOrder: ['worker'], maxUnavailable: 2, onFailure: 'pause' } });
    const r = startUpgrade(1, desired, to, members);
    expect(r).toMatchObject({ maxUnavailable: 2, onFailure: 'pause' });
    expect(r.order).toEqual(['c-worker-0', 'c-worker-1', 'c-worker-2', 'c-controller-0']);
    expect(planRollout(r, members).map(short)).toEqual([
      'replace:to c-worker-0,c-worker-1',
      'upgrade c-worker-0,c-worker-1',
      'replace:to c-worker-2,c-controller-0',
      'upgrade c-worker-2,c-controller-0',
    ]);
    expect(rolloutStatus(r)).toMatchObject({ roleOrder: ['worker', 'controller'], maxUnavailable: 2 });
    // A failure pauses, as the app asked.
    expect(run(r, (step) => (names(step).includes('c-worker-1') ? ['c-worker-1'] : [])).rollout.phase).toBe('paused');
  });

  it("lets the request's maxUnavailable and onFailure override the app's", () => {
    const to = app('2', { upgrade: { maxUnavailable: 3, onFailure: 'pause' } });
    const r = startUpgrade(1, desired, to, members, { maxUnavailable: 1, onFailure: 'rollback' });
    expect(r).toMatchObject({ maxUnavailable: 1, onFailure: 'rollback' });
    expect(r.order[0]).toBe('c-controller-0');
  });

  it('refuses a roleOrder naming an unknown role or one role twice, naming the field', () => {
    const parsed = KdAppSpec.safeParse({ ...app('2'), upgrade: { roleOrder: ['worker', 'ghost', 'worker'] } });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'upgrade.roleOrder.1: unknown role "ghost"',
      'upgrade.roleOrder.2: role "worker" is listed twice',
    ]);
  });
});

describe('spec.appVersion', () => {
  it('a new one is an upgrade that changes nothing else; the same one or none is no upgrade', () => {
    expect(checkChange('c', spec, { ...spec, appVersion: '2' }, app('1')).issues).toEqual([]);
    expect(checkChange('c', spec, { ...spec, appVersion: '1' }, app('1')).issues).toEqual([]);
    const grown = {
      ...spec,
      appVersion: '2',
      roles: [
        { id: 'controller', members: 1 },
        { id: 'worker', members: 4 },
      ],
    };
    expect(checkChange('c', spec, grown, app('1')).issues).toEqual([
      {
        path: 'spec.appVersion',
        message:
          'an upgrade (1 → 2) changes nothing else, and roles changed too: apply those changes before or after the upgrade',
      },
    ]);
  });

  it("a new cluster's must be its app snapshot's version", () => {
    expect(newClusterIssues('c', { ...spec, appVersion: '2' }, app('1'))).toEqual([
      { path: 'spec.appVersion', message: '"2" is not the app snapshot\'s version "1"' },
    ]);
    expect(newClusterIssues('c', { ...spec, appVersion: '1' }, app('1'))).toEqual([]);
  });
});

describe('restart and reconfigure', () => {
  it('restarts one at a time; configure runs again where its status did not persist, then --restart', () => {
    const r = startRestart(3, desired, members, { role: 'worker' });
    const step = nextRollingStep(r, members);
    expect(step).toMatchObject({
      kind: 'replaceMembers',
      restart: true,
      token: 'r3-restart',
      members: [{ name: 'c-worker-0' }],
    });
    const after = applyRollingOutcome(r, members, step as RollingStep, {
      failed: {},
      runs: {},
      configurePersisted: { 'c-worker-0': false },
    });
    expect(short(nextRollingStep(after.rollout, after.members) as RollingStep)).toBe('configure c-worker-0');
    expect(planRollout(r, members).map(short)).toEqual([
      'replace:to c-worker-0',
      'restart c-worker-0',
      'replace:to c-worker-1',
      'restart c-worker-1',
      'replace:to c-worker-2',
      'restart c-worker-2',
    ]);
    // A cancelled restart finishes the member in progress and stops.
    expect(run(cancelRollout(r, members)).rollout).toMatchObject({ phase: 'done', cancelled: true, done: 1 });
    // A failed restart stops: nothing to roll back.
    expect(run(r, (s) => names(s).slice(0, 1)).rollout.phase).toBe('failed');
  });

  it('reconfigures only the roles whose env, labels or resources changed, and rolls back to the old settings', () => {
    const next = KdClusterSpec.parse({
      ...spec,
      roles: [spec.roles[0], { ...spec.roles[1], env: [{ name: 'X', value: '2' }] }],
    });
    const r = startReconfigure(4, desired, { ...desired, spec: next }, members) as Rollout;
    expect(r.order).toEqual(['c-worker-0', 'c-worker-1', 'c-worker-2']);
    const end = run(r, (s) =>
      s.kind === 'rollingScript' && s.side === 'to' ? names(s).filter((n) => n === 'c-worker-1') : [],
    );
    expect(end.steps.slice(-4)).toEqual([
      'replace:from c-worker-1',
      'reconfigure c-worker-1',
      'replace:from c-worker-0',
      'reconfigure c-worker-0',
    ]);
    expect(startReconfigure(4, desired, desired, members)).toBeUndefined();
  });

  it('ignores an outcome of the direction a cancel turned away from', () => {
    const r = startUpgrade(1, desired, app('2'), members);
    const step = nextRollingStep(r, members) as RollingStep;
    const cancelled = cancelRollout(r, members);
    const after = applyRollingOutcome(cancelled, members, step, { failed: {}, runs: {} });
    expect(after.rollout).toBe(cancelled);
    expect(cancelled).toMatchObject({ phase: 'rolling back', back: ['c-controller-0'], cancelled: true });
  });
});
