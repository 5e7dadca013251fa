/**
 * Pod readiness from a watch: one list, then events, never a sleep loop against the API. A member
 * that is Unschedulable, cannot pull its image or crash-loops for longer than the grace period is
 * reported as failed with that reason, so the user sees it in status instead of a silent wait.
 */
import { Watch, type CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { MemberTarget, Readiness, ReadyWait } from '../runtime.ts';
import { CONTAINER, clusterSelector } from './objects.ts';

const STUCK_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
  'CreateContainerError',
]);

export interface PodVerdict extends Readiness {
  /** Not ready, and waiting longer will not help unless something else changes. */
  problem?: boolean;
}

/** Pure: what one pod (or its absence) says about its member. */
export function podVerdict(pod: V1Pod | undefined): PodVerdict {
  if (!pod) return { ready: false, reason: 'pod is missing', problem: true };
  if (pod.metadata?.deletionTimestamp) return { ready: false, reason: 'pod is terminating' };
  const phase = pod.status?.phase;
  if (phase === 'Failed' || phase === 'Succeeded')
    return {
      ready: false,
      reason: `pod ${phase}${pod.status?.reason ? `: ${pod.status.reason}` : ''}${pod.status?.message ? ` (${pod.status.message})` : ''}`,
      problem: true,
    };
  const conditions = pod.status?.conditions ?? [];
  const scheduled = conditions.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False')
    return {
      ready: false,
      reason: `${scheduled.reason ?? 'Unschedulable'}: ${scheduled.message ?? 'the pod cannot be scheduled'}`,
      problem: scheduled.reason === 'Unschedulable',
    };
  for (const cs of pod.status?.containerStatuses ?? []) {
    const waiting = cs.state?.waiting;
    if (waiting?.reason && STUCK_REASONS.has(waiting.reason))
      return { ready: false, reason: `${waiting.reason}: ${waiting.message ?? cs.image}`, problem: true };
  }
  if (phase === 'Running' && conditions.some((c) => c.type === 'Ready' && c.status === 'True')) return { ready: true };
  return { ready: false, reason: `pod is ${phase ?? 'Pending'}` };
}

/**
 * Pure: whether a member's pod is alive right now (probeMembers): it exists, is not being deleted
 * and runs. Pending is not alive yet; Failed and Succeeded never will be again.
 */
export function podAlive(pod: V1Pod | undefined): Readiness {
  const phase = pod?.status?.phase;
  if (pod && !pod.metadata?.deletionTimestamp && phase === 'Running') return { ready: true };
  const verdict = podVerdict(pod);
  return { ready: false, reason: verdict.reason ?? `pod is ${phase ?? 'Pending'}` };
}

export interface ReadinessOptions {
  /** How long a problem must last before it is reported as the member's failure. */
  problemGraceMs: number;
}

/** Waits for the members of one cluster (one namespace) until all are ready or settled as failed. */
export async function watchReadiness(
  kc: KubeConfig,
  core: CoreV1Api,
  members: MemberTarget[],
  wait: ReadyWait,
  options: ReadinessOptions,
): Promise<Record<string, Readiness>> {
  const first = members[0];
  if (!first) return {};
  const { namespace, cluster } = first;
  const wanted = new Set(members.map((m) => m.name));
  const pods = new Map<string, V1Pod>();
  const problemSince = new Map<string, number>();

  const verdicts = (): { result: Record<string, Readiness>; settled: boolean } => {
    const result: Record<string, Readiness> = {};
    let settled = true;
    const now = Date.now();
    for (const name of wanted) {
      const verdict = podVerdict(pods.get(name));
      result[name] = { ready: verdict.ready, ...(verdict.reason ? { reason: verdict.reason } : {}) };
      if (verdict.ready) continue;
      if (!verdict.problem) {
        problemSince.delete(name);
        settled = false;
        continue;
      }
      const since = problemSince.get(name) ?? now;
      problemSince.set(name, since);
      if (now - since < options.problemGraceMs) settled = false;
    }
    return { result, settled };
  };

  const list = async (): Promise<string | undefined> => {
    const listed = await core.listNamespacedPod({ namespace, labelSelector: clusterSelector(cluster) });
    pods.clear();
    for (const pod of listed.items)
      if (pod.metadata?.name && wanted.has(pod.metadata.name)) pods.set(pod.metadata.name, pod);
    return listed.metadata?.resourceVersion;
  };

  let resourceVersion = await list();
  return new Promise((resolve) => {
    let watchAbort: AbortController | undefined;
    let finished = false;
    const finish = (result: Record<string, Readiness>) => {
      if (finished) return;
      finished = true;
      clearInterval(tick);
      watchAbort?.abort();
      wait.signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const check = () => {
      const { result, settled } = verdicts();
      const waiting = Object.entries(result).filter(([, r]) => !r.ready);
      wait.heartbeat({ waiting: waiting.map(([name, r]) => `${name}: ${r.reason ?? 'not ready'}`) });
      if (settled || Date.now() >= wait.deadline || wait.signal.aborted) finish(result);
    };
    const onAbort = () => check();
    wait.signal.addEventListener('abort', onAbort, { once: true });
    // Ages problems into failures and heartbeats; the pod states themselves come from the watch.
    const tick = setInterval(check, 1000);

    const startWatch = async (): Promise<void> => {
      if (finished) return;
      try {
        watchAbort = await new Watch(kc).watch(
          `/api/v1/namespaces/${namespace}/pods`,
          { labelSelector: clusterSelector(cluster), resourceVersion, allowWatchBookmarks: true },
          (type, pod: V1Pod) => {
            const name = pod.metadata?.name;
            if (pod.metadata?.resourceVersion) resourceVersion = pod.metadata.resourceVersion;
            if (!name || !wanted.has(name) || type === 'BOOKMARK') return;
            if (type === 'DELETED') pods.delete(name);
            else pods.set(name, pod);
            check();
          },
          () => void restart(),
        );
      } catch {
        void restart();
      }
    };
    // A watch ends on timeouts and 410 Gone: list again (fresh resourceVersion) and resume.
    const restart = async (): Promise<void> => {
      if (finished) return;
      await new Promise((r) => setTimeout(r, 500));
      try {
        resourceVersion = await list();
        check();
      } catch {
        // The next restart tries again; the tick keeps heartbeating meanwhile.
      }
      await startWatch();
    };
    check();
    void startWatch();
  });
}

/**
 * Pure: whether the member's container was killed for want of memory at or after `since` (epoch ms):
 * its current or last termination says OOMKilled. The kubelet says so when the container ends (with
 * cgroup v2 the kernel then kills the whole container, runner included); a script killed alone inside
 * a container that lives on is not visible here.
 */
export function oomKilledSince(pod: V1Pod | undefined, since: number): boolean {
  const status = pod?.status?.containerStatuses?.find((c) => c.name === CONTAINER);
  return [status?.state?.terminated, status?.lastState?.terminated].some(
    (t) =>
      t?.reason === 'OOMKilled' && (t.finishedAt === undefined || new Date(t.finishedAt).getTime() >= since - 1000),
  );
}
