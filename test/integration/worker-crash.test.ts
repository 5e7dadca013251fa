import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deleteSignal, resizeUpdate } from '../../api/index.ts';
import {
  eventsLog,
  memberStates,
  settled,
  startCluster,
  testApp,
  waitForStatus,
  writePackage,
} from '../support/cluster.ts';
import { useWorkerBinaries } from '../../testing/harness.ts';
import type { ClusterOptions } from '../../workflows/cluster.ts';

// temporal.api.enums.v1.PendingActivityState
const PENDING_ACTIVITY_CANCEL_REQUESTED = 3;
/** Real worker binaries in their own processes, so that kill -9 is a real crash. */
const { h, startWorker } = useWorkerBinaries();

/** A crash test's heartbeat timeout: short, so that a lost activity the takeover does not retry is retried soon. */
const CRASH_HEARTBEAT: ClusterOptions = { heartbeatTimeoutSeconds: 5 };

/** A startscript whose --configure waits until the test releases it, so a crash lands while it runs. */
const heldConfigure = (release: string) => `[[ "$1" == --configure ]] && until [ -e ${release} ]; do sleep 0.1; done`;

/**
 * A cluster grows from 1+1 to 1+3 with a `behaviour` startscript, on a worker of its own, until the
 * grow's --configure scripts run. `release()` lets held scripts finish.
 */
async function growing(name: string, options: ClusterOptions = CRASH_HEARTBEAT, behaviour?: string) {
  const release = path.join(h.home, `${name}-release`);
  // The first members configure at once; the grow's are held until release().
  const held = `[[ "$KDFLOW_MEMBER_ROOT" != *-0 ]] && ${heldConfigure(release)}`;
  const app = testApp(await writePackage(`${h.home}/${name}`, behaviour ?? held));
  const worker = await startWorker();
  const handle = await startCluster(h, name, app, { controller: 1, worker: 1 }, 'default', options);
  await waitForStatus(handle, settled(1), 180_000);
  await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 3 } }] });
  await waitForStatus(handle, (s) => (s.operation ?? '').startsWith('configure'));
  return { handle, worker, release: () => writeFile(release, '') };
}

describe('a worker killed mid-grow', () => {
  it('converges after a restart, and no script runs twice to completion', async () => {
    const { handle, worker, release } = await growing('crash');
    await worker.kill();
    await startWorker();
    await release();
    const status = await waitForStatus(handle, settled(2), 180_000);
    expect(status.phase).toBe('configured');
    expect(Object.values(memberStates(status))).toEqual(['configured', 'configured', 'configured', 'configured']);
    // The scripts the dead worker started finished once; the new worker picked up their recorded results.
    for (const m of ['crash-worker-1', 'crash-worker-2'])
      expect(await eventsLog(h, 'crash', m)).toEqual(['--configure']);
    const announced = await eventsLog(h, 'crash', 'crash-controller-0');
    expect(announced.filter((e) => e.startsWith('--addnodes'))).toHaveLength(1);
    await handle.signal(deleteSignal);
    expect((await handle.result()).phase).toBe('deleted');
  });

  // The new worker sees that the one that started them is gone (worker/takeover.ts), instead of waiting for their heartbeat timeout.
  it("is followed by a worker that retries the dead worker's activities at once", async () => {
    // Ten minutes: without the takeover the scripts would be retried only at their start-to-close timeout.
    const { handle, worker, release } = await growing('takeover', { heartbeatTimeoutSeconds: 600 });
    await worker.kill();
    await startWorker();
    await release();
    expect((await waitForStatus(handle, settled(2), 150_000)).phase).toBe('configured');
    const retries = (await handle.fetchHistory()).events?.flatMap((e) => {
      const started = e.activityTaskStartedEventAttributes;
      return started && (started.attempt ?? 1) > 1 ? [started.lastFailure] : [];
    });
    expect(retries?.length).toBeGreaterThan(0);
    for (const failure of retries ?? []) {
      expect(failure?.applicationFailureInfo?.type).toBe('WorkerGone');
      expect(failure?.message).toMatch(/^worker \d+@\S+ kdflow-worker \d+ \S+ is gone .* retried at once by \d+@/);
    }
    for (const m of ['takeover-worker-1', 'takeover-worker-2'])
      expect(await eventsLog(h, 'takeover', m)).toEqual(['--configure']);
    await handle.signal(deleteSignal);
    expect((await handle.result()).phase).toBe('deleted');
  });

  it('lets a delete go on when the scripts it was cancelling belonged to a dead worker', async () => {
    // The grow's new members sleep long and ignore SIGTERM; the first members configure at once.
    const slow = '[[ "$1" == --configure && "$KDFLOW_MEMBER_ROOT" != *-0 ]] && { trap "" TERM; sleep 300; }';
    const { handle, worker: frozen } = await growing('cancel', { heartbeatTimeoutSeconds: 600 }, slow);
    // Frozen, its worker cannot hear of the cancel; another worker handles the delete and asks for it.
    frozen.child.kill('SIGSTOP');
    await startWorker();
    await handle.signal(deleteSignal);
    const cancelling = async () =>
      ((await handle.describe()).raw.pendingActivities ?? []).some(
        (a) => a.state === PENDING_ACTIVITY_CANCEL_REQUESTED,
      );
    while (!(await cancelling())) await new Promise((resolve) => setTimeout(resolve, 200));
    await frozen.kill();
    // Without the takeover, the delete would wait for the scripts' ten-minute heartbeat timeout.
    await startWorker();
    expect((await handle.result()).phase).toBe('deleted');
    const cancelled = (await handle.fetchHistory()).events?.filter((e) => e.activityTaskCanceledEventAttributes) ?? [];
    expect(cancelled.length).toBeGreaterThan(0);
    expect(await h.runtime.listMembers('default', 'cancel')).toEqual([]);
  });
});
