/**
 * The Kubernetes runtime's heal watch (docs/adr/0049): one watch on every kdflow member pod of every
 * namespace (label `kdflow.dev/member`), one per worker. A pod that is deleted (DELETED: gone, not
 * merely terminating, so the member can be created again at once) or that ended (phase Failed, as an
 * eviction leaves it, or Succeeded) is reported once, by its uid. A watch that ends is resumed after
 * a fresh list; a pod that vanished between the two (seen before, absent from the list) is reported
 * as deleted. Deaths while no worker watched are not seen: `kdflow retry` finds those.
 */
import { Watch, type CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { setTimeout as delay } from 'node:timers/promises';
import type { MemberDown } from '../runtime.ts';
import { LABELS } from './objects.ts';

interface Known {
  namespace: string;
  cluster: string;
  member: string;
}

/** Pure: why this pod's member is dead for good, or undefined while it lives (or may yet). */
export function podEnded(pod: V1Pod): string | undefined {
  const phase = pod.status?.phase;
  if (phase !== 'Failed' && phase !== 'Succeeded') return undefined;
  const reason = pod.status?.reason ? `: ${pod.status.reason}` : '';
  const message = pod.status?.message ? ` (${pod.status.message})` : '';
  return `pod ${phase}${reason}${message}`;
}

function identity(pod: V1Pod): (Known & { uid: string }) | undefined {
  const labels = pod.metadata?.labels ?? {};
  const member = labels[LABELS.member];
  const cluster = labels[LABELS.cluster];
  const namespace = pod.metadata?.namespace;
  const uid = pod.metadata?.uid;
  return member && cluster && namespace && uid ? { member, cluster, namespace, uid } : undefined;
}

/** Until `signal` aborts: list, then watch, member pods in every namespace; resumes after a watch ends. */
export async function watchMemberPods(
  kc: KubeConfig,
  core: CoreV1Api,
  onDown: (down: MemberDown) => void,
  signal: AbortSignal,
): Promise<void> {
  const known = new Map<string, Known>();
  // Uids already reported; a pod of the same name made again has a new uid. Bounded: cleared with the pod.
  const reported = new Set<string>();
  const report = (uid: string, who: Known, reason: string) => {
    if (reported.has(uid)) return;
    reported.add(uid);
    onDown({ ...who, reason });
  };
  const seen = (pod: V1Pod) => {
    const who = identity(pod);
    if (!who) return;
    const { uid, ...rest } = who;
    known.set(uid, rest);
    const ended = podEnded(pod);
    if (ended) report(uid, rest, ended);
  };
  const gone = (uid: string, reason: string) => {
    const who = known.get(uid);
    if (who) report(uid, who, reason);
    known.delete(uid);
    reported.delete(uid);
  };

  let first = true;
  while (!signal.aborted) {
    const listed = await core.listPodForAllNamespaces({ labelSelector: LABELS.member });
    const present = new Set(listed.items.map((p) => p.metadata?.uid).filter((uid): uid is string => Boolean(uid)));
    // Gone while the watch was down: the list is the only witness. Not on the first list, when nothing is known.
    if (!first) for (const uid of [...known.keys()]) if (!present.has(uid)) gone(uid, 'pod deleted');
    first = false;
    for (const pod of listed.items) seen(pod);
    const ended = new Promise<void>((resolve) => {
      let request: AbortController | undefined;
      const stop = () => {
        request?.abort();
        resolve();
      };
      signal.addEventListener('abort', stop, { once: true });
      new Watch(kc)
        .watch(
          '/api/v1/pods',
          {
            labelSelector: LABELS.member,
            resourceVersion: listed.metadata?.resourceVersion,
            allowWatchBookmarks: true,
          },
          (type: string, pod: V1Pod) => {
            if (type === 'BOOKMARK') return;
            const uid = pod.metadata?.uid;
            if (type === 'DELETED' && uid) gone(uid, 'pod deleted');
            else seen(pod);
          },
          () => {
            signal.removeEventListener('abort', stop);
            resolve();
          },
        )
        .then(
          (controller) => {
            request = controller;
            if (signal.aborted) controller.abort();
          },
          () => {
            signal.removeEventListener('abort', stop);
            resolve();
          },
        );
    });
    await ended;
    await delay(500, undefined, { signal }).catch(() => undefined);
  }
}
