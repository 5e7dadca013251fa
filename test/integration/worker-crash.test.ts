import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deleteSignal, resizeUpdate } from '../../api/index.ts';
import { eventsLog, memberStates, settled, startCluster, testApp, waitForStatus, writePackage } from '../support/cluster.ts';
import { startHarness, type Harness } from '../support/temporal.ts';
import type { ClusterOptions } from '../../workflows/cluster.ts';

const WORKER = fileURLToPath(new URL('../../worker/main.ts', import.meta.url));
let h: Harness;
const children: ChildProcess[] = [];

/** The real worker binary in its own process, so that kill -9 is a real crash; one at a time. */
let worker: ChildProcess | undefined;
function startWorker(): void {
  worker = spawn(process.execPath, [WORKER], {
    env: { ...process.env, TEMPORAL_ADDRESS: h.env.address, KDFLOW_HOME: h.home, KDFLOW_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  children.push(worker);
}
async function killWorker(): Promise<void> {
  const dead = worker;
  worker = undefined;
  if (!dead || dead.exitCode !== null || dead.signalCode !== null) return;
  const exited = new Promise((resolve) => dead.once('exit', resolve));
  dead.kill('SIGKILL');
  await exited;
}

/** A cluster grows from 1+1 to 1+3; its worker is killed while the new members' --configure scripts run, and a new one started. */
async function killedMidGrow(name: string, options: ClusterOptions = {}) {
  const app = testApp(await writePackage(`${h.home}/${name}`, '[[ "$1" == --configure ]] && sleep 2'));
  startWorker();
  const handle = await startCluster(h, name, app, { controller: 1, worker: 1 }, 'default', options);
  await waitForStatus(handle, settled(1), 180_000);
  await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 3 } }] });
  await waitForStatus(handle, (s) => (s.operation ?? '').startsWith('configure'));
  await killWorker();
  startWorker();
  return handle;
}

beforeAll(async () => {
  h = await startHarness();
  // Only the out-of-process workers serve this file's clusters.
  await h.stopWorker();
});
afterEach(killWorker);
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await h?.env.teardown();
});

describe('a worker killed mid-grow', () => {
  it('converges after a restart, and no script runs twice to completion', async () => {
    const handle = await killedMidGrow('crash');
    const status = await waitForStatus(handle, settled(2), 180_000);
    expect(status.phase).toBe('configured');
    expect(Object.values(memberStates(status))).toEqual(['configured', 'configured', 'configured', 'configured']);
    // The scripts the dead worker started finished once; the new worker picked up their recorded results.
    for (const m of ['crash-worker-1', 'crash-worker-2']) expect(await eventsLog(h, 'crash', m)).toEqual(['--configure']);
    const announced = await eventsLog(h, 'crash', 'crash-controller-0');
    expect(announced.filter((e) => e.startsWith('--addnodes'))).toHaveLength(1);
    await handle.signal(deleteSignal);
    expect((await handle.result()).phase).toBe('deleted');
  });

  // The new worker sees that the one that started them is gone (worker/takeover.ts), instead of waiting for their heartbeat timeout.
  it("is followed by a worker that retries the dead worker's activities at once", async () => {
    // Ten minutes: without the takeover the scripts would be retried only at their start-to-close timeout.
    const handle = await killedMidGrow('takeover', { heartbeatTimeoutSeconds: 600 });
    expect((await waitForStatus(handle, settled(2), 150_000)).phase).toBe('configured');
    const retries = (await handle.fetchHistory()).events?.flatMap((e) => {
      const started = e.activityTaskStartedEventAttributes;
      return started && (started.attempt ?? 1) > 1 ? [started.lastFailure] : [];
    });
    expect(retries?.length).toBeGreaterThan(0);
    for (const failure of retries ?? []) {
      expect(failure?.applicationFailureInfo?.type).toBe('WorkerGone');
      expect(failure?.message).toMatch(/^worker \d+@\S+ kdflow-worker \d+ is gone .* retried at once by \d+@/);
    }
    for (const m of ['takeover-worker-1', 'takeover-worker-2']) expect(await eventsLog(h, 'takeover', m)).toEqual(['--configure']);
    await handle.signal(deleteSignal);
    expect((await handle.result()).phase).toBe('deleted');
  });
});
