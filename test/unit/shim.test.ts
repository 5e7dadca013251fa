import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KdAppSpec, crStatusFrom, withCondition, type ClusterStatus, type ScriptRun } from '../../api/index.ts';
import { UNFETCHABLE_PACKAGE, clusterInputOf } from '../../shim/forward.ts';
import { leaseNamespaceOf } from '../../shim/lease.ts';
import { unfetchableReason } from '../../shim/package-check.ts';
import type { CrObject } from '../../shim/resources.ts';
import { runEvent, runsToTell } from '../../shim/status-sync.ts';

const appCr: CrObject = {
  metadata: { name: 'spark', namespace: 'ns' },
  spec: {
    label: { name: 's' },
    distroID: 'x',
    version: '1',
    defaultImageRepoTag: 'img:1',
    roles: [
      { id: 'controller', cardinality: '1' },
      { id: 'worker', cardinality: '0+' },
    ],
  },
};
const apps = new Map([['ns/spark', appCr]]);
const cluster = (spec: unknown): CrObject => ({ metadata: { name: 'sc', namespace: 'ns', generation: 2 }, spec });

describe('what the shim forwards', () => {
  it('builds the workflow input from a valid KdCluster and the KdApp in its namespace', () => {
    const verdict = clusterInputOf(
      cluster({
        app: 'spark',
        roles: [
          { id: 'controller', members: 1 },
          { id: 'worker', members: 3 },
        ],
      }),
      apps,
    );
    expect('input' in verdict && verdict.input).toMatchObject({
      namespace: 'ns',
      name: 'sc',
      appName: 'spark',
      spec: { app: 'spark' },
    });
  });

  it("takes the catalog's snapshot of spec.appVersion when the KdApp object holds another version", () => {
    const spec = { app: 'spark', appVersion: '0.9', roles: [{ id: 'controller', members: 1 }] };
    const older = KdAppSpec.parse({ ...(appCr.spec as object), version: '0.9' });
    const verdict = clusterInputOf(cluster(spec), apps, {
      name: 'spark',
      version: '0.9',
      app: older,
      current: false,
      appliedAt: '',
    });
    expect('input' in verdict && verdict.input.app.version).toBe('0.9');
    // Without it, the object's version is not the one asked for: refused naming the field.
    expect(clusterInputOf(cluster(spec), apps)).toMatchObject({
      issues: [{ path: 'spec.appVersion', message: '"0.9" is not the app snapshot\'s version "1"' }],
    });
  });

  it('refuses with field-named issues: cardinality, unknown role, unknown app, wrong types', () => {
    const issues = (spec: unknown) => {
      const verdict = clusterInputOf(cluster(spec), apps);
      return 'issues' in verdict ? verdict.issues : [];
    };
    expect(issues({ app: 'spark', roles: [{ id: 'controller', members: 2 }] })[0]?.path).toBe('spec.roles[0].members');
    expect(issues({ app: 'spark', roles: [{ id: 'ghost', members: 1 }] }).map((i) => i.path)).toContain(
      'spec.roles[0].id',
    );
    expect(issues({ app: 'nope', roles: [] })).toEqual([
      { path: 'spec.app', message: 'unknown app "nope": no KdApp of that name in namespace ns' },
    ]);
    // Only a missing or broken app is a refusal that heals without a new generation.
    expect(clusterInputOf(cluster({ app: 'nope', roles: [] }), apps)).toMatchObject({ reason: 'UnknownApp' });
    expect(clusterInputOf(cluster({ app: 'spark', roles: [{ id: 'ghost', members: 1 }] }), apps)).toMatchObject({
      reason: 'InvalidSpec',
    });
    expect(issues({ app: 'spark', roles: [{ id: 'worker', members: 'three' }] })[0]?.path).toBe(
      'spec.roles[0].members',
    );
    const broken = new Map([
      ['ns/spark', { ...appCr, spec: { ...(appCr.spec as object), defaultImageRepoTag: undefined } }],
    ]);
    expect(clusterInputOf(cluster({ app: 'spark', roles: [] }), broken)).toMatchObject({
      issues: [
        { path: 'spec.app', message: expect.stringContaining('KdApp spark is invalid: spec.roles[0].imageRepoTag') },
      ],
    });
    // The same app name in another namespace is not this cluster's app.
    expect(
      clusterInputOf({ ...cluster({ app: 'spark', roles: [] }), metadata: { name: 'sc', namespace: 'other' } }, apps),
    ).toMatchObject({ issues: [{ path: 'spec.app' }] });
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
      {
        id: 'controller',
        desired: 1,
        total: 1,
        ready: 1,
        configured: 1,
        members: [
          {
            name: 'sc-controller-0',
            role: 'controller',
            ordinal: 0,
            fqdn: 'f0',
            state: 'configured',
            ready: true,
            events: [],
          },
        ],
      },
      {
        id: 'worker',
        desired: 2,
        total: 1,
        ready: 1,
        configured: 0,
        members: [
          {
            name: 'sc-worker-0',
            role: 'worker',
            ordinal: 0,
            fqdn: 'f1',
            state: 'config error',
            ready: true,
            lastError: 'configure exited 3',
            events: [],
          },
        ],
      },
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
        {
          id: 'worker',
          desired: 2,
          members: [{ name: 'sc-worker-0', state: 'config error', fqdn: 'f1', lastError: 'configure exited 3' }],
        },
      ],
      lastError: 'configure exited 3',
    });
    expect(crStatusFrom({ ...status, lastRejection: { reason: 'bad change', at: 't' } }, 'w').lastError).toBe(
      'bad change',
    );
  });

  it('keeps a condition transition time while its status holds', () => {
    const first = withCondition(undefined, { type: 'Valid', status: 'True', reason: 'Forwarded', message: 'g1' }, 't1');
    const same = withCondition(first, { type: 'Valid', status: 'True', reason: 'Forwarded', message: 'g2' }, 't2');
    expect(same).toEqual([
      { type: 'Valid', status: 'True', reason: 'Forwarded', message: 'g2', lastTransitionTime: 't1' },
    ]);
    const flipped = withCondition(same, { type: 'Valid', status: 'False', reason: 'InvalidSpec', message: 'x' }, 't3');
    expect(flipped[0]?.lastTransitionTime).toBe('t3');
  });
});

