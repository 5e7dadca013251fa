/**
 * A KubeDirector-style config package (test/fixtures/kubedirector/package: no shebang, no exec bit,
 * configmeta read only through ccli, bdvcli and configmacro) on the local runtime, from a
 * KubeDirectorApp manifest as `kdflow app apply` reads it: configure, grow, shrink; configure runs
 * once; an exit 0 whose stderr says a command was not found is configured with a warning.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  KdClusterSpec,
  clusterStartOptions,
  clusterWorkflowId,
  resizeUpdate,
  type KdAppSpec,
} from '../../api/index.ts';
import { parseManifests } from '../../api/manifest.ts';
import { resolvePackageURLs } from '../../lib/app-catalog.ts';
import { scriptHistory } from '../../lib/script-history.ts';
import { currentDetails } from '../../workflows/status.ts';
import type { clusterWorkflow } from '../../workflows/cluster.ts';
import { memberStates, settled, waitForStatus } from '../support/cluster.ts';
import { useHarness } from '../../testing/harness.ts';

const h = useHarness();
const PACKAGE = new URL('../fixtures/kubedirector/package/', import.meta.url).pathname;

async function kubeDirectorApp(): Promise<KdAppSpec> {
  const [manifest] = parseManifests(await readFile(path.join(PACKAGE, 'app.json'), 'utf8'), 'app.json');
  if (manifest?.kind !== 'KdApp') throw new Error('expected a KdApp');
  return resolvePackageURLs(manifest.value, PACKAGE).spec;
}

async function start(name: string, app: KdAppSpec, roles: Record<string, unknown>[]) {
  const input = {
    namespace: 'default',
    name,
    appName: 'kdstyle',
    app,
    spec: KdClusterSpec.parse({ app: 'kdstyle', roles }),
  };
  return h.env.client.workflow.start<typeof clusterWorkflow>('clusterWorkflow', {
    taskQueue: h.taskQueue,
    args: [input],
    ...clusterStartOptions(input),
  });
}

const fqdn = (member: string) => `${member}.kd-demo.default.svc.cluster.local`;
const guestFile = (cluster: string, member: string, file: string) =>
  path.join(h.runtime.memberRoot({ namespace: 'default', cluster, name: member }), file);
const kdLog = async (cluster: string, member: string) =>
  (await readFile(guestFile(cluster, member, 'opt/guestconfig/kd.log'), 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean);

describe('a KubeDirector-style package on the local runtime', () => {
  it('configures, grows and shrinks a dotted cluster with a mixed-case role, reading configmeta through ccli and configmacro', async () => {
    const app = await kubeDirectorApp();
    expect(app.configureAttempts).toBe(1);
    const handle = await start('kd.demo', app, [
      { id: 'HeadNode', members: 1 },
      { id: 'worker', members: 2 },
    ]);
    let status = await waitForStatus(handle, settled(1));
    expect(memberStates(status)).toEqual({
      'kd-demo-headnode-0': 'configured',
      'kd-demo-worker-0': 'configured',
      'kd-demo-worker-1': 'configured',
    });
    const all3 = [fqdn('kd-demo-headnode-0'), fqdn('kd-demo-worker-0'), fqdn('kd-demo-worker-1')].join(',');
    expect(await kdLog('kd.demo', 'kd-demo-headnode-0')).toEqual([
      `configure role=HeadNode id=1 index=0 heap=512m mine=${fqdn('kd-demo-headnode-0')} all=${all3}`,
    ]);
    expect(await kdLog('kd.demo', 'kd-demo-worker-1')).toEqual([
      `configure role=worker id=3 index=2 heap=512m mine=${fqdn('kd-demo-worker-0')},${fqdn('kd-demo-worker-1')} all=${all3}`,
    ]);
    // configmeta is readable by whoever the script runs as; the member itself stays private.
    expect((await stat(guestFile('kd.demo', 'kd-demo-worker-1', 'etc/guestconfig/configmeta.json'))).mode & 0o777).toBe(
      0o644,
    );
    expect((await stat(guestFile('kd.demo', 'kd-demo-worker-1', 'etc/guestconfig'))).mode & 0o777).toBe(0o700);
    const meta = JSON.parse(
      await readFile(guestFile('kd.demo', 'kd-demo-worker-1', 'etc/guestconfig/configmeta.json'), 'utf8'),
    );
    expect(meta.cluster.id).toMatch(/^[0-9a-f-]{36}$/);

    // Grow: the new worker takes node id 4; the others hear --addnodes about it.
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 3 } }] });
    status = await waitForStatus(handle, settled(2));
    expect(status.phase).toBe('configured');
    const all4 = `${all3},${fqdn('kd-demo-worker-2')}`;
    expect(await kdLog('kd.demo', 'kd-demo-worker-2')).toEqual([
      `configure role=worker id=4 index=3 heap=512m mine=${fqdn('kd-demo-worker-0')},${fqdn('kd-demo-worker-1')},${fqdn('kd-demo-worker-2')} all=${all4}`,
    ]);
    expect((await kdLog('kd.demo', 'kd-demo-headnode-0'))[1]).toBe(
      `--addnodes role=worker fqdns=${fqdn('kd-demo-worker-2')} self=1 all=${all4}`,
    );

    // Shrink to one worker: the survivors hear --delnodes about the leavers before configmeta drops them.
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 1 } }] });
    status = await waitForStatus(handle, settled(3));
    expect(Object.keys(memberStates(status))).toEqual(['kd-demo-headnode-0', 'kd-demo-worker-0']);
    expect((await kdLog('kd.demo', 'kd-demo-worker-0')).at(-1)).toBe(
      `--delnodes role=worker fqdns=${fqdn('kd-demo-worker-1')},${fqdn('kd-demo-worker-2')} self=2 all=${all4}`,
    );
  });

  it('runs configure once for a KubeDirector app, and marks a suspicious success with a warning', async () => {
    const app = await kubeDirectorApp();
    const handle = await start('kd-once', app, [
      { id: 'HeadNode', members: 1, env: [{ name: 'MISSING_TOOL', value: '1' }] },
      { id: 'worker', members: 1, env: [{ name: 'FAIL_FIRST', value: '1' }] },
    ]);
    const status = await waitForStatus(handle, settled(1));
    expect(memberStates(status)).toEqual({ 'kd-once-headnode-0': 'configured', 'kd-once-worker-0': 'config error' });
    const members = status.roles.flatMap((r) => r.members);
    const worker = members.find((m) => m.name === 'kd-once-worker-0');
    // Once: the first failure is final (a retry would have passed, as the script fails only the first time).
    expect(worker?.events.find((e) => e.event === 'configure')).toMatchObject({ exitCode: 1, attempts: 1 });
    const head = members.find((m) => m.name === 'kd-once-headnode-0');
    expect(head?.warning).toMatch(/^exit 0, but stderr says: .*kdflow-missing-tool: command not found$/);
    expect(currentDetails(status)).toMatch(/\| kd-once-headnode-0 \| HeadNode \| configured — warning: exit 0/);
    const history = await scriptHistory(h.env.client.workflow, clusterWorkflowId('default', 'kd-once'));
    expect(history.find((e) => e.member === 'kd-once-headnode-0')?.warning).toMatch(/command not found/);
  });
});
