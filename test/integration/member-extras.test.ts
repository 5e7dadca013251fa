/**
 * A role's fileInjections, secret and blockStorage on the local runtime (docs/adr/0045), with the real
 * Temporal dev server, the CLI and real member processes: the injected file (with its fileMode) and the
 * Secret that `kdflow apply` stored are in the member before --configure reads them; a cluster that
 * asks for block devices is refused by `kdflow apply`, naming the field.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KdClusterSpec, clusterStartOptions, type ClusterInput } from '../../api/index.ts';
import { parseManifests } from '../../api/manifest.ts';
import { resolvePackageURLs } from '../../lib/app-catalog.ts';
import type { clusterWorkflow } from '../../workflows/cluster.ts';
import { memberStates, settled, waitForStatus } from '../support/cluster.ts';
import { runCli, useCliHarness } from '../support/cli.ts';

const h = useCliHarness();
const EXTRAS = new URL('../fixtures/kubedirector/extras/', import.meta.url).pathname;

describe('role extras on the local runtime', () => {
  it('injects a file and writes the secret before --configure', async () => {
    expect((await runCli('apply', '-f', path.join(EXTRAS, 'app-secret.yaml'))).code).toBe(0);
    const [manifest] = parseManifests(await readFile(path.join(EXTRAS, 'app.json'), 'utf8'), 'app.json');
    if (manifest?.kind !== 'KdApp') throw new Error('expected a KdApp');
    const app = resolvePackageURLs(manifest.value, EXTRAS).spec;
    const spec = KdClusterSpec.parse({
      app: 'kdextras',
      roles: [
        {
          id: 'node',
          members: 1,
          fileInjections: [
            {
              srcURL: pathToFileURL(path.join(EXTRAS, 'greet.sh')).href,
              destDir: '/opt/tools',
              permissions: { fileMode: 0o750 },
            },
          ],
        },
      ],
      defaultSecret: { name: 'app-secret', mountPath: '/etc/app-secret', defaultMode: 0o400 },
    });
    const input: ClusterInput = { namespace: 'default', name: 'extras', appName: 'kdextras', app, spec };
    const handle = await h.env.client.workflow.start<typeof clusterWorkflow>('clusterWorkflow', {
      taskQueue: h.taskQueue,
      args: [input],
      ...clusterStartOptions(input),
    });
    const status = await waitForStatus(handle, settled(1));
    expect(memberStates(status)).toEqual({ 'extras-node-0': 'configured' });
    const root = h.runtime.memberRoot({ namespace: 'default', cluster: 'extras', name: 'extras-node-0' });
    expect((await readFile(path.join(root, 'opt/guestconfig/extras.log'), 'utf8')).trim()).toBe(
      'configure tool=hello-from-injection mode=750 token=t0ken',
    );
  });

  it('refuses blockStorage at apply on the local runtime, naming the field', async () => {
    expect((await runCli('app', 'apply', '-f', path.join(EXTRAS, 'app.json'))).code).toBe(0);
    const refused = await runCli('apply', '-f', path.join(EXTRAS, 'cluster-block.json'));
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/spec\.roles\[0\]\.blockStorage: raw block devices need the Kubernetes runtime/);
  });
});