describe('the script runs the shim tells as Events', () => {
  // A member's last run of each event kind.
  const run = (
    event: ScriptRun['event'],
    finishedAt: string,
    exitCode: number | null,
    extra: Partial<ScriptRun> = {},
  ): ScriptRun => ({
    runId: `r-${finishedAt}`,
    event,
    exitCode,
    attempts: 1,
    startedAt: finishedAt,
    finishedAt,
    ...extra,
  });
  const member = (name: string, events: ScriptRun[]) => ({
    name,
    role: 'worker',
    ordinal: 0,
    fqdn: `${name}.f`,
    state: 'configured' as const,
    ready: true,
    events,
  });
  const status: ClusterStatus = {
    name: 'sc',
    namespace: 'ns',
    app: 'spark',
    phase: 'configured',
    generation: 2,
    observedGeneration: 2,
    roles: [
      {
        id: 'controller',
        desired: 1,
        total: 1,
        ready: 1,
        configured: 1,
        members: [
          member('sc-controller-0', [
            run('configure', '2026-01-01T00:00:01.000Z', 0),
            run('addnodes', '2026-01-01T00:00:05.000Z', 0, { about: 'sc-worker-1' }),
          ]),
        ],
      },
      {
        id: 'worker',
        desired: 2,
        total: 2,
        ready: 2,
        configured: 2,
        members: [
          member('sc-worker-0', [run('configure', '2026-01-01T00:00:02.000Z', 0)]),
          member('sc-worker-1', [run('configure', '2026-01-01T00:00:04.000Z', 3, { attempts: 2 })]),
        ],
      },
    ],
    page: { offset: 0, limit: 100, total: 3 },
  };

  it('tells the runs that ended after reportedThrough, oldest first, from every member', () => {
    expect(runsToTell(status, undefined).map((r) => `${r.member}/${r.event}`)).toEqual([
      'sc-controller-0/configure',
      'sc-worker-0/configure',
      'sc-worker-1/configure',
      'sc-controller-0/addnodes',
    ]);
    expect(runsToTell(status, '2026-01-01T00:00:02.000Z').map((r) => r.finishedAt)).toEqual([
      '2026-01-01T00:00:04.000Z',
      '2026-01-01T00:00:05.000Z',
    ]);
    expect(runsToTell(status, '2026-01-01T00:00:05.000Z')).toEqual([]);
  });

  it('says event, member, outcome, attempt and whom a notify was about, without argv', () => {
    const [first, failed, notify] = runsToTell(status, '2026-01-01T00:00:01.000Z').map(runEvent);
    expect(first).toEqual(['Normal', 'ScriptSucceeded', 'configure on sc-worker-0: exit 0, attempt 1']);
    expect(failed).toEqual(['Warning', 'ScriptFailed', 'configure on sc-worker-1: exit 3, attempt 2']);
    expect(notify).toEqual([
      'Normal',
      'ScriptSucceeded',
      'addnodes on sc-controller-0: exit 0, attempt 1 (about sc-worker-1)',
    ]);
    expect(
      runEvent({
        member: 'm',
        event: 'configure',
        exitCode: null,
        attempts: 1,
        finishedAt: 't',
        error: 'timed out after 60 s',
      })[2],
    ).toBe('configure on m: timed out after 60 s, attempt 1');
  });
});

