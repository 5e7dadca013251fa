/**
 * Custom actions (docs/adr/0050) on the local runtime with a real dev server and the in-process CLI:
 * `kdflow action` runs `startscript --action NAME --param k=v…` on the action's members as one
 * operation with an id, each member's result in status, history and its files; bad parameters are
 * refused before anything runs; a serial action stops at its first failure.
 */
import { describe, expect, it } from 'vitest';
import { deleteSignal, runActionUpdate, type ClusterStatus } from '../../api/index.ts';
import { scriptHistory } from '../../lib/script-history.ts';
import { runCli, useCliHarness } from '../support/cli.ts';
import { eventsLog, recordHistory, startCluster, testApp, waitForStatus, writePackage } from '../support/cluster.ts';

const h = useCliHarness();

const actions = [
  {
    name: 'compact',
    roles: ['worker'],
    params: [
      { name: 'level', type: 'enum' as const, values: ['low', 'high'], default: 'low' },
      { name: 'files', type: 'integer' as const, required: true },
    ],
  },
  {
    name: 'backup',
    mode: 'serial' as const,
    params: [{ name: 'dest', type: 'string' as const, required: true }],
  },
];

async function actionCluster(name: string) {
  // The backup fails on the first worker: a serial action stops there.
  const app = testApp(
    await writePackage(
      `${h.home}/${name}`,
      `[[ "$1" == --action && "$2" == backup && "$(basename "$KDFLOW_MEMBER_ROOT")" == ${name}-worker-0 ]] && { echo "disk full" >&2; exit 4; }`,
    ),
    { actions },
  );
  const handle = await startCluster(h, name, app, { controller: 1, worker: 2 });
  await waitForStatus(handle, (s) => s.phase === 'configured');
  return handle;
}

const members = (s: ClusterStatus) => s.roles.flatMap((r) => r.members);

describe('custom actions', () => {
  it('kdflow action runs the action on its role as one operation, with each member’s result in status, history and files', async () => {
    const handle = await actionCluster('act');
    const run = await runCli('action', 'act', 'compact', '-p', 'files=3', '-p', 'level=high');
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toContain('cluster/act: action compact-1 started on 2 member(s)');
    expect(run.out).toMatch(/act-worker-0\s+worker\s+0/);
    expect(run.out).toContain('action compact-1 succeeded: 2 of 2 succeeded');

    const argv = '--action compact --param level=high --param files=3';
    expect(await eventsLog(h, 'act', 'act-worker-0')).toEqual(['--configure', argv]);
    expect(await eventsLog(h, 'act', 'act-worker-1')).toEqual(['--configure', argv]);
    expect(await eventsLog(h, 'act', 'act-controller-0')).toEqual(['--configure']);
    const status = await waitForStatus(handle, (s) => s.actions?.[0]?.state === 'succeeded');
    expect(status.actions?.[0]).toMatchObject({ id: 'compact-1', targets: 2, succeeded: 2, failed: 0 });
    expect(status.actions?.[0]?.params).toEqual([
      ['level', 'high'],
      ['files', '3'],
    ]);
    expect(members(status).find((m) => m.name === 'act-worker-1')?.lastAction).toMatchObject({
      id: 'compact-1',
      exitCode: 0,
    });
    expect(members(status).find((m) => m.name === 'act-controller-0')?.lastAction).toBeUndefined();
    const runs = await scriptHistory(handle.client, handle.workflowId);
    expect(runs.filter((r) => r.event === 'action-compact').map((r) => [r.member, r.argv.join(' ')])).toEqual(
      expect.arrayContaining([
        ['act-worker-0', argv],
        ['act-worker-1', argv],
      ]),
    );
    const logs = await runCli('logs', 'act', 'act-worker-0', '--event', 'action-compact');
    expect(logs.out).toContain('ran --action compact --param level=high --param files=3');

    // Only the members named, and the default of a parameter not given.
    const one = await runCli('action', 'act', 'compact', 'act-worker-1', '-p', 'files=1');
    expect(one.code).toBe(0);
    expect(await eventsLog(h, 'act', 'act-worker-1')).toEqual([
      '--configure',
      argv,
      '--action compact --param level=low --param files=1',
    ]);
    expect(await eventsLog(h, 'act', 'act-worker-0')).toEqual(['--configure', argv]);
    await handle.signal(deleteSignal);
    await handle.result();
    await recordHistory(h, handle, 'action');
  });

  it('refuses bad parameters, members and roles before anything runs, naming the field, the value and what is accepted', async () => {
    const handle = await actionCluster('bad');
    const refused = async (...args: string[]) => {
      const run = await runCli('action', 'bad', ...args);
      expect(run.code).toBe(1);
      return run.err;
    };
    expect(await refused('compact', '-p', 'files=3', '-p', 'level=extreme')).toContain(
      'params.level: got "extreme"; expected one of low, high',
    );
    expect(await refused('compact', '-p', 'files=three')).toContain('params.files: got "three"; expected an integer');
    expect(await refused('compact')).toContain('params.files: missing; required (integer)');
    expect(await refused('compact', '-p', 'files=1', '-p', 'speed=9')).toContain(
      'params.speed: unknown parameter of action compact; accepted: level, files',
    );
    expect(await refused('compact', '--role', 'controller', '-p', 'files=1')).toContain(
      'role: got "controller"; action compact runs on worker',
    );
    expect(await refused('compact', 'bad-controller-0', '-p', 'files=1')).toContain(
      'bad-controller-0 is of role controller; action compact runs on worker',
    );
    expect(await refused('rebalance')).toContain('action: got "rebalance"; expected one of compact, backup');
    // The workflow checks again: an update sent past the CLI is refused the same way, and nothing is queued.
    await expect(
      handle.executeUpdate(runActionUpdate, { args: [{ action: 'compact', params: { files: '-' } }] }),
    ).rejects.toThrow();
    const status = await waitForStatus(handle, () => true);
    expect(status.actions).toBeUndefined();
    for (const m of ['bad-controller-0', 'bad-worker-0', 'bad-worker-1'])
      expect(await eventsLog(h, 'bad', m)).toEqual(['--configure']);
    await handle.signal(deleteSignal);
    await handle.result();
  });

  it('a serial action stops at its first failure; the failure is the member’s and the action’s, with the output', async () => {
    const handle = await actionCluster('ser');
    const run = await runCli('action', 'ser', 'backup', '-p', 'dest=/backups/x y');
    expect(run.code).toBe(5);
    expect(run.err).toContain('action backup-1 failed: 1 of 3 succeeded');
    expect(run.err).toContain('ser-worker-0: action-backup on ser-worker-0 exited with 4: disk full');
    expect(run.err).toContain('ser-worker-1: not run: an earlier member failed (serial)');
    const status = await waitForStatus(handle, (s) => s.actions?.[0]?.state === 'failed');
    expect(members(status).find((m) => m.name === 'ser-worker-0')?.lastAction).toMatchObject({
      id: 'backup-1',
      exitCode: 4,
    });
    // The value went in as one argv word, spaces and all.
    expect(await eventsLog(h, 'ser', 'ser-controller-0')).toEqual([
      '--configure',
      '--action backup --param dest=/backups/x y',
    ]);
    expect(await eventsLog(h, 'ser', 'ser-worker-1')).toEqual(['--configure']);
    // The cluster itself stays configured: an action changes no member's lifecycle state.
    expect(status.phase).toBe('configured');
    await handle.signal(deleteSignal);
    await handle.result();
  });
});
