/**
 * Self-healing members on a real control plane (docs/adr/0049): a member pod deleted with kubectl
 * comes back configured with no kdflow command, found by the worker's one pod watch. kwok pods keep
 * their files on the host (testing/kube/harness.ts), so a deleted pod's files survive it like a
 * volume; the second test removes them too, for a member whose volume was lost.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deleteSignal, type ClusterStatus } from '../../api/index.ts';
import { kubectl } from '../../testing/kube/harness.ts';
import { KUBE_SKIPPED, useKubeTestEnv } from '../../testing/kube/env.ts';
import { testApp, waitForStatus, writePackage } from '../support/cluster.ts';

const NS = 'kdheal';
const skip = KUBE_SKIPPED;
const { kube, harness: h, core, startCluster: startKubeCluster, podEvents } = useKubeTestEnv({ namespace: NS });

const configureRun = (s: ClusterStatus, name: string) =>
  s.roles
    .flatMap((r) => r.members)
    .find((m) => m.name === name)
    ?.events.find((e) => e.event === 'configure')?.runId;
const podUid = async (name: string) => (await core.readNamespacedPod({ namespace: NS, name })).metadata?.uid;

describe.skipIf(skip)('self-healing members on the Kubernetes runtime', () => {
  it('a pod deleted with kubectl comes back by the restart rule, with no kdflow command', async () => {
    const app = testApp(await writePackage(`${h.home}/kh`), {
      roles: [
        { id: 'controller', cardinality: '1' },
        { id: 'worker', cardinality: '0+', eventList: ['configure', 'addnodes', 'delnodes', 'restart'] },
      ],
    });
    const handle = await startKubeCluster('kh', app, [
      { id: 'controller', members: 1 },
      { id: 'worker', members: 1 },
    ]);
    const before = await waitForStatus(handle, (s) => s.phase === 'configured');
    const uid = await podUid('kh-worker-0');
    await kubectl(kube, ['delete', 'pod', '-n', NS, 'kh-worker-0', '--wait=false']);

    const after = await waitForStatus(
      handle,
      (s) =>
        s.phase === 'configured' &&
        !s.operation &&
        s.rollout?.kind === 'restart' &&
        s.rollout.phase === 'done' &&
        s.roles[1]?.members[0]?.heals === 1,
    );
    expect(after.lastHeal).toMatch(/healing kh-worker-0 \(1 of 3\): pod is missing/);
    expect(after.roles[1]?.members[0]).toMatchObject({ name: 'kh-worker-0', state: 'configured', heals: 1 });
    expect(await podUid('kh-worker-0')).not.toBe(uid);
    // Its files outlived the pod here (kwok), as a persisted /opt/guestconfig would: by KubeDirector's
    // restart rule it is not configured again, and its role lists `restart`. The controller heard nothing.
    expect(configureRun(after, 'kh-worker-0')).toBe(configureRun(before, 'kh-worker-0'));
    expect(await podEvents('kh', 'kh-worker-0')).toEqual(['--configure', '--restart']);
    expect(await podEvents('kh', 'kh-controller-0')).toEqual(['--configure']);
    await handle.signal(deleteSignal);
    await handle.result();
  });

  it('a pod deleted with its files (a lost volume) is configured from scratch', async () => {
    const app = testApp(await writePackage(`${h.home}/kl`));
    const handle = await startKubeCluster('kl', app, [{ id: 'controller', members: 1 }]);
    const before = await waitForStatus(handle, (s) => s.phase === 'configured');
    // The files first: the heal may re-create the pod as soon as it is gone.
    await rm(path.join(kube.podRoot, NS, 'kl-controller-0'), { recursive: true, force: true });
    await kubectl(kube, ['delete', 'pod', '-n', NS, 'kl-controller-0', '--wait=false']);

    const after = await waitForStatus(
      handle,
      (s) =>
        s.phase === 'configured' &&
        !s.operation &&
        configureRun(s, 'kl-controller-0') !== configureRun(before, 'kl-controller-0'),
    );
    expect(after.lastHeal).toMatch(/healing kl-controller-0/);
    expect(await podEvents('kl', 'kl-controller-0')).toEqual(['--configure']);
    await handle.signal(deleteSignal);
    await handle.result();
  });
});
