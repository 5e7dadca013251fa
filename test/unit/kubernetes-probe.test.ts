import type { CoreV1Api, KubeConfig, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { podAlive } from '../../runtimes/kubernetes/readiness.ts';
import { KubernetesRuntime } from '../../runtimes/kubernetes/runtime.ts';
import type { MemberTarget } from '../../runtimes/runtime.ts';

const pod = (name: string, phase: string | undefined, meta: V1Pod['metadata'] = {}): V1Pod => ({
  metadata: { name, ...meta },
  status: phase ? { phase } : {},
});

describe('podAlive: is a member alive now (probeMembers)', () => {
  it('alive only when the pod exists, is not being deleted and runs', () => {
    expect(podAlive(pod('p', 'Running'))).toEqual({ ready: true });
    expect(podAlive(undefined)).toEqual({ ready: false, reason: 'pod is missing' });
    expect(podAlive(pod('p', 'Running', { deletionTimestamp: new Date() }))).toEqual({
      ready: false,
      reason: 'pod is terminating',
    });
    expect(podAlive(pod('p', 'Failed'))).toEqual({ ready: false, reason: 'pod Failed' });
    expect(podAlive(pod('p', 'Succeeded'))).toEqual({ ready: false, reason: 'pod Succeeded' });
    expect(podAlive(pod('p', 'Pending'))).toEqual({ ready: false, reason: 'pod is Pending' });
    expect(podAlive(pod('p', undefined))).toEqual({ ready: false, reason: 'pod is Pending' });
  });

  it('a running pod whose container is not ready yet is still alive: the probe asks about life, not readiness', () => {
    const notReady: V1Pod = {
      metadata: { name: 'p' },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] },
    };
    expect(podAlive(notReady)).toEqual({ ready: true });
  });
});

describe('KubernetesRuntime.probeMembers', () => {
  it('lists each cluster once, never watches, and answers for every member asked about', async () => {
    const listed: string[] = [];
    const pods: Record<string, V1Pod[]> = {
      'ns-a/c1': [pod('c1-r-0', 'Running'), pod('c1-r-1', 'Failed')],
      'ns-b/c2': [pod('c2-r-0', 'Running', { deletionTimestamp: new Date() })],
    };
    const core = {
      listNamespacedPod: async ({ namespace, labelSelector }: { namespace: string; labelSelector: string }) => {
        const cluster = labelSelector.split('=')[1];
        listed.push(`${namespace}/${cluster}`);
        return { items: pods[`${namespace}/${cluster}`] ?? [] };
      },
    } as unknown as CoreV1Api;
    const kc = {} as unknown as KubeConfig;
    const member = (namespace: string, cluster: string, name: string): MemberTarget => ({
      namespace,
      cluster,
      name,
      role: 'r',
      ordinal: 0,
      fqdn: '',
    });
    const probed = await new KubernetesRuntime(kc, {}, core).probeMembers([
      member('ns-a', 'c1', 'c1-r-0'),
      member('ns-a', 'c1', 'c1-r-1'),
      member('ns-a', 'c1', 'c1-r-2'),
      member('ns-b', 'c2', 'c2-r-0'),
    ]);
    expect(listed.sort()).toEqual(['ns-a/c1', 'ns-b/c2']);
    expect({ ...probed }).toEqual({
      'c1-r-0': { ready: true },
      'c1-r-1': { ready: false, reason: 'pod Failed' },
      'c1-r-2': { ready: false, reason: 'pod is missing' },
      'c2-r-0': { ready: false, reason: 'pod is terminating' },
    });
  });
});
