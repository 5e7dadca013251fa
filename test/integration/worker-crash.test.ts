import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteSignal, resizeUpdate } from '../../api/index.ts';
import { eventsLog, memberStates, settled, startCluster, testApp, waitForStatus, writePackage } from '../support/cluster.ts';
import { startHarness, type Harness } from '../support/temporal.ts';

const WORKER = fileURLToPath(new URL('../../worker/main.ts', import.meta.url));
let h: Harness;
const children: ChildProcess[] = [];

/** The real worker binary in its own process, so that kill -9 is a real crash. */
function spawnWorker(): ChildProcess {
  const child = spawn(process.execPath, [WORKER], {
    env: { ...process.env, TEMPORAL_ADDRESS: h.env.address, KDFLOW_HOME: h.home, KDFLOW_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  children.push(child);
  return child;
}

beforeAll(async () => {
  h = await startHarness();
  // Only the out-of-process workers serve this file's clusters.
  await h.stopWorker();
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await h?.env.teardown();
});

describe('a worker killed mid-grow', () => {
  it('converges after a restart, and no script runs twice to completion', async () => {
    const app = testApp(await writePackage(`${h.home}/crash`, '[[ "$1" == --configure ]] && sleep 2'));
    let worker = spawnWorker();
    const handle = await startCluster(h, 'crash', app, { controller: 1, worker: 1 });
    await waitForStatus(handle, settled(1));
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 3 } }] });
    // Kill while the new members' --configure scripts are running.
    await waitForStatus(handle, (s) => (s.operation ?? '').startsWith('configure'));
    worker.kill('SIGKILL');
    await new Promise((resolve) => worker.once('exit', resolve));
    worker = spawnWorker();
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
});
