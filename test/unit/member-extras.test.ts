/**
 * KubeDirector's per-role extras (docs/adr/0045) as kdflow makes them: Pod annotations, a Secret
 * volume, Block-mode PVCs and configmeta's block_device_paths on Kubernetes; minStorage checked when a
 * cluster is made; blockStorage refused on the local runtime; role fields validated by name.
 */
import { describe, expect, it } from 'vitest';
import { buildConfigmeta, type Topology } from '../../api/configmeta.ts';
import { KdAppSpec, KdClusterSpec, checkClusterSpec, formatPath, newClusterIssues } from '../../api/index.ts';
import { memberBlockPvcs, memberPod, ownerRef } from '../../runtimes/kubernetes/objects.ts';
import { runtimeIssues } from '../../lib/runtime-issues.ts';
import type { MemberSpec } from '../../runtimes/runtime.ts';

const anchor = ownerRef({ metadata: { name: 'db', uid: 'uid-1' } });
const member = (settings: MemberSpec['settings']): MemberSpec => ({
  namespace: 'ns',
  cluster: 'db',
  name: 'db-data-0',
  role: 'data',
  ordinal: 0,
  fqdn: 'db-data-0.db.ns.svc.cluster.local',
  image: 'img:1',
  persistDirs: [],
  settings,
});
const block = { storageClassName: 'raw', pathPrefix: '/dev/kdblock', numDevices: 2, size: '20Gi' };

describe('per-role extras on Kubernetes', () => {
  it('puts podAnnotations on the pod, mounts the secret, and attaches block devices', () => {
    const spec = member({
      id: 'data',
      podAnnotations: { 'prometheus.io/scrape': 'true' },
      secret: { name: 'creds', mountPath: '/etc/creds', defaultMode: 0o400, readOnly: true },
      blockStorage: block,
    });
    const pod = memberPod(spec, anchor);
    expect(pod.metadata?.annotations).toEqual({ 'prometheus.io/scrape': 'true' });
    expect(pod.spec?.volumes).toEqual([
      { name: 'secret', secret: { secretName: 'creds', defaultMode: 0o400 } },
      { name: 'block-0', persistentVolumeClaim: { claimName: 'db-data-0-block-0' } },
      { name: 'block-1', persistentVolumeClaim: { claimName: 'db-data-0-block-1' } },
    ]);
    expect(pod.spec?.containers[0]?.volumeMounts).toEqual([
      { name: 'secret', mountPath: '/etc/creds', readOnly: true },
    ]);
    expect(pod.spec?.containers[0]?.volumeDevices).toEqual([
      { name: 'block-0', devicePath: '/dev/kdblock0' },
      { name: 'block-1', devicePath: '/dev/kdblock1' },
    ]);
    const pvcs = memberBlockPvcs(spec, anchor);
    expect(pvcs.map((p) => [p.metadata?.name, p.spec])).toEqual([
      [
        'db-data-0-block-0',
        {
          accessModes: ['ReadWriteOnce'],
          volumeMode: 'Block',
          resources: { requests: { storage: '20Gi' } },
          storageClassName: 'raw',
        },
      ],
      [
        'db-data-0-block-1',
        {
          accessModes: ['ReadWriteOnce'],
          volumeMode: 'Block',
          resources: { requests: { storage: '20Gi' } },
          storageClassName: 'raw',
        },
      ],
    ]);
    expect(pvcs[0]?.metadata?.labels?.['kdflow.dev/member']).toBe('db-data-0');
    // Without them, nothing of the kind.
    const plain = memberPod(member({ id: 'data' }), anchor);
    expect(plain.metadata?.annotations).toBeUndefined();
    expect(plain.spec?.containers[0]?.volumeDevices).toBeUndefined();
    expect(memberBlockPvcs(member({ id: 'data' }), anchor)).toEqual([]);
  });

  it('lists the block devices in configmeta node.block_device_paths, and leaves the key out without them', () => {
    const app = KdAppSpec.parse({
      label: { name: 'db' },
      distroID: 'db',
      version: '1',
      defaultImageRepoTag: 'x',
      roles: [{ id: 'data', cardinality: '1+' }],
    });
    const topology: Topology = {
      namespace: 'ns',
      cluster: 'db',
      clusterId: 'id',
      app,
      settings: [{ id: 'data', blockStorage: block }],
      roles: [{ id: 'data', ordinals: [[0, 0]] }],
    };
    const node = (t: Topology) => buildConfigmeta(t, 'db-data-0').node as Record<string, unknown>;
    expect(node(topology).block_device_paths).toEqual(['/dev/kdblock0', '/dev/kdblock1']);
    expect('block_device_paths' in node({ ...topology, settings: [] })).toBe(false);
  });
});

