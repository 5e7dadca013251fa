/**
 * Rolling operations on the local runtime (docs/adr/0037): real Temporal, real worker, real member
 * processes and startscripts. What happened is read from the members' files, the status query and
 * Temporal's history, never from timing.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cancelUpdate,
  deleteSignal,
  planQuery,
  resizeUpdate,
  rolloutDecisionUpdate,
  specChangeUpdate,
  specQuery,
  type ClusterStatus,
} from '../../api/index.ts';
import { eventsLog, settled, startCluster, testApp, waitForStatus, writePackage } from '../support/cluster.ts';
import { runCli, useCliHarness } from '../support/cli.ts';
import { rollingRuns, twoVersions, upgrade, versionsLog } from '../support/rolling.ts';

const h = useCliHarness();

const rolloutEnded = (s: ClusterStatus) =>
  s.operation === undefined &&
  s.rollout !== undefined &&
  !['rolling', 'rolling back'].includes(s.rollout.phase) &&
  (s.phase === 'configured' || s.phase === 'config error');

/** A bash test: this member's name ends with `-SUFFIX` (the member's directory is named after it). */
const member = (suffix: string) => `[[ "$KDFLOW_MEMBER_ROOT" == *-${suffix} ]]`;
/** Waits (in the script) until the test creates FILE. */
const holdUntil = (file: string) => `until [ -e ${file} ]; do sleep 0.1; done`;

/** The cluster's first generation converged with every member configured; a launch failure says which member and why. */
async function launched(handle: Awaited<ReturnType<typeof startCluster>>) {
  const status = await waitForStatus(handle, settled(1));
  const failed = status.roles.flatMap((r) => r.members.filter((m) => m.state !== 'configured'));
  expect(failed.map((m) => `${m.name}: ${m.state} ${m.lastError ?? ''}`)).toEqual([]);
  return status;
}

/** Host pids of the processes whose argv0 is `name`. */
async function servicePids(name: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv0 = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0')[0];
    if (argv0 === name) pids.push(Number(entry));
  }
  return pids;
}

async function cleanup(handle: Awaited<ReturnType<typeof startCluster>>) {
  await handle.signal(deleteSignal);
  expect((await handle.result()).phase).toBe('deleted');
}

