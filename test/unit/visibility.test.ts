import { describe, expect, it } from 'vitest';
import {
  KdAppSpec,
  KdClusterSpec,
  clusterStartOptions,
  type ClusterInput,
  type ClusterStatus,
} from '../../api/index.ts';
import { currentDetails } from '../../workflows/status.ts';
import { listed, scriptSummary, teardownSummary } from '../../workflows/summaries.ts';

const app = KdAppSpec.parse({
  label: { name: 'spark' },
  distroID: 'x/spark',
  version: '1',
  defaultImageRepoTag: 'spark:1',
  defaultConfigPackage: { packageURL: 'file:///pkg.tgz' },
  roles: [
    { id: 'controller', cardinality: '1' },
    { id: 'worker', cardinality: '0+' },
    { id: 'jupyter', cardinality: '0+' },
  ],
});
const input: ClusterInput = {
  namespace: 'default',
  name: 'analytics',
  appName: 'spark',
  app,
  spec: KdClusterSpec.parse({
    app: 'spark',
    roles: [
      { id: 'controller', members: 1 },
      { id: 'worker', members: 2 },
      { id: 'jupyter', members: 1 },
    ],
  }),
};

describe('what the Web UI shows', () => {
  it('starts a cluster with its summary and search attributes', () => {
    const options = clusterStartOptions(input);
    expect(options.workflowId).toBe('kdcluster:default/analytics');
    expect(options.staticSummary).toBe('spark/default/analytics — 3 roles');
    expect(Object.fromEntries(options.typedSearchAttributes.map((p) => [p.key.name, p.value]))).toEqual({
      KdCluster: 'analytics',
      KdNamespace: 'default',
      KdApp: 'spark',
      KdPhase: 'creating',
      KdMembers: 0,
    });
  });

  it('summarises activities in one short line', () => {
    const step = { kind: 'runEvent' as const, role: 'worker', targets: [] };
    expect(scriptSummary({ ...step, event: 'configure' }, 'analytics-worker-2')).toBe('configure analytics-worker-2');
    expect(scriptSummary({ ...step, event: 'addnodes', about: [[3, 4]] }, 'analytics-controller-0')).toBe(
      'addnodes on analytics-controller-0 (+worker 3-4)',
    );
    expect(scriptSummary({ ...step, event: 'addnodes', about: [[3, 900]] }, 'analytics-controller-0')).toBe(
      'addnodes on analytics-controller-0 (+worker 3-900)',
    );
    expect(scriptSummary({ ...step, event: 'delnodes', about: [[3, 3]] }, 'analytics-worker-0')).toBe(
      'delnodes on analytics-worker-0 (-worker 3)',
    );
    expect(scriptSummary({ ...step, event: 'addnodes', about: [[1, 1]], retry: true }, 'analytics-worker-0')).toBe(
      'addnodes on analytics-worker-0 (+worker 1) (retry)',
    );
    expect(listed(['a', 'b', 'c', 'd', 'e', 'f'])).toBe('a, b, c, d +2 more');
    expect(teardownSummary('analytics', 1)).toBe('tear down analytics (1 known member)');
  });

  it('renders the members as a Markdown table that no member value can break', () => {
    const status: ClusterStatus = {
      name: 'analytics',
      namespace: 'default',
      app: 'spark',
      phase: 'updating',
      generation: 2,
      observedGeneration: 1,
      operation: 'configure on analytics-worker-2',
      roles: [
        {
          id: 'worker',
          desired: 1,
          total: 1,
          ready: 1,
          configured: 0,
          members: [
            {
              name: 'analytics-worker-0',
              role: 'worker',
              ordinal: 0,
              fqdn: 'f',
              state: 'config error',
              ready: true,
              lastError: 'exit 3 | oops\nline two',
              events: [],
            },
          ],
        },
      ],
      page: { offset: 0, limit: 100, total: 1 },
    };
    const text = currentDetails(status);
    expect(text).toContain('**default/analytics** (app spark): **updating**, generation 1 (working on 2), 1 member(s)');
    // The app version the cluster runs, when the status carries it (docs/adr/0039).
    expect(currentDetails({ ...status, appVersion: '3.5.1' })).toContain(
      '**default/analytics** (app spark 3.5.1): **updating**',
    );
    expect(text).toContain('Running: configure on analytics-worker-2');
    expect(text.split('\n').at(-1)).toBe(
      '| analytics-worker-0 | worker | config error — exit 3 \\| oops line two |  |',
    );
  });
});
