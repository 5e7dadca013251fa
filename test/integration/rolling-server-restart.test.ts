/**
 * The Temporal server stopped in the middle of an upgrade and of its rollback (the dev server on a
 * SQLite file, started again on the same file and port; the worker process keeps running): the
 * rollout goes on where it stood. No member is upgraded or rolled back twice, none is skipped
 * (docs/adr/0037). The server goes down on an event: the held member's script has written its
 * `reached` file, and it waits for its `release` file, which the test writes once the server is back.
 */
import { access, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteSignal } from '../../api/index.ts';
import { settled, startCluster, waitForStatus } from '../support/cluster.ts';
import { expectEachOnceInOrder, rolloutEnded, twoVersions, upgrade, versionsLog } from '../support/rolling.ts';
import { startHarness, type Harness } from '../../testing/harness.ts';
import { eventually } from '../../testing/kube/harness.ts';
import type { WorkerBinary } from '../../testing/temporal.ts';

let h: Harness;
let worker: WorkerBinary;

beforeAll(async () => {
  h = await startHarness(undefined, { persist: true });
  // The worker binary, in a process of its own, lives through the server's restarts.
  await h.stopWorker();
  worker = await h.env.startWorkerBinary();
});
afterAll(async () => {
  await worker?.kill();
  await h?.teardown();
});

/** The member's `event` script writes `reached`, then waits for `release`. */
const held = (event: string, suffix: string, reached: string, release: string) =>
  `[[ "$1" == ${event} && "$KDFLOW_MEMBER_ROOT" == *-${suffix} ]] && { : > ${reached}; until [ -e ${release} ]; do sleep 0.1; done; }`;
const count = (lines: string[], word: string) => lines.filter((l) => l.includes(word)).length;
const exists = (file: string) =>
  access(file).then(
    () => true,
    () => undefined,
  );

/** Stops the server once the held script runs, starts it again on the same file, then lets the script finish. */
async function restartServerWhenReached(reached: string, release: string, signal: NodeJS.Signals): Promise<void> {
  await eventually(`the held script to start (${reached})`, () => exists(reached), 180_000);
  await h.env.stopServer(signal);
  await h.env.startServer();
  await writeFile(release, '');
}

describe('the Temporal server restarted mid-rollout', () => {
  it('in an upgrade (server killed): every member upgraded exactly once, in order', async () => {
    const reached = path.join(h.home, 'srvup-reached');
    const release = path.join(h.home, 'srvup-release');
    const { app1, app2 } = await twoVersions(h, 'srvup', held('--upgrade', 'worker-0', reached, release));
    const handle = await startCluster(h, 'srvup', app1, { controller: 1, worker: 2 }, 'default', {
      heartbeatTimeoutSeconds: 5,
    });
    await waitForStatus(handle, settled(1), 180_000);
    await upgrade(handle, app2);
    await restartServerWhenReached(reached, release, 'SIGKILL');
    const status = await eventually('an answer after the restart', () => waitForStatus(handle, rolloutEnded, 180_000));
    expect(status).toMatchObject({ phase: 'configured', appVersion: '2' });
    expect(status.rollout).toMatchObject({ phase: 'done', done: 3, total: 3 });
    await expectEachOnceInOrder(h, handle, 'srvup', 'v2 --upgrade --from 1 --to 2', [
      'controller-0',
      'worker-0',
      'worker-1',
    ]);
    await handle.signal(deleteSignal);
    expect((await handle.result()).phase).toBe('deleted');
  });

  it('in a rollback (server stopped): every member rolled back exactly once, newest first', async () => {
    const reached = path.join(h.home, 'srvback-reached');
    const release = path.join(h.home, 'srvback-release');
    const { app1, app2 } = await twoVersions(
      h,
      'srvback',
      `[[ "$1" == --upgrade && "$KDFLOW_MEMBER_ROOT" == *-worker-1 ]] && exit 1`,
      held('--rollback', 'worker-0', reached, release),
    );
    const handle = await startCluster(h, 'srvback', app1, { controller: 1, worker: 2 }, 'default', {
      heartbeatTimeoutSeconds: 5,
    });
    await waitForStatus(handle, settled(1), 180_000);
    await upgrade(handle, app2);
    await restartServerWhenReached(reached, release, 'SIGTERM');
    const status = await eventually('an answer after the restart', () => waitForStatus(handle, rolloutEnded, 180_000));
    expect(status).toMatchObject({ phase: 'configured', appVersion: '1' });
    expect(status.rollout).toMatchObject({
      phase: 'rolled back',
      rolledBack: 3,
      failed: { member: 'srvback-worker-1' },
    });
    // The members before the failed one went forward once (the failed one's runs are its retries).
    for (const m of ['srvback-controller-0', 'srvback-worker-0'])
      expect(count(await versionsLog(h, 'srvback', m), 'v2 --upgrade --from 1 --to 2')).toBe(1);
    await expectEachOnceInOrder(h, handle, 'srvback', 'v1 --rollback --from 2 --to 1', [
      'worker-1',
      'worker-0',
      'controller-0',
    ]);
    await handle.signal(deleteSignal);
    expect((await handle.result()).phase).toBe('deleted');
  });
});
