/**
 * Issue 15's "done when", on the local runtime: one KubeDirector-style package that reads a connected
 * cluster through `ccli --get`, its own members through `configmacro`, and orders its roles with
 * `ccli --tokenwake`/`--tokenwait` (docs/adr/0047) configures, grows and shrinks. Real Temporal dev
 * server, real worker, real member processes.
 */
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  KdClusterSpec,
  clusterStartOptions,
  memberFqdn,
  resizeUpdate,
  type ClusterInput,
  type KdAppSpec,
} from '../../api/index.ts';
import { parseManifests } from '../../api/manifest.ts';
import { resolvePackageURLs } from '../../lib/app-catalog.ts';
import type { clusterWorkflow } from '../../workflows/cluster.ts';
import { memberStates, settled, testApp, waitForStatus } from '../support/cluster.ts';
import { useHarness } from '../../testing/harness.ts';
import { togetherScript } from '../support/together.ts';

const h = useHarness();
const STORE_PACKAGE = new URL('../fixtures/kubedirector/package/', import.meta.url).pathname;

async function start(input: ClusterInput, connectionCheckSeconds?: number) {
  return h.env.client.workflow.start<typeof clusterWorkflow>('clusterWorkflow', {
    taskQueue: h.taskQueue,
    args: [input, undefined, connectionCheckSeconds ? { connectionCheckSeconds } : {}],
    ...clusterStartOptions(input),
  });
}

async function storeApp(): Promise<KdAppSpec> {
  const [manifest] = parseManifests(await readFile(path.join(STORE_PACKAGE, 'app.json'), 'utf8'), 'app.json');
  if (manifest?.kind !== 'KdApp') throw new Error('expected a KdApp');
  return resolvePackageURLs(manifest.value, STORE_PACKAGE).spec;
}

const fqdn = (cluster: string, member: string) => memberFqdn(member, cluster, 'default');
const logOf = async (member: string) =>
  (
    await readFile(
      path.join(
        h.runtime.memberRoot({ namespace: 'default', cluster: 'tg', name: member }),
        'opt/guestconfig/together.log',
      ),
      'utf8',
    ).catch(() => '')
  )
    .split('\n')
    .filter(Boolean);

describe('a KubeDirector-style package with connections, tokens and configmacro', () => {
  it('configures, grows and shrinks on the local runtime', { timeout: 600_000 }, async () => {
    const store = await start({
      namespace: 'default',
      name: 'tg-store',
      appName: 'kdstyle',
      app: await storeApp(),
      spec: KdClusterSpec.parse({
        app: 'kdstyle',
        roles: [
          { id: 'HeadNode', members: 1 },
          { id: 'worker', members: 1 },
        ],
      }),
    });
    await waitForStatus(store, settled(1), 300_000);

    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-together-'));
    await mkdir(path.join(dir, 'appconfig'));
    // KubeDirector style: no shebang (run with bash, else sh).
    await writeFile(path.join(dir, 'appconfig', 'startscript'), togetherScript('tg-store', 'HeadNode', 'head'));
    await chmod(path.join(dir, 'appconfig', 'startscript'), 0o755);
    const app = testApp(`file://${path.join(dir, 'appconfig')}`, {
      roles: [
        { id: 'head', cardinality: '1' },
        { id: 'worker', cardinality: '0+' },
      ],
      retry: { maximumAttempts: 1 },
    });
    const roles = (workers: number) => [
      { id: 'head', members: 1 },
      { id: 'worker', members: workers },
    ];
    const handle = await start({
      namespace: 'default',
      name: 'tg',
      appName: 'testapp',
      app,
      spec: KdClusterSpec.parse({ app: 'testapp', roles: roles(2), connections: { clusters: ['tg-store'] } }),
    });
    let status = await waitForStatus(handle, settled(1), 300_000);
    expect(memberStates(status)).toEqual({
      'tg-head-0': 'configured',
      'tg-worker-0': 'configured',
      'tg-worker-1': 'configured',
    });
    const storeHead = fqdn('tg-store', 'tg-store-headnode-0');
    const members = (n: number) => ['tg-head-0', ...Array.from({ length: n }, (_, i) => `tg-worker-${i}`)];
    const all = (n: number) =>
      members(n)
        .map((m) => fqdn('tg', m))
        .join(',');
    expect(await logOf('tg-head-0')).toEqual([`--configure head store=${storeHead} all=${all(2)}`]);
    for (const w of ['tg-worker-0', 'tg-worker-1'])
      expect(await logOf(w)).toEqual([`--configure worker store=${storeHead} all=${all(2)}`]);

    // Grow: the new worker's wait finds the head's token woken (it stays for the cluster's life).
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 3 } }] });
    status = await waitForStatus(handle, settled(2), 300_000);
    expect(memberStates(status)['tg-worker-2']).toBe('configured');
    expect(await logOf('tg-worker-2')).toEqual([`--configure worker store=${storeHead} all=${all(3)}`]);
    for (const m of members(2)) expect((await logOf(m))[1]).toBe(`--addnodes all=${all(3)}`);

    // Shrink: the survivors hear --delnodes, the leaver goes.
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 1 } }] });
    status = await waitForStatus(handle, settled(3), 300_000);
    expect(Object.keys(memberStates(status))).toEqual(members(1));
    for (const m of members(1)) expect((await logOf(m))[2]).toMatch(/^--delnodes all=/);
    expect(await h.runtime.listMembers('default', 'tg')).toEqual(members(1));
  });
});
