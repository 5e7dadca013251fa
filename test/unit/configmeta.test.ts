/**
 * configmeta.json in KubeDirector's shape, key by key and in its key order, against a fixture written
 * by hand from bluek8s/kubedirector's pkg/catalog/configmeta.go; node ids through the planner.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildConfigmeta, configmetaFile, quantityValue, type Topology } from '../../api/configmeta.ts';
import { KdAppSpec } from '../../api/index.ts';
import { topologyOf } from '../../workflows/steps.ts';
import { Sim, makeApp, makeDesired } from './plan-sim.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/kubedirector/${name}`, import.meta.url), 'utf8');

const app = KdAppSpec.parse({
  label: { name: 'Spark 2.4.5' },
  distroID: 'bluedata/spark245',
  version: '2.7',
  configSchemaVersion: 8,
  defaultImageRepoTag: 'example/spark:2.4.5',
  services: [
    { id: 'spark', label: { name: 'Spark master' }, endpoint: { urlScheme: 'spark', port: 7077 } },
    { id: 'ssh', label: { name: 'SSH' }, endpoint: { port: 22 } },
    { id: 'jupyter', label: { name: 'Jupyter' }, exported_service: 'jupyter-nb' },
  ],
  roles: [
    { id: 'controller', cardinality: '1' },
    { id: 'RESTServer', cardinality: '2+' },
    { id: 'edge', cardinality: '0+' },
  ],
  config: {
    roleServices: [
      { roleID: 'controller', serviceIDs: ['spark', 'ssh', 'jupyter'] },
      { roleID: 'RESTServer', serviceIDs: ['ssh'] },
      { roleID: 'edge', serviceIDs: ['ssh'] },
    ],
    selectedRoles: ['controller', 'RESTServer', 'edge'],
    configMeta: { zeta: '1', alpha: 'x' },
  },
});

const topology: Topology = {
  namespace: 'kd',
  cluster: 'ubuntu18.04',
  clusterId: '0c9f6a52-2d1e-4b8a-9d7e-5b1f3c2a4e6d',
  app,
  settings: [
    { id: 'controller', resources: { limits: { cpu: '1500m', memory: '4Gi' } }, storage: { size: '10Gi' } },
    {
      id: 'RESTServer',
      resources: { limits: { cpu: '2', memory: '512Mi' } },
      secretKeys: [{ name: 'password', value: 's3cret' }],
    },
  ],
  roles: [
    { id: 'controller', ordinals: [[0, 0]], nodeIds: [[1, 1]] },
    {
      id: 'RESTServer',
      ordinals: [
        [0, 1],
        [3, 3],
      ],
      nodeIds: [
        [2, 3],
        [7, 7],
      ],
    },
    { id: 'edge', ordinals: [], nodeIds: [] },
  ],
};

describe('configmeta.json in KubeDirector shape', () => {
  const meta = buildConfigmeta(topology, 'ubuntu18-04-restserver-1');
  const expected = JSON.parse(fixture('configmeta-restserver-1.json')) as Record<string, unknown>;

  it('matches the fixture written from configmeta.go, key order included', () => {
    expect(JSON.parse(JSON.stringify(meta))).toEqual(expected);
    expect(JSON.stringify(meta)).toBe(JSON.stringify(expected));
  });

  it.each(Object.keys(expected))('has top-level key %s as KubeDirector writes it', (key) => {
    expect(JSON.parse(JSON.stringify(meta[key]))).toEqual(expected[key]);
  });

  it('resolves the references scripts follow: distros.<distro>.1 is the nodegroup, services point at role entries', () => {
    const json = JSON.parse(JSON.stringify(meta)) as {
      distros: Record<string, Record<string, { bdvlibrefkey: string[] }>>;
      services: Record<string, Record<string, Record<string, { bdvlibrefkey: string[] }>>>;
      cluster: { config_metadata: Record<string, { bdvlibrefkey: string[] }> };
    };
    const at = (keys: string[]): unknown =>
      keys.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], json);
    const nodegroup = at(json.distros['bluedata/spark245']!['1']!.bdvlibrefkey) as { roles: Record<string, unknown> };
    expect(Object.keys(nodegroup.roles)).toEqual(['RESTServer', 'controller']);
    expect(at(json.services.ssh!['1']!.RESTServer!.bdvlibrefkey)).toMatchObject({ id: 'ssh', name: 'SSH' });
    expect(at(json.cluster.config_metadata['1']!.bdvlibrefkey)).toEqual({ alpha: 'x', zeta: '1' });
  });

  it('writes config_metadata null when the app has no configMeta, as Go writes a nil map', () => {
    const bare = { ...topology, app: { ...app, config: { ...app.config, configMeta: undefined } } };
    expect(
      (buildConfigmeta(bare, 'ubuntu18-04-controller-0').nodegroups as Record<string, unknown>)['1'],
    ).toMatchObject({ config_metadata: null });
  });

  it('is a file every user in the member can read (0644), as KubeDirector writes it', () => {
    expect(configmetaFile(topology, 'ubuntu18-04-controller-0').mode).toBe(0o644);
  });

  it('reads quantities as Kubernetes does', () => {
    expect(quantityValue('500m')).toBe(0.5);
    expect(quantityValue('4Gi')).toBe(4 * 2 ** 30);
    expect(quantityValue('1e3')).toBe(1000);
    expect(quantityValue('2k')).toBe(2000);
    expect(quantityValue(undefined)).toBe(0);
  });
});

describe('node ids', () => {
  const roles = makeApp([
    { id: 'controller', cardinality: '1' },
    { id: 'worker', cardinality: '1+' },
  ]);
  const idsOf = (sim: Sim) => Object.fromEntries(sim.members.map((m) => [m.name, m.nodeId]));

  it('start at 1, are unique across roles and stay with a member through grow and shrink; new members never take a live id', () => {
    const sim = new Sim(makeDesired(roles, { controller: 1, worker: 2 }, 1));
    sim.converge();
    expect(idsOf(sim)).toEqual({ 'kc-controller-0': 1, 'kc-worker-0': 2, 'kc-worker-1': 3 });
    sim.desired = makeDesired(roles, { controller: 1, worker: 4 }, 2);
    sim.converge();
    expect(idsOf(sim)).toEqual({
      'kc-controller-0': 1,
      'kc-worker-0': 2,
      'kc-worker-1': 3,
      'kc-worker-2': 4,
      'kc-worker-3': 5,
    });
    sim.desired = makeDesired(roles, { controller: 1, worker: 1 }, 3);
    sim.converge();
    expect(idsOf(sim)).toEqual({ 'kc-controller-0': 1, 'kc-worker-0': 2 });
    sim.desired = makeDesired(roles, { controller: 1, worker: 2 }, 4);
    sim.converge();
    expect(idsOf(sim)['kc-worker-1']).toBe(3);
  });

  it('are what the launch step writes to configmeta', () => {
    const sim = new Sim(makeDesired(roles, { controller: 1, worker: 3 }, 1));
    sim.converge();
    const t = topologyOf(sim.desired, 'id', sim.members);
    const meta = buildConfigmeta(t, 'kc-worker-2') as { node: { id: string }; nodegroups: Record<string, unknown> };
    expect(meta.node.id).toBe('4');
    expect(JSON.parse(JSON.stringify(meta.nodegroups['1']))).toMatchObject({
      roles: { controller: { node_ids: ['1'] }, worker: { node_ids: ['2', '3', '4'] } },
    });
  });
});
