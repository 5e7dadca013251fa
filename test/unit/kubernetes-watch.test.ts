/** The Kubernetes heal watch's verdict on a pod that is still there (runtimes/kubernetes/watch.ts, docs/adr/0049). */
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { podEnded } from '../../runtimes/kubernetes/watch.ts';

const pod = (status: V1Pod['status'], deleting = false): V1Pod => ({
  metadata: { name: 'c-w-0', ...(deleting ? { deletionTimestamp: new Date() } : {}) },
  status,
});

describe('podEnded', () => {
  it('an evicted or failed pod has ended, with the reason the kubelet gave', () => {
    expect(
      podEnded(pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' })),
    ).toBe('pod Failed: Evicted (The node was low on resource: memory.)');
    expect(podEnded(pod({ phase: 'Succeeded' }))).toBe('pod Succeeded');
  });

  it('a running, pending or terminating pod has not ended: a deletion is reported when the pod is gone', () => {
    expect(podEnded(pod({ phase: 'Running' }))).toBeUndefined();
    expect(podEnded(pod({ phase: 'Pending' }))).toBeUndefined();
    expect(podEnded(pod({ phase: 'Running' }, true))).toBeUndefined();
    expect(podEnded(pod(undefined))).toBeUndefined();
  });
});
