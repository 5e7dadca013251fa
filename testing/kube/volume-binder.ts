/**
 * Test-only stand-in for a storage provisioner: every pending PVC of the harness StorageClass gets a
 * hostPath PV made for it, which kube-controller-manager's PV controller then binds.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { CoreV1Api, Watch, type KubeConfig, type V1PersistentVolumeClaim } from '@kubernetes/client-node';

export function startVolumeBinder(kc: KubeConfig, root: string): { stop(): void } {
  const core = kc.makeApiClient(CoreV1Api);
  let stopped = false;
  let abort: AbortController | undefined;
  const provision = async (pvc: V1PersistentVolumeClaim) => {
    if (pvc.status?.phase !== 'Pending' || pvc.spec?.volumeName) return;
    const ns = pvc.metadata?.namespace ?? 'default';
    const name = pvc.metadata?.name ?? '';
    const dir = path.join(root, ns, name);
    mkdirSync(dir, { recursive: true });
    await core
      .createPersistentVolume({
        body: {
          metadata: { name: `pv-${ns}-${name}`.slice(0, 253), labels: { 'kdflow.dev/test-binder': 'true' } },
          spec: {
            capacity: { storage: pvc.spec?.resources?.requests?.storage ?? '1Gi' },
            accessModes: pvc.spec?.accessModes ?? ['ReadWriteOnce'],
            storageClassName: pvc.spec?.storageClassName ?? 'kdflow-test',
            persistentVolumeReclaimPolicy: 'Delete',
            hostPath: { path: dir, type: 'DirectoryOrCreate' },
            claimRef: { namespace: ns, name, uid: pvc.metadata?.uid ?? '' },
          },
        },
      })
      .catch(() => undefined);
  };
  const loop = async () => {
    while (!stopped) {
      try {
        const list = await core.listPersistentVolumeClaimForAllNamespaces();
        await Promise.all(list.items.map(provision));
        await new Promise<void>((resolve) => {
          void new Watch(kc)
            .watch(
              '/api/v1/persistentvolumeclaims',
              { resourceVersion: list.metadata?.resourceVersion },
              (type, pvc: V1PersistentVolumeClaim) => void (type !== 'DELETED' && provision(pvc)),
              () => resolve(),
            )
            .then(
              (a) => (abort = a),
              () => resolve(),
            );
        });
      } catch {
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  void loop();
  return {
    stop() {
      stopped = true;
      abort?.abort();
    },
  };
}
