/**
 * A worker killed (-9, a real process) in the middle of an upgrade and of its rollback: the next
 * worker resumes exactly where the rollout stood. No member is upgraded or rolled back twice, none is
 * skipped (docs/adr/0037). Scripts are held on files the test creates, so the kill lands mid-run.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deleteSignal } from '../../api/index.ts';
import { settled, startCluster, waitForStatus } from '../support/cluster.ts';
import { expectEachOnceInOrder, rolloutEnded, twoVersions, upgrade } from '../support/rolling.ts';
import { useWorkerBinaries } from '../../testing/harness.ts';

const { h, startWorker } = useWorkerBinaries();

const held = (event: string, suffix: string, release: string) =>
  `[[ "$1" == ${event} && "$KDFLOW_MEMBER_ROOT" == *-${suffix} ]] && { until [ -e ${release} ]; do sleep 0.1; done; }`;

describe('a worker killed mid-rollout', () => {
  it('in an upgrade: the next worker finishes it, every member upgraded exactly once', async () => {
    const release = path.join(h.home, 'crashup-release');
    const { app1, app2 } = await twoVersions(h, 'crashup', held('--upgrade', 'worker-0', release));
    const worker = await startWorker();
    const handle = await startCluster(h, 'crashup', app1, { controller: 1, worker: 2 }, 'default', {
      heartbeatTimeoutSeconds: 5,
    });
    await waitForStatus(handle, settled(1), 180_000);
    await upgrade(handle, app2);
    await waitForStatus(handle, (s) => (s.operation ?? '').startsWith('upgrade --from 1 --to 2 on crashup-worker-0'));
    await worker.kill();
    await startWorker();
    await writeFile(release, '');
    const status = await waitForStatus(handle, rolloutEnded, 180_000);
    expect(status).toMatchObject({ phase: 'configured', appVersion: '2' });
    expect(status.rollout).toMatchObject({ phase: 'done', done: 3, total: 3 });
    await expectEachOnceInOrder(h, handle, 'crashup', 'v2 --upgrade --from 1 --to 2', [
      'controller-0',
      'worker-0',
      'worker-1',
    ]);
    await handle.signal(deleteSignal);
    expect((await handle.result()).phase).toBe('deleted');
  });

  it('in a rollback: the next worker finishes it in order, every member rolled back exactly once', async () => {
    const release = path.join(h.home, 'crashback-release');
    const { app1, app2 } = await twoVersions(
      h,
      'crashback',
      `[[ "$1" == --upgrade && "$KDFLOW_MEMBER_ROOT" == *-worker-1 ]] && exit 1`,
      held('--rollback', 'worker-0', release),
    );
    const worker = await startWorker();
    const handle = await startCluster(h, 'crashback', app1, { controller: 1, worker: 2 }, 'default', {
      heartbeatTimeoutSeconds: 5,
    });
    await waitForStatus(handle, settled(1), 180_000);
    await upgrade(handle, app2);
    await waitForStatus(handle, (s) =>
      (s.operation ?? '').startsWith('rollback --from 2 --to 1 on crashback-worker-0'),
    );
    await worker.kill();
    await startWorker();
    await writeFile(release, '');
    const status = await waitForStatus(handle, rolloutEnded, 180_000);
    expect(status).toMatchObject({ phase: 'configured', appVersion: '1' });
    expect(status.rollout).toMatchObject({
      phase: 'rolled back',
      rolledBack: 3,
      failed: { member: 'crashback-worker-1' },
    });
    await expectEachOnceInOrder(h, handle, 'crashback', 'v1 --rollback --from 2 --to 1', [
      'worker-1',
      'worker-0',
      'controller-0',
    ]);
    await handle.signal(deleteSignal);
    expect((await handle.result()).phase).toBe('deleted');
  });
});
