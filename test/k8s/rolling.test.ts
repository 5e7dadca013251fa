/**
 * A rolling upgrade on the Kubernetes runtime (docs/adr/0037), on a real API server, scheduler and
 * kwok node (testing/kube/harness.ts): each member's pod is re-created with the new version's image,
 * under its own name and on its own PVC, and the new startscript runs --upgrade in it.
 */
import { describe, expect, it } from 'vitest';
import {
  EVENTS,
  KdClusterSpec,
  clusterStartOptions,
  deleteSignal,
  type ClusterInput,
  type ClusterStatus,
  type KdAppSpec,
} from '../../api/index.ts';
import type { clusterWorkflow } from '../../workflows/cluster.ts';
import { settled, testApp, waitForStatus, writePackage } from '../support/cluster.ts';
import { rollingRuns, upgrade } from '../support/rolling.ts';
import type { Harness } from '../../testing/harness.ts';
import { KUBE_SKIPPED, memberTarget, useKubeTestEnv } from '../../testing/kube/env.ts';

const NS = 'kdroll';
const skip = KUBE_SKIPPED;
const { harness: h, core } = useKubeTestEnv({ namespace: NS });
const target = (name: string) => memberTarget(NS, 'kup', name);

describe.skipIf(skip)('a rolling upgrade on Kubernetes', () => {
  it('re-creates each pod with the new image, same name, same PVC, and runs the new startscript --upgrade', async () => {
    // The upgrade runs in the new pod: it leaves a file there saying which version's script ran.
    // (The harness's kwok pods keep no files across a re-creation, so the volume's contents are not
    // checked here; the PVC object is: it is the same one.)
    const script = (n: number) => `[[ "$1" == --upgrade ]] && echo "v${n} $*" > "$GUESTCONFIG_DIR/upgraded"`;
    const app = async (n: number): Promise<KdAppSpec> =>
      testApp(await writePackage(`${h.home}/kup-v${n}`, script(n)), {
        version: String(n),
        defaultImageRepoTag: `test:${n}`,
        defaultEventList: [...EVENTS],
        roles: [
          { id: 'controller', cardinality: '1' },
          { id: 'worker', cardinality: '0+', persistDirs: ['/data'] },
        ],
      });
    const [app1, app2] = [await app(1), await app(2)];
    const spec = KdClusterSpec.parse({
      app: 'testapp',
      roles: [
        { id: 'controller', members: 1 },
        { id: 'worker', members: 1, storage: { size: '1Gi' } },
      ],
    });
    const input: ClusterInput = { namespace: NS, name: 'kup', appName: 'testapp', app: app1, spec };
    const handle = await h.env.client.workflow.start<typeof clusterWorkflow>('clusterWorkflow', {
      taskQueue: h.taskQueue,
      args: [input],
      ...clusterStartOptions(input),
    });
    await waitForStatus(handle, settled(1), 300_000);
    const pod = (name: string) => core.readNamespacedPod({ namespace: NS, name });
    const before = { controller: await pod('kup-controller-0'), worker: await pod('kup-worker-0') };
    const pvc = await core.readNamespacedPersistentVolumeClaim({ namespace: NS, name: 'kup-worker-0-data' });
    expect(before.worker.spec?.containers[0]?.image).toBe('test:1');

    await upgrade(handle, app2);
    const status: ClusterStatus = await waitForStatus(
      handle,
      (s) => s.operation === undefined && s.rollout?.phase === 'done',
      300_000,
    );
    expect(status).toMatchObject({ phase: 'configured', appVersion: '2' });
    for (const [name, old] of [
      ['kup-controller-0', before.controller],
      ['kup-worker-0', before.worker],
    ] as const) {
      const now = await pod(name);
      expect(now.spec?.containers[0]?.image).toBe('test:2');
      expect(now.metadata?.uid).not.toBe(old.metadata?.uid);
      expect(now.metadata?.annotations?.['kdflow.dev/replacement']).toMatch(/^r\d+-to$/);
    }
    // The same volume: the PVC was never re-created.
    expect(
      (await core.readNamespacedPersistentVolumeClaim({ namespace: NS, name: 'kup-worker-0-data' })).metadata?.uid,
    ).toBe(pvc.metadata?.uid);
    expect(await h.runtime.readGuestFile(target('kup-worker-0'), '/opt/guestconfig/upgraded')).toBe(
      'v2 --upgrade --from 1 --to 2\n',
    );
    expect(await rollingRuns(h as unknown as Harness, handle)).toEqual([
      'controller-0 --upgrade --from 1 --to 2 0',
      'worker-0 --upgrade --from 1 --to 2 0',
    ]);
    await handle.signal(deleteSignal);
    expect((await handle.result()).phase).toBe('deleted');
  });
});