describe('upgrade', () => {
  it('upgrades a 2-role cluster member by member, keeping each member state, and pins the new version', async () => {
    const { app1, app2 } = await twoVersions(h, 'up');
    const handle = await startCluster(h, 'up', app1, { controller: 1, worker: 2 });
    expect((await waitForStatus(handle, settled(1))).appVersion).toBe('1');
    const answer = await upgrade(handle, app2);
    expect(answer).toMatchObject({ kind: 'upgrade', from: '1', to: '2', total: 3 });
    const status = await waitForStatus(handle, rolloutEnded);
    expect(status).toMatchObject({ phase: 'configured', appVersion: '2' });
    expect(status.rollout).toMatchObject({ phase: 'done', done: 3, total: 3, current: [] });
    expect(await rollingRuns(h, handle)).toEqual([
      'controller-0 --upgrade --from 1 --to 2 0',
      'worker-0 --upgrade --from 1 --to 2 0',
      'worker-1 --upgrade --from 1 --to 2 0',
    ]);
    for (const m of ['up-controller-0', 'up-worker-0', 'up-worker-1']) {
      // Same member directory: the configure of version 1 is still in its log, the upgrade ran version 2's script.
      expect(await versionsLog(h, 'up', m)).toEqual(['v1 --configure', 'v2 --upgrade --from 1 --to 2']);
      const script = await readFile(
        path.join(
          h.runtime.memberRoot({ namespace: 'default', cluster: 'up', name: m }),
          'opt/guestconfig/appconfig/startscript',
        ),
        'utf8',
      );
      expect(script).toContain('v2 $*');
    }
    // The cluster now runs version 2: its snapshot, and a grow launches members of it.
    expect((await handle.query(specQuery)).app.version).toBe('2');
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 3 } }] });
    await waitForStatus(handle, settled(2));
    expect(await versionsLog(h, 'up', 'up-worker-2')).toEqual(['v2 --configure']);
    // A second upgrade to the version it runs is refused, naming the field.
    await expect(upgrade(handle, app2)).rejects.toMatchObject({
      cause: { message: 'to.version: the cluster already runs version 2' },
    });
    await cleanup(handle);
  });

  it('on a failure of the third member restores it, then rolls back the second and the first, newest first', async () => {
    const { app1, app2 } = await twoVersions(
      h,
      'fail',
      `[[ "$1" == --upgrade ]] && ${member('worker-1')} && { echo "upgrade broke" >&2; exit 1; }`,
    );
    const handle = await startCluster(h, 'fail', app1, { controller: 1, worker: 3 });
    await launched(handle);
    await upgrade(handle, app2);
    const status = await waitForStatus(handle, rolloutEnded);
    expect(status).toMatchObject({ phase: 'configured', appVersion: '1' });
    expect(status.rollout).toMatchObject({
      phase: 'rolled back',
      done: 2,
      total: 4,
      rolledBack: 3,
      toRollBack: 3,
      failed: { member: 'fail-worker-1' },
    });
    expect(status.rollout?.failed?.error).toMatch(/upgrade on fail-worker-1 exited with 1: upgrade broke/);
    expect(await rollingRuns(h, handle)).toEqual([
      'controller-0 --upgrade --from 1 --to 2 0',
      'worker-0 --upgrade --from 1 --to 2 0',
      'worker-1 --upgrade --from 1 --to 2 1',
      'worker-1 --rollback --from 2 --to 1 0',
      'worker-0 --rollback --from 2 --to 1 0',
      'controller-0 --rollback --from 2 --to 1 0',
    ]);
    // The old package runs the rollback; the fourth member was never touched.
    expect(await versionsLog(h, 'fail', 'fail-worker-0')).toEqual([
      'v1 --configure',
      'v2 --upgrade --from 1 --to 2',
      'v1 --rollback --from 2 --to 1',
    ]);
    expect(await versionsLog(h, 'fail', 'fail-worker-2')).toEqual(['v1 --configure']);
    expect((await handle.query(specQuery)).app.version).toBe('1');
    await cleanup(handle);
  });

  it('pauses on failure with onFailure: pause; --resume goes on from the failed member', async () => {
    const fixed = path.join(h.home, 'pause-fixed');
    const { app1, app2 } = await twoVersions(
      h,
      'pause',
      `[[ "$1" == --upgrade && ! -e ${fixed} ]] && ${member('worker-0')} && exit 3`,
    );
    const handle = await startCluster(h, 'pause', app1, { controller: 1, worker: 2 });
    await launched(handle);
    await upgrade(handle, app2, { onFailure: 'pause' });
    const paused = await waitForStatus(handle, (s) => s.rollout?.phase === 'paused' && s.operation === undefined);
    expect(paused).toMatchObject({ phase: 'config error', appVersion: '1' });
    expect(paused.rollout).toMatchObject({ done: 1, failed: { member: 'pause-worker-0' } });
    // While paused, no other rolling operation or spec change starts.
    await expect(upgrade(handle, app2)).rejects.toMatchObject({
      cause: {
        message: expect.stringMatching(/^the upgrade is paused \(kdflow upgrade NAME --resume or --rollback\)/),
      },
    });
    await writeFile(fixed, '');
    expect(await handle.executeUpdate(rolloutDecisionUpdate, { args: [{ action: 'resume' }] })).toMatchObject({
      phase: 'rolling',
    });
    const status = await waitForStatus(handle, rolloutEnded);
    expect(status).toMatchObject({ phase: 'configured', appVersion: '2' });
    expect(status.rollout).toMatchObject({ phase: 'done', done: 3, total: 3 });
    expect((await rollingRuns(h, handle)).map((r) => r.replace(/ --from 1 --to 2/, ''))).toEqual([
      'controller-0 --upgrade 0',
      'worker-0 --upgrade 3',
      'worker-0 --upgrade 0',
      'worker-1 --upgrade 0',
    ]);
    await cleanup(handle);
  });

  it('pauses on failure; --rollback rolls back the failed member, then the ones before it', async () => {
    const { app1, app2 } = await twoVersions(
      h,
      'pauseback',
      `[[ "$1" == --upgrade ]] && ${member('worker-0')} && exit 3`,
    );
    const handle = await startCluster(h, 'pauseback', app1, { controller: 1, worker: 2 });
    await launched(handle);
    await upgrade(handle, app2, { onFailure: 'pause' });
    await waitForStatus(handle, (s) => s.rollout?.phase === 'paused');
    await handle.executeUpdate(rolloutDecisionUpdate, { args: [{ action: 'rollback' }] });
    const status = await waitForStatus(handle, rolloutEnded);
    expect(status).toMatchObject({ phase: 'configured', appVersion: '1' });
    expect(status.rollout).toMatchObject({
      phase: 'rolled back',
      rolledBack: 2,
      failed: { member: 'pauseback-worker-0' },
    });
    expect(await rollingRuns(h, handle)).toEqual([
      'controller-0 --upgrade --from 1 --to 2 0',
      'worker-0 --upgrade --from 1 --to 2 3',
      'worker-0 --rollback --from 2 --to 1 0',
      'controller-0 --rollback --from 2 --to 1 0',
    ]);
    await cleanup(handle);
  });

  it('with maxUnavailable: 2 upgrades two members at once', async () => {
    // Each upgrade waits in its script until its wave partner's has started: one at a time would never finish.
    const barrier = path.join(h.home, 'wave-barrier');
    const wave = `[[ "$1" == --upgrade ]] && { mkdir -p ${barrier}; touch ${barrier}/"$(basename "$KDFLOW_MEMBER_ROOT")"; n=$(ls ${barrier} | wc -l); until [ "$(ls ${barrier} | wc -l)" -ge $(( (n + 1) / 2 * 2 )) ]; do sleep 0.1; done; }`;
    const { app1, app2 } = await twoVersions(h, 'wave', wave);
    const handle = await startCluster(h, 'wave', app1, { controller: 1, worker: 3 });
    await launched(handle);
    expect(await upgrade(handle, app2, { maxUnavailable: 2 })).toMatchObject({ maxUnavailable: 2, total: 4 });
    const status = await waitForStatus(handle, rolloutEnded);
    expect(status.rollout).toMatchObject({ phase: 'done', done: 4 });
    expect(status.appVersion).toBe('2');
    await cleanup(handle);
  });

  it('shows progress k/N and the member in progress in get', async () => {
    const release = path.join(h.home, 'progress-release');
    const { app1, app2 } = await twoVersions(
      h,
      'progress',
      `[[ "$1" == --upgrade ]] && ${member('worker-0')} && ${holdUntil(release)}`,
    );
    const handle = await startCluster(h, 'progress', app1, { controller: 1, worker: 2 });
    await launched(handle);
    await upgrade(handle, app2);
    const during = await waitForStatus(handle, (s) =>
      (s.operation ?? '').startsWith('upgrade --from 1 --to 2 on progress-worker-0'),
    );
    expect(during.rollout).toMatchObject({ phase: 'rolling', done: 1, total: 3, current: ['progress-worker-0'] });
    const one = await runCli('get', 'progress');
    expect(one.out).toContain('upgrade 1 → 2: rolling, 1/3 members, now progress-worker-0');
    const list = await runCli('get');
    expect(list.out).toMatch(/progress\s+testapp\s+1\s+updating/);
    await writeFile(release, '');
    await waitForStatus(handle, rolloutEnded);
    expect((await runCli('get', 'progress')).out).toContain('upgrade 1 → 2: done, 3/3 members');
    expect((await runCli('get')).out).toMatch(/progress\s+testapp\s+2\s+configured/);
    await cleanup(handle);
  });

  it('is cancelled by kdflow cancel: the member in progress and those before it roll back', async () => {
    const { app1, app2 } = await twoVersions(
      h,
      'cancelup',
      `[[ "$1" == --upgrade ]] && ${member('worker-0')} && { trap 'exit 143' TERM; sleep 300 & wait; }`,
    );
    const handle = await startCluster(h, 'cancelup', app1, { controller: 1, worker: 2 });
    await launched(handle);
    await upgrade(handle, app2);
    await waitForStatus(handle, (s) => (s.operation ?? '').startsWith('upgrade --from 1 --to 2 on cancelup-worker-0'));
    const cancelled = await runCli('cancel', 'cancelup');
    expect(cancelled).toMatchObject({ code: 0 });
    expect(cancelled.out).toContain('the upgrade is cancelled: its members roll back, newest first');
    const status = await waitForStatus(handle, rolloutEnded);
    expect(status).toMatchObject({ phase: 'configured', appVersion: '1' });
    expect(status.rollout).toMatchObject({ phase: 'rolled back', cancelled: true, rolledBack: 2 });
    const runs = await rollingRuns(h, handle);
    expect(runs[0]).toBe('controller-0 --upgrade --from 1 --to 2 0');
    expect(runs[1]).toMatch(/^worker-0 --upgrade --from 1 --to 2 /);
    expect(runs.slice(2)).toEqual([
      'worker-0 --rollback --from 2 --to 1 0',
      'controller-0 --rollback --from 2 --to 1 0',
    ]);
    expect(await versionsLog(h, 'cancelup', 'cancelup-worker-1')).toEqual(['v1 --configure']);
    await cleanup(handle);
  });
});