describe('a KdApp whose package can never be fetched', () => {
  const withPackage = (packageURL: string): CrObject => ({
    ...appCr,
    spec: { ...(appCr.spec as object), defaultConfigPackage: { packageURL } },
  });

  it('names relative file:// URLs and paths; absolute ones and http(s) pass', () => {
    expect(unfetchableReason('file://./appconfig')).toBe('a relative file:// URL');
    expect(unfetchableReason('file://appconfig/x')).toBe('a relative file:// URL');
    expect(unfetchableReason('appconfig')).toBe('a relative path');
    expect(unfetchableReason('ftp://host/pkg.tgz')).toBe('a scheme kdflow does not fetch');
    for (const ok of ['file:///srv/pkg', '/srv/pkg', 'https://example.com/pkg.tgz', 'http://h/p.tgz'])
      expect(unfetchableReason(ok), ok).toBeUndefined();
  });

  it('refuses its clusters, naming the app and the field, and the refusal heals with the app', () => {
    const spec = { app: 'spark', roles: [{ id: 'controller', members: 1 }] };
    const verdict = clusterInputOf(cluster(spec), new Map([['ns/spark', withPackage('file://./appconfig')]]));
    expect(verdict).toEqual({
      reason: UNFETCHABLE_PACKAGE,
      issues: [
        {
          path: 'KdApp spark: spec.defaultConfigPackage.packageURL',
          message: expect.stringMatching(
            /^got "file:\/\/\.\/appconfig", a relative file:\/\/ URL, which can never be fetched; kubectl does not send/,
          ),
        },
      ],
    });
    expect(clusterInputOf(cluster(spec), new Map([['ns/spark', withPackage('file:///srv/appconfig')]]))).toHaveProperty(
      'input',
    );
  });
});

describe('the Lease namespace', () => {
  const kc = (namespace?: string) => {
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u', ...(namespace ? { namespace } : {}) }],
      currentContext: 'x',
    });
    return config;
  };
  const noFile = '/nonexistent/namespace';

  it('is KDFLOW_SHIM_NAMESPACE, else the pod’s own, else the kubeconfig context’s, else default', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-sa-'));
    const saFile = path.join(dir, 'namespace');
    await writeFile(saFile, 'kdflow-system\n');
    expect(leaseNamespaceOf(kc('team'), { KDFLOW_SHIM_NAMESPACE: 'ops' }, saFile)).toBe('ops');
    expect(leaseNamespaceOf(kc('team'), {}, saFile)).toBe('kdflow-system');
    expect(leaseNamespaceOf(kc('team'), {}, noFile)).toBe('team');
    expect(leaseNamespaceOf(kc(), {}, noFile)).toBe('default');
  });
});
