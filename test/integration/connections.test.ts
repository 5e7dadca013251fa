/**
 * spec.connections on the local runtime (docs/adr/0044), with the real Temporal dev server, the CLI
 * and real member processes: a KubeDirector-style package (test/fixtures/kubedirector/connections)
 * reads another cluster, a ConfigMap and a Secret through `ccli --get` when it configures; a resize
 * of the connected cluster and a re-applied ConfigMap each send it `--reconnect` with configmeta
 * rewritten; a cluster without connections is never sent one.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  KdClusterSpec,
  clusterStartOptions,
  resizeUpdate,
  type ClusterInput,
  type KdAppSpec,
} from '../../api/index.ts';
import { parseManifests } from '../../api/manifest.ts';
import { resolvePackageURLs } from '../../lib/app-catalog.ts';
import type { clusterWorkflow } from '../../workflows/cluster.ts';
import { memberStates, settled, waitForStatus } from '../support/cluster.ts';
import { runCli, useCliHarness } from '../support/cli.ts';

const h = useCliHarness();
const FIXTURES = new URL('../fixtures/kubedirector/', import.meta.url).pathname;
const CONNECTIONS = path.join(FIXTURES, 'connections');

async function app(dir: string): Promise<{ name: string; spec: KdAppSpec }> {
  const [manifest] = parseManifests(await readFile(path.join(dir, 'app.json'), 'utf8'), 'app.json');
  if (manifest?.kind !== 'KdApp') throw new Error('expected a KdApp');
  return { name: manifest.value.metadata.name, spec: resolvePackageURLs(manifest.value, dir).spec };
}

async function start(name: string, from: string, spec: unknown, checkSeconds?: number) {
  const { name: appName, spec: appSpec } = await app(from);
  const input: ClusterInput = { namespace: 'default', name, appName, app: appSpec, spec: KdClusterSpec.parse(spec) };
  return h.env.client.workflow.start<typeof clusterWorkflow>('clusterWorkflow', {
    taskQueue: h.taskQueue,
    args: [input, undefined, checkSeconds ? { connectionCheckSeconds: checkSeconds } : {}],
    ...clusterStartOptions(input),
  });
}

const fqdn = (cluster: string, member: string) => `${member}.${cluster}.default.svc.cluster.local`;
const logOf = async (cluster: string, member: string, file: string) =>
  (
    await readFile(
      path.join(h.runtime.memberRoot({ namespace: 'default', cluster, name: member }), 'opt/guestconfig', file),
      'utf8',
    ).catch(() => '')
  )
    .split('\n')
    .filter(Boolean);

/** Reads the member's log until it has `count` lines; the deadline only guards against a hang. */
async function linesOf(cluster: string, member: string, count: number): Promise<string[]> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const lines = await logOf(cluster, member, 'connections.log');
    if (lines.length >= count || Date.now() > deadline) return lines;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('connections on the local runtime', () => {
  it('configures with the connected cluster, ConfigMap and Secret in configmeta, and sends --reconnect when one changes', async () => {
    for (const file of ['settings.yaml', 'credentials.yaml']) {
      const applied = await runCli('apply', '-f', path.join(CONNECTIONS, file));
      expect(applied.err).toBe('');
      expect(applied.code).toBe(0);
    }
    const store = await start('conn-store', path.join(FIXTURES, 'package'), {
      app: 'kdstyle',
      roles: [
        { id: 'HeadNode', members: 1 },
        { id: 'worker', members: 1 },
      ],
    });
    await waitForStatus(store, settled(1));
    // The connecting cluster re-reads its connections every second here (30 s by default).
    const client = await start(
      'conn-client',
      CONNECTIONS,
      {
        app: 'kdconnect',
        roles: [{ id: 'client', members: 1 }],
        connections: { clusters: ['conn-store'], configmaps: ['settings'], secrets: ['credentials'] },
      },
      1,
    );
    const status = await waitForStatus(client, settled(1));
    expect(memberStates(status)).toEqual({ 'conn-client-client-0': 'configured' });
    const head = fqdn('conn-store', 'conn-store-headnode-0');
    const worker = (i: number) => fqdn('conn-store', `conn-store-worker-${i}`);
    expect(await linesOf('conn-client', 'conn-client-client-0', 1)).toEqual([
      `--configure head=${head} workers=${worker(0)} endpoint=http://${head}:8080 mode=fast password=s3cret`,
    ]);

    // The connected cluster grows: configmeta is rewritten and the client hears --reconnect.
    await store.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 2 } }] });
    await waitForStatus(store, settled(2));
    expect((await linesOf('conn-client', 'conn-client-client-0', 2))[1]).toBe(
      `--reconnect head=${head} workers=${worker(0)},${worker(1)} endpoint=http://${head}:8080 mode=fast password=s3cret`,
    );

    // The ConfigMap is applied again with a new value: `kdflow apply` tells the cluster to look now.
    const dir = await mkdtemp(path.join(tmpdir(), 'kdflow-conn-'));
    const changed = path.join(dir, 'settings.yaml');
    await writeFile(changed, (await readFile(path.join(CONNECTIONS, 'settings.yaml'), 'utf8')).replace('fast', 'safe'));
    expect((await runCli('apply', '-f', changed)).code).toBe(0);
    expect((await linesOf('conn-client', 'conn-client-client-0', 3))[2]).toBe(
      `--reconnect head=${head} workers=${worker(0)},${worker(1)} endpoint=http://${head}:8080 mode=safe password=s3cret`,
    );
    const member = (await waitForStatus(client, (s) => s.phase === 'configured')).roles[0]?.members[0];
    expect(member?.events.map((e) => e.event)).toEqual(['configure', 'reconnect']);

    // The connected cluster itself connects to nothing: it never got a --reconnect.
    const storeStatus = await waitForStatus(store, settled(2));
    for (const m of storeStatus.roles.flatMap((r) => r.members))
      expect(m.events.map((e) => e.event)).not.toContain('reconnect');
    expect(await logOf('conn-store', 'conn-store-headnode-0', 'kd.log')).toHaveLength(2);
  });
});
