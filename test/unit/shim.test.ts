import { describe, expect, it } from 'vitest';
import { crStatusFrom, withCondition, type ClusterStatus } from '../../api/index.ts';
import { clusterInputOf } from '../../shim/forward.ts';
import type { CrObject } from '../../shim/resources.ts';

const appCr: CrObject = {
  metadata: { name: 'spark', namespace: 'ns' },
  spec: { label: { name: 's' }, distroID: 'x', version: '1', defaultImageRepoTag: 'img:1', roles: [{ id: 'controller', cardinality: '1' }, { id: 'worker', cardinality: '0+' }] },
};
const apps = new Map([['ns/spark', appCr]]);
const cluster = (spec: unknown): CrObject => ({ metadata: { name: 'sc', namespace: 'ns', generation: 2 }, spec });

describe('what the shim forwards', () => {
  it('builds the workflow input from a valid KdCluster and the KdApp in its namespace', () => {
    const verdict = clusterInputOf(cluster({ app: 'spark', roles: [{ id: 'controller', members: 1 }, { id: 'worker', members: 3 }] }), apps);
    expect('input' in verdict && verdict.input).toMatchObject({ namespace: 'ns', name: 'sc', appName: 'spark', spec: { app: 'spark' } });
  });

  it('refuses with field-named issues: cardinality, unknown role, unknown app, wrong types', () => {
    const issues = (spec: unknown) => {
      const verdict = clusterInputOf(cluster(spec), apps);
      return 'issues' in verdict ? verdict.issues : [];
    };
    expect(issues({ app: 'spark', roles: [{ id: 'controller', members: 2 }] })[0]?.path).toBe('spec.roles[0].members');
    expect(issues({ app: 'spark', roles: [{ id: 'ghost', members: 1 }] }).map((i) => i.path)).toContain('spec.roles[0].id');
    expect(issues({ app: 'nope', roles: [] })).toEqual([{ path: 'spec.app', message: 'unknown app "nope": no KdApp of that name in namespace ns' }]);
    expect(issues({ app: 'spark', roles: [{ id: 'worker', members: 'three' }] })[0]?.path).toBe('spec.roles[0].members');
    const broken = new Map([['ns/spark', { ...appCr, spec: { ...(appCr.spec as object), defaultImageRepoTag: undefined } }]]);
    expect(clusterInputOf(cluster({ app: 'spark', roles: [] }), broken)).toMatchObject({ issues: [{ path: 'spec.app', message: expect.stringContaining('KdApp spark is invalid: spec.roles[0].imageRepoTag') }] });
    // The same app name in another namespace is not this cluster's app.
    expect(clusterInputOf({ ...cluster({ app: 'spark', roles: [] }), metadata: { name: 'sc', namespace: 'other' } }, apps)).toMatchObject({ issues: [{ path: 'spec.app' }] });
  });
});

describe('the status the shim writes', () => {
  const status: ClusterStatus = {
    name: 'sc',
    namespace: 'ns',
    app: 'spark',
    phase: 'config error',
    generation: 3,
    observedGeneration: 3,
    roles: [
      { id: 'controller', desired: 1, total: 1, ready: 1, configured: 1, members: [{ name: 'sc-controller-0', role: 'controller', ordinal: 0, fqdn: 'f0', state: 'configured', ready: true, events: [] }] },
      { id: 'worker', desired: 2, total: 1, ready: 1, configured: 0, members: [{ name: 'sc-worker-0', role: 'worker', ordinal: 0, fqdn: 'f1', state: 'config error', ready: true, lastError: 'configure exited 3', events: [] }] },
    ],
    page: { offset: 0, limit: 100, total: 2 },
  };
  it('counts ready members against the desired ones and surfaces the last error', () => {
    expect(crStatusFrom(status, 'kdcluster:ns/sc')).toEqual({
      state: 'config error',
      workflowId: 'kdcluster:ns/sc',
      workflowGeneration: 3,
      membersReady: '1/3',
      roles: [
        { id: 'controller', desired: 1, members: [{ name: 'sc-controller-0', state: 'configured', fqdn: 'f0' }] },
        { id: 'worker', desired: 2, members: [{ name: 'sc-worker-0', state: 'config error', fqdn: 'f1', lastError: 'configure exited 3' }] },
      ],
      lastError: 'configure exited 3',
    });
    expect(crStatusFrom({ ...status, lastRejection: { reason: 'bad change', at: 't' } }, 'w').lastError).toBe('bad change');
  });

  it('keeps a condition transition time while its status holds', () => {
    const first = withCondition(undefined, { type: 'Valid', status: 'True', reason: 'Forwarded', message: 'g1' }, 't1');
    const same = withCondition(first, { type: 'Valid', status: 'True', reason: 'Forwarded', message: 'g2' }, 't2');
    expect(same).toEqual([{ type: 'Valid', status: 'True', reason: 'Forwarded', message: 'g2', lastTransitionTime: 't1' }]);
    const flipped = withCondition(same, { type: 'Valid', status: 'False', reason: 'InvalidSpec', message: 'x' }, 't3');
    expect(flipped[0]?.lastTransitionTime).toBe('t3');
  });
});
