/**
 * The Kubernetes side of a chaos environment (`npm run chaos -- --runtime kubernetes`): the harness's
 * control plane (testing/kube/harness.ts), a kubeconfig for the worker as the least-privilege
 * ServiceAccount of crds/deploy/worker-rbac.yaml, and what the parts do to it and read from it: a pod
 * deleted by hand, the kube-apiserver restarted, and every pod uid each member name ever had (from a
 * watch), so that a member created twice is seen even when the twin is gone again. The same watch
 * does the one thing of a kubelet that kwok does not: a pod being deleted has its processes killed
 * (kwok's "containers" are processes on this host, in the pod's root).
 */
import { writeFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { CoreV1Api, Watch, type V1Pod } from '@kubernetes/client-node';
import { LABELS, clusterSelector } from '../../runtimes/kubernetes/objects.ts';
import { isInside, killAll, processes, type ProcessInfo } from '../processes.ts';
import { eventually, kubectl, serviceAccountKubeConfig, startKubeHarness, type KubeHarness } from '../kube/harness.ts';
import { NAMESPACE } from './fixtures.ts';

export interface KubeObserved {
  /** The cluster's pods by name: running (phase Running, not terminating) or not. */
  /**
   * The cluster's pods by name, but for those being deleted: kdflow's part in a deletion ends with
   * the request, and the node finishes it (kwok, after an apiserver restart, seconds later).
   */
  pods: Map<string, { uid: string; running: boolean }>;
  pvcs: string[];
  services: string[];
  /**
   * Processes in the root of one of the cluster's pods that the API still has: scripts and runners
   * still going. (Those of a deleted pod are killed as a kubelet would, see `killContainer`.)
   */
  strays: string[];
}

/** Seconds a pod problem (such as a missing pod) lasts before the member is failed: shorter than the 60 s default, so a deleted pod's member fails soon. */
export const CHAOS_PROBLEM_GRACE_SECONDS = 10;

/** A process of the pod whose root is `dir` (or of any pod below it): working there, or started there with its member root. */
const inPod = (dir: string, p: ProcessInfo) => isInside(dir, p.cwd) || (!!p.memberRoot && isInside(dir, p.memberRoot));

export class KubeWorld {
  readonly harness: KubeHarness;
  readonly core: CoreV1Api;
  readonly workerKubeconfig: string;
  /** Pod name → every uid seen for it. */
  private readonly uids = new Map<string, Set<string>>();
  private watchAbort?: AbortController;
  private watching = true;
  private resourceVersion?: string;

  private constructor(harness: KubeHarness, workerKubeconfig: string) {
    this.harness = harness;
    this.core = harness.kc.makeApiClient(CoreV1Api);
    this.workerKubeconfig = workerKubeconfig;
  }

  static async start(log: (line: string) => void): Promise<KubeWorld> {
    const harness = await startKubeHarness(log);
    try {
      await kubectl(harness, ['apply', '-f', 'crds/deploy/worker-rbac.yaml']);
      const core = harness.kc.makeApiClient(CoreV1Api);
      await eventually(
        `the default service account in namespace ${NAMESPACE}`,
        async () => (await core.readNamespacedServiceAccount({ namespace: NAMESPACE, name: 'default' })).metadata,
      );
      const workerKubeconfig = path.join(harness.dir, 'worker.kubeconfig');
      const kc = await serviceAccountKubeConfig(harness, 'kdflow-system', 'kdflow-worker');
      await writeFile(workerKubeconfig, kc.exportConfig(), { mode: 0o600 });
      const world = new KubeWorld(harness, workerKubeconfig);
      await world.watchPods();
      return world;
    } catch (error) {
      await harness.stop();
      throw error;
    }
  }

  /** What the worker binary needs to run on this cluster. */
  workerEnv(): Record<string, string> {
    return {
      KDFLOW_RUNTIME: 'kubernetes',
      KUBECONFIG: this.workerKubeconfig,
      KDFLOW_K8S_PROBLEM_GRACE_SECONDS: String(CHAOS_PROBLEM_GRACE_SECONDS),
    };
  }

  /** Where the pod's "container" keeps its files on this host (kwok runs exec here, under a root per pod). */
  podDir(pod: string): string {
    return path.join(this.harness.podRoot, NAMESPACE, pod);
  }

  /** How many pods of this name the API has had (a member created once has one). */
  podsEver(pod: string): number {
    return this.uids.get(pod)?.size ?? 0;
  }

  async observe(cluster: string): Promise<KubeObserved> {
    const selector = { namespace: NAMESPACE, labelSelector: clusterSelector(cluster) };
    const [pods, pvcs, services] = await Promise.all([
      this.core.listNamespacedPod(selector),
      this.core.listNamespacedPersistentVolumeClaim(selector),
      this.core.listNamespacedService(selector),
    ]);
    const byName = new Map<string, { uid: string; running: boolean }>();
    for (const pod of pods.items) {
      const name = pod.metadata?.name ?? '';
      this.remember(pod);
      if (pod.metadata?.deletionTimestamp) continue;
      byName.set(name, {
        uid: pod.metadata?.uid ?? '',
        running: pod.status?.phase === 'Running',
      });
    }
    const dirs = [...byName.keys()].map((pod) => this.podDir(pod));
    const strays = await processes((p) => dirs.some((dir) => inPod(dir, p)));
    return {
      pods: byName,
      pvcs: pvcs.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata?.name ?? ''),
      services: services.items.map((s) => s.metadata?.name ?? ''),
      strays: strays.map((p) => `${p.pid} ${p.argv.join(' ').trim()}`),
    };
  }

  /**
   * `kubectl delete pod`, and what the kubelet does to a deleted pod's container, which kwok does not:
   * its processes are killed and its files go (kwok's "containers" are processes and a directory on
   * this host). Resolves once the API no longer has the pod.
   */
  async deletePod(pod: string): Promise<void> {
    // kdflow may be deleting it too (a cluster being deleted, a member leaving): gone already is no error.
    await kubectl(this.harness, ['delete', 'pod', pod, '-n', NAMESPACE, '--wait=false', '--ignore-not-found']);
    await this.killContainer(pod);
    await rm(this.podDir(pod), { recursive: true, force: true, maxRetries: 3 });
    await eventually(
      `pod ${pod} gone from the API`,
      async () => {
        try {
          const left = await this.core.readNamespacedPod({ namespace: NAMESPACE, name: pod });
          // A pod of the same name created since (by kdflow) is not the one deleted.
          return left.metadata?.deletionTimestamp ? undefined : true;
        } catch {
          return true;
        }
      },
      120_000,
    );
  }

  /** The cluster's pods right now (name → running), for choosing one to delete. */
  async podNames(cluster: string): Promise<string[]> {
    const pods = await this.core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: clusterSelector(cluster) });
    return pods.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata?.name ?? '');
  }

  /** What a kubelet does to the container of a pod being deleted: its processes end. */
  private async killContainer(pod: string): Promise<void> {
    const dir = this.podDir(pod);
    killAll((await processes((p) => inPod(dir, p))).map((p) => p.pid));
  }

  restartApiServer(signal: NodeJS.Signals, down: () => Promise<void>): Promise<void> {
    return this.harness.restartApiServer(signal, down);
  }

  /** Ends what pods' scripts left running on this host, then the control plane. */
  async stop(): Promise<void> {
    this.watching = false;
    this.watchAbort?.abort();
    killAll((await processes((p) => inPod(this.harness.podRoot, p))).map((p) => p.pid));
    await this.harness.stop();
  }

  private remember(pod: V1Pod): void {
    const name = pod.metadata?.name;
    const uid = pod.metadata?.uid;
    if (!name || !uid || pod.metadata?.labels?.[LABELS.cluster] === undefined) return;
    const seen = this.uids.get(name) ?? new Set<string>();
    seen.add(uid);
    this.uids.set(name, seen);
  }

  /**
   * Every pod of the namespace as it comes. A watch ends on idle timeouts and when the apiserver
   * restarts: it resumes from the last event seen (after a list, when that version is gone).
   */
  private async watchPods(): Promise<void> {
    if (!this.watching) return;
    const resume = (error?: unknown) => {
      if (!this.watching) return;
      if (error) this.resourceVersion = undefined;
      setTimeout(() => void this.watchPods(), 200);
    };
    try {
      if (!this.resourceVersion) {
        const list = await this.core.listNamespacedPod({ namespace: NAMESPACE });
        for (const pod of list.items) this.remember(pod);
        this.resourceVersion = list.metadata?.resourceVersion;
      }
      this.watchAbort = await new Watch(this.harness.kc).watch(
        `/api/v1/namespaces/${NAMESPACE}/pods`,
        { resourceVersion: this.resourceVersion, allowWatchBookmarks: true },
        (type, pod: V1Pod) => {
          // An ERROR event (410 Gone: the version was compacted away) carries a Status: list again.
          if (type === 'ERROR') this.resourceVersion = undefined;
          else this.resourceVersion = pod.metadata?.resourceVersion ?? this.resourceVersion;
          this.remember(pod);
          if ((type === 'DELETED' || pod.metadata?.deletionTimestamp) && pod.metadata?.name)
            void this.killContainer(pod.metadata.name);
        },
        resume,
      );
    } catch (error) {
      resume(error);
    }
  }
}
