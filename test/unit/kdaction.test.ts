/** The KdAction (docs/adr/0050): its spec as the request, its status from the cluster's, and a request queued once per requestId. */
import { describe, expect, it } from 'vitest';
import {
  KDACTION_RESULTS_MAX,
  KdActionSpec,
  KdAppSpec,
  kdActionRequest,
  type ActionStatus,
  type ClusterStatus,
} from '../../api/index.ts';
import { actionCrStatus } from '../../shim/actions.ts';
import { queueAction } from '../../workflows/actions.ts';
import type { Desired, Member } from '../../workflows/model.ts';

const app = KdAppSpec.parse({
  label: { name: 'a' },
  distroID: 'a/a',
  version: '1',
  defaultImageRepoTag: 'a:1',
  defaultConfigPackage: { packageURL: 'file:///pkg' },
  roles: [{ id: 'worker', cardinality: '0+' }],
  actions: [{ name: 'compact', params: [{ name: 'files', type: 'integer', required: true }] }],
});

describe('KdAction', () => {
  it('takes parameter values as YAML writes them and sends them as -p would, keyed by the uid', () => {
    const spec = KdActionSpec.parse({ cluster: 'c', action: 'compact', params: { files: 3, dry: true, note: 'x y' } });
    expect(kdActionRequest(spec, 'uid-1')).toEqual({
      action: 'compact',
      params: { files: '3', dry: 'true', note: 'x y' },
      requestId: 'uid-1',
    });
    const bad = KdActionSpec.safeParse({ cluster: 'c', action: 'compact', params: { files: { n: 3 } } });
    expect(bad.success).toBe(false);
  });

  it('queues a request once per requestId: the same request again answers the same operation', () => {
    const desired = { namespace: 'd', name: 'c', app, generation: 1 } as unknown as Desired;
    const members = [0, 1].map(
      (ordinal) => ({ name: `c-worker-${ordinal}`, role: 'worker', ordinal, state: 'configured' }) as Member,
    );
    const request = { action: 'compact', params: { files: '3' }, requestId: 'uid-1' };
    const first = queueAction({}, desired, members, request, 0);
    if (!('record' in first)) throw new Error('refused');
    const state = { actions: first.actions, actionSeq: first.seq };
    const again = queueAction(state, desired, members, request, 1);
    expect('record' in again && again.record.id).toBe('compact-1');
    expect('actions' in again && again.actions).toHaveLength(1);
    const other = queueAction(state, desired, members, { ...request, requestId: 'uid-2' }, 2);
    expect('record' in other && other.record.id).toBe('compact-2');
  });

  it('status: results as members finish, bounded, and the outcome once the action is over', () => {
    const action: ActionStatus = {
      id: 'compact-1',
      action: 'compact',
      params: [],
      state: 'running',
      targets: 60,
      succeeded: 59,
      failed: 1,
      failures: ['c-worker-7: exit 4'],
      requestedAt: 't0',
    };
    const members = Array.from({ length: 60 }, (_, i) => ({
      name: `c-worker-${String(i).padStart(2, '0')}`,
      lastAction: {
        id: i === 59 ? 'compact-0' : 'compact-1',
        exitCode: i === 7 ? 4 : 0,
        attempts: 1,
        startedAt: 't1',
        finishedAt: 't2',
        ...(i === 7 ? { error: 'exit 4' } : {}),
      },
    }));
    const cluster = { roles: [{ id: 'worker', members }] } as unknown as ClusterStatus;
    const running = actionCrStatus({ phase: 'Running', id: 'compact-1' }, action, cluster);
    expect(running.phase).toBe('Running');
    expect(running.results).toHaveLength(KDACTION_RESULTS_MAX);
    expect(running.resultsOmitted).toBe(9);
    expect(running.results?.[7]).toEqual({
      member: 'c-worker-07',
      role: 'worker',
      exitCode: 4,
      error: 'exit 4',
      finishedAt: 't2',
    });
    // Read again: rows already kept are not counted twice.
    const done = actionCrStatus(running, { ...action, state: 'failed', finishedAt: 't3' }, cluster);
    expect(done).toMatchObject({
      phase: 'Failed',
      resultsOmitted: 9,
      finishedAt: 't3',
      message: 'action compact-1 failed: 59 of 60 succeeded; c-worker-7: exit 4',
    });
  });
});
