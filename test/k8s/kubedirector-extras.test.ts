/**
 * Connections and role extras on the Kubernetes runtime (docs/adr/0044, 0045), on a real control
 * plane (testing/kube/harness.ts) with the worker as its least-privilege ServiceAccount: a ConfigMap and
 * a Secret of the API reach configmeta `connections`, read by `ccli --get` in the pod, and a change of
 * the ConfigMap sends --reconnect; a file injection (over http) is in place before --configure; the
 * Pod carries the role's labels, annotations and Secret volume.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KdClusterSpec, clusterStartOptions, type ClusterInput } from '../../api/index.ts';
import type { clusterWorkflow } from '../../workflows/cluster.ts';
import { memberStates, settled, testApp, waitForStatus, writePackage } from '../support/cluster.ts';
import { eventually } from '../../testing/kube/harness.ts';
import { KUBE_SKIPPED, useKubeTestEnv } from '../../testing/kube/env.ts';

const NS = 'kdextras';
const skip = KUBE_SKIPPED;
const { harness: h, core } = useKubeTestEnv({ namespace: NS });
let files: Server;

beforeAll(async () => {
  if (skip) return;
  // The file a role injects, served over http as a catalog's would be.
  files = createServer((req, res) => {
    if (req.url === '/tools/greet.txt') res.end('hello-from-injection\n');
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
});

afterAll(() => {
  files?.close();
});

const target = (name: string) => ({ namespace: NS, cluster: 'kx', name, role: 'controller', ordinal: 0, fqdn: '' });
const guestLines = async (path: string) =>
  ((await h.runtime.readGuestFile(target('kx-controller-0'), path)) ?? '').split('\n').filter(Boolean);

describe.skipIf(skip)('connections and role extras on Kubernetes', () => {
  it('reads connected ConfigMaps and Secrets from the API, reconnects on a change, injects files and dresses the Pod', async () => {
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: {
        metadata: { name: 'settings', labels: { 'kubedirector.hpe.com/cmType': 'store-settings' } },
        data: { mode: 'fast' },
      },
    });
    await core.createNamespacedSecret({
      namespace: NS,
      body: {
        metadata: { name: 'creds', labels: { 'kubedirector.hpe.com/secretType': 'store-creds' } },
        stringData: { token: 't0ken' },
      },
    });
    // What the script saw, one line per run: the connected ConfigMap, the Secret (base64, as in
    // KubeDirector) and the injected file.
    const script = `R=\${KDFLOW_MEMBER_ROOT:-}
MODE=$(ccli --get connections.configmaps.store-settings.data.mode)
TOKEN=$(ccli --get connections.secrets.store-creds.data.token | base64 -d)
echo "$1 mode=$MODE token=$TOKEN tool=$(cat "$R/opt/tools/greet.txt")" >> "$GUESTCONFIG_DIR/seen.log"`;
    const app = testApp(await writePackage(h.home, script), {
      roles: [{ id: 'controller', cardinality: '1' }],
    });
    const port = (files.address() as AddressInfo).port;
    const spec = KdClusterSpec.parse({
      app: 'testapp',
      roles: [
        {
          id: 'controller',
          members: 1,
          podLabels: { team: 'data' },
          podAnnotations: { 'example.com/owner': 'data-team' },
          secret: { name: 'creds', mountPath: '/etc/creds', readOnly: true },
          fileInjections: [{ srcURL: `http://127.0.0.1:${port}/tools/greet.txt`, destDir: '/opt/tools' }],
        },
      ],
      connections: { configmaps: ['settings'], secrets: ['creds'] },
    });
    const input: ClusterInput = { namespace: NS, name: 'kx', appName: 'testapp', app, spec };
    const handle = await h.env.client.workflow.start<typeof clusterWorkflow>('clusterWorkflow', {
      taskQueue: h.taskQueue,
      args: [input, undefined, { connectionCheckSeconds: 1 }],
      ...clusterStartOptions(input),
    });
    const status = await waitForStatus(handle, settled(1), 300_000);
    expect(memberStates(status)).toEqual({ 'kx-controller-0': 'configured' });
    expect(await guestLines('/opt/guestconfig/seen.log')).toEqual([
      '--configure mode=fast token=t0ken tool=hello-from-injection',
    ]);

    const pod = await core.readNamespacedPod({ namespace: NS, name: 'kx-controller-0' });
    expect(pod.metadata?.labels?.team).toBe('data');
    expect(pod.metadata?.annotations?.['example.com/owner']).toBe('data-team');
    expect(pod.spec?.volumes).toContainEqual({ name: 'secret', secret: { secretName: 'creds', defaultMode: 420 } });
    expect(pod.spec?.containers[0]?.volumeMounts).toContainEqual({
      name: 'secret',
      mountPath: '/etc/creds',
      readOnly: true,
    });

    // The ConfigMap changes in the API: within a check interval, configmeta is rewritten and --reconnect runs.
    const settings = await core.readNamespacedConfigMap({ namespace: NS, name: 'settings' });
    await core.replaceNamespacedConfigMap({
      namespace: NS,
      name: 'settings',
      body: { ...settings, data: { mode: 'safe' } },
    });
    const lines = await eventually(
      'a --reconnect after the ConfigMap changed',
      async () => {
        const seen = await guestLines('/opt/guestconfig/seen.log');
        return seen.length >= 2 ? seen : undefined;
      },
      300_000,
    );
    expect(lines[1]).toBe('--reconnect mode=safe token=t0ken tool=hello-from-injection');
  });
});