describe('checks', () => {
  const app = KdAppSpec.parse({
    label: { name: 'db' },
    distroID: 'db',
    version: '1',
    defaultImageRepoTag: 'x',
    roles: [
      { id: 'data', cardinality: '1+', minStorage: { size: '10Gi' } },
      { id: 'cache', cardinality: '0+', minStorage: { size: '1Gi', ephemeralModeSupported: true } },
    ],
  });
  const cluster = (roles: unknown[]) => KdClusterSpec.parse({ app: 'db', roles });

  it("checks minStorage when a cluster is made, as KubeDirector's validator does", () => {
    expect(newClusterIssues('db', cluster([{ id: 'data', storage: { size: '10Gi' } }, { id: 'cache' }]), app)).toEqual(
      [],
    );
    expect(newClusterIssues('db', cluster([{ id: 'data', storage: { size: '8Gi' } }]), app)).toEqual([
      { path: 'spec.roles[0].storage.size', message: `8Gi is less than the app's minStorage 10Gi for role "data"` },
    ]);
    expect(newClusterIssues('db', cluster([{ id: 'data' }]), app)).toEqual([
      {
        path: 'spec.roles[0].storage',
        message: `role "data" needs storage of at least 10Gi (the app's minStorage; it does not support ephemeral mode)`,
      },
    ]);
  });

  it('refuses blockStorage on the local runtime by name, and not on Kubernetes', () => {
    const spec = cluster([{ id: 'data', storage: { size: '10Gi' }, blockStorage: block }]);
    expect(runtimeIssues(spec, 'local')).toEqual([
      {
        path: 'spec.roles[0].blockStorage',
        message: expect.stringMatching(/^raw block devices need the Kubernetes runtime .*KDFLOW_RUNTIME=kubernetes$/),
      },
    ]);
    expect(runtimeIssues(spec, 'kubernetes')).toEqual([]);
  });

  it('names a bad fileInjection, secret or blockStorage field, in the schema and in the workflow check alike', () => {
    const bad = {
      app: 'db',
      roles: [
        {
          id: 'data',
          fileInjections: [{ srcURL: 'ftp://x/y', destDir: 'rel', permissions: { fileMode: 4096, fileOwner: 'a b' } }],
          secret: { name: 'Bad_Name', mountPath: '/etc/../x' },
          blockStorage: { pathPrefix: '/dev/x', numDevices: 0 },
        },
      ],
    };
    const zodPaths = (KdClusterSpec.safeParse(bad).error?.issues ?? []).map((i) => formatPath(i.path)).sort();
    expect(zodPaths).toEqual(
      [
        'roles[0].fileInjections[0].srcURL',
        'roles[0].fileInjections[0].destDir',
        'roles[0].fileInjections[0].permissions.fileMode',
        'roles[0].fileInjections[0].permissions.fileOwner',
        'roles[0].secret.name',
        'roles[0].secret.mountPath',
        'roles[0].blockStorage.numDevices',
      ].sort(),
    );
    const light = checkClusterSpec(bad);
    expect('value' in light ? [] : light.issues.map((i) => i.path).sort()).toEqual(zodPaths);
  });
});