describe('reconfigure, restart and cancel of a grow', () => {
  it('rolls an env change out one member at a time with --reconfigure', async () => {
    const pkg = await writePackage(
      path.join(h.home, 'reconf'),
      `[[ "$1" == --reconfigure ]] && echo "reconfigure LEVEL=$LEVEL" >> "$GUESTCONFIG_DIR/versions.log"`,
    );
    const app = testApp(pkg, { defaultEventList: ['configure', 'addnodes', 'delnodes', 'reconfigure'] });
    const handle = await startCluster(h, 'reconf', app, { controller: 1, worker: 2 });
    await launched(handle);
    const { spec } = await handle.query(specQuery);
    const next = {
      ...spec,
      roles: spec.roles.map((r) => (r.id === 'worker' ? { ...r, env: [{ name: 'LEVEL', value: 'debug' }] } : r)),
    };
    // kdflow plan asks the cluster: the reconfigure it would roll out, member by member.
    expect(await handle.query(planQuery, { spec: next })).toEqual({
      generation: 2,
      steps: [
        'replace reconf-worker-0 (new version and settings)',
        'reconfigure on reconf-worker-0',
        'replace reconf-worker-1 (new version and settings)',
        'reconfigure on reconf-worker-1',
      ],
    });
    expect(await handle.executeUpdate(specChangeUpdate, { args: [{ spec: next }] })).toEqual({ generation: 2 });
    const status = await waitForStatus(handle, (s) => rolloutEnded(s) && s.observedGeneration >= 2);
    expect(status.rollout).toMatchObject({ kind: 'reconfigure', phase: 'done', done: 2, total: 2 });
    // Only the role whose env changed, one member after the other.
    expect(await rollingRuns(h, handle)).toEqual(['worker-0 --reconfigure 0', 'worker-1 --reconfigure 0']);
    for (const m of ['reconf-worker-0', 'reconf-worker-1'])
      expect(await versionsLog(h, 'reconf', m)).toEqual(['reconfigure LEVEL=debug']);
    expect(await eventsLog(h, 'reconf', 'reconf-controller-0')).toEqual(['--configure']);
    await cleanup(handle);
  });

  it('rolls a reconfigure back to the old settings when a member fails it', async () => {
    const pkg = await writePackage(
      path.join(h.home, 'reconfback'),
      `[[ "$1" == --reconfigure ]] && echo "reconfigure LEVEL=$LEVEL" >> "$GUESTCONFIG_DIR/versions.log"
[[ "$1" == --reconfigure && "$LEVEL" == debug && "$KDFLOW_MEMBER_ROOT" == *-worker-1 ]] && exit 2`,
    );
    const app = testApp(pkg, { defaultEventList: ['configure', 'addnodes', 'delnodes', 'reconfigure'] });
    const handle = await startCluster(h, 'reconfback', app, { controller: 1, worker: 2 });
    await launched(handle);
    const { spec } = await handle.query(specQuery);
    const next = {
      ...spec,
      roles: spec.roles.map((r) => (r.id === 'worker' ? { ...r, env: [{ name: 'LEVEL', value: 'debug' }] } : r)),
    };
    await handle.executeUpdate(specChangeUpdate, { args: [{ spec: next }] });
    const status = await waitForStatus(handle, (s) => rolloutEnded(s) && s.rollout?.phase !== 'done');
    expect(status.rollout).toMatchObject({
      kind: 'reconfigure',
      phase: 'rolled back',
      failed: { member: 'reconfback-worker-1' },
    });
    expect(status.phase).toBe('configured');
    expect(await rollingRuns(h, handle)).toEqual([
      'worker-0 --reconfigure 0',
      'worker-1 --reconfigure 2',
      'worker-1 --reconfigure 0',
      'worker-0 --reconfigure 0',
    ]);
    // Rolled back: the members ran with the old settings again, and the spec has them.
    expect(await versionsLog(h, 'reconfback', 'reconfback-worker-0')).toEqual([
      'reconfigure LEVEL=debug',
      'reconfigure LEVEL=',
    ]);
    const after = await handle.query(specQuery);
    expect(after.spec.roles.find((r) => r.id === 'worker')?.env).toBeUndefined();
    expect(after.generation).toBe(3);
    await cleanup(handle);
  });

  it('restarts members one at a time: their processes end, configure stays done, --restart starts services again', async () => {
    // --configure and --restart start a service, named after its member so the test finds it in /proc.
    const service = `{ (exec -a "svc-$(basename "$KDFLOW_MEMBER_ROOT")" sleep 1000 &) ; }`;
    const pkg = await writePackage(
      path.join(h.home, 'restart'),
      `[[ "$1" == --configure || "$1" == --restart ]] && ${service}`,
    );
    const app = testApp(pkg, { defaultEventList: ['configure', 'addnodes', 'delnodes', 'restart'] });
    const handle = await startCluster(h, 'restart', app, { controller: 1, worker: 2 });
    await launched(handle);
    const before = await servicePids('svc-restart-worker-0');
    expect(before).toHaveLength(1);
    const answer = await runCli('restart', 'restart', '--role', 'worker');
    expect(answer.code).toBe(0);
    const status = await waitForStatus(handle, rolloutEnded);
    expect(status.rollout).toMatchObject({ kind: 'restart', phase: 'done', done: 2, total: 2 });
    expect(await rollingRuns(h, handle)).toEqual(['worker-0 --restart 0', 'worker-1 --restart 0']);
    // Its configure status persisted, so it stays configured: configure did not run again.
    expect(await eventsLog(h, 'restart', 'restart-worker-0')).toEqual(['--configure', '--restart']);
    expect(await eventsLog(h, 'restart', 'restart-controller-0')).toEqual(['--configure']);
    // The restart ended the service configure started; --restart started it again.
    const after = await servicePids('svc-restart-worker-0');
    expect(after).toHaveLength(1);
    expect(after).not.toEqual(before);
    expect(await servicePids('svc-restart-controller-0')).toHaveLength(1);
    await cleanup(handle);
  });

  it('a cancelled first create deletes the cluster', async () => {
    const app = testApp(await writePackage(path.join(h.home, 'cancelnew'), `[[ "$1" == --configure ]] && sleep 300`));
    const handle = await startCluster(h, 'cancelnew', app, { controller: 1, worker: 1 });
    await waitForStatus(handle, (s) => (s.operation ?? '').startsWith('configure'));
    expect((await runCli('cancel', 'cancelnew')).out).toBe('cluster/cancelnew: a cancelled create deletes the cluster');
    expect((await handle.result()).phase).toBe('deleted');
    expect(await h.runtime.listMembers('default', 'cancelnew')).toEqual([]);
  });

  it('a cancelled grow removes the new members, telling the others with --delnodes', async () => {
    const release = path.join(h.home, 'cancelgrow-release');
    // The grow's new members hold their --configure until the test releases them.
    const held = `[[ "$1" == --configure && "$KDFLOW_MEMBER_ROOT" != *-0 ]] && ${holdUntil(release)}`;
    const app = testApp(await writePackage(path.join(h.home, 'cancelgrow'), held));
    const handle = await startCluster(h, 'cancelgrow', app, { controller: 1, worker: 1 });
    await launched(handle);
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 3 } }] });
    await waitForStatus(handle, (s) => (s.operation ?? '').startsWith('configure'));
    expect(await handle.executeUpdate(cancelUpdate)).toMatchObject({ outcome: 'shrinking back' });
    const status = await waitForStatus(handle, settled(3));
    expect(status.phase).toBe('configured');
    expect(status.roles.find((r) => r.id === 'worker')).toMatchObject({ desired: 1, total: 1 });
    expect(
      (await eventsLog(h, 'cancelgrow', 'cancelgrow-controller-0')).filter((e) => e.startsWith('--delnodes')),
    ).toEqual([
      expect.stringMatching(
        /^--delnodes --nodegroup 1 --role worker --fqdns cancelgrow-worker-1\.\S+,cancelgrow-worker-2\./,
      ),
    ]);
    expect((await h.runtime.listMembers('default', 'cancelgrow')).sort()).toEqual([
      'cancelgrow-controller-0',
      'cancelgrow-worker-0',
    ]);
    // Nothing left in flight: a second cancel says so.
    expect(await handle.executeUpdate(cancelUpdate)).toMatchObject({ outcome: 'nothing to cancel' });
    await writeFile(release, '');
    await cleanup(handle);
  });
});
