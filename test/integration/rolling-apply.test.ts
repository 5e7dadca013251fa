/**
 * `spec.appVersion` through `kdflow apply -f` (docs/adr/0037): a new cluster is created on the version
 * it names (not the catalog's current one); a new version starts the same rolling upgrade as
 * `kdflow upgrade`, in the order and with the policy of the version it goes to; `plan` shows it first;
 * an unknown version is refused naming the value and the versions there are; a failed upgrade rolls
 * back and the spec names the old version again, so applying the file again tries again. Real
 * Temporal, real worker, real member processes; the CLI's own entry point.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterWorkflowId, deleteSignal, specQuery, type KdAppSpec } from '../../api/index.ts';
import { waitForStatus } from '../support/cluster.ts';
import { runCli, useCliHarness } from '../support/cli.ts';
import { rollingRuns, rolloutEnded, twoVersions } from '../support/rolling.ts';

const h = useCliHarness();

const ended = rolloutEnded;

const manifest = (kind: string, name: string, spec: object) =>
  JSON.stringify({ apiVersion: 'kdflow.dev/v1beta1', kind, metadata: { name }, spec });

/** The cluster file: a controller and two workers of testapp at `appVersion`, with `workers` workers. */
async function clusterFile(name: string, appVersion: string, workers = 2): Promise<string> {
  const file = path.join(h.home, `${name}-${appVersion}-${workers}.yaml`);
  const roles = [
    { id: 'controller', members: 1 },
    { id: 'worker', members: workers },
  ];
  await writeFile(file, manifest('KdCluster', name, { app: 'testapp', appVersion, roles }));
  return file;
}

async function applyApps(...apps: KdAppSpec[]): Promise<void> {
  const file = path.join(h.home, `apps-${apps.map((a) => a.version).join('-')}.yaml`);
  await writeFile(file, apps.map((app) => manifest('KdApp', 'testapp', app)).join('\n---\n'));
  expect(await runCli('app', 'apply', '-f', file)).toMatchObject({ code: 0 });
}

describe('spec.appVersion through kdflow apply', () => {
  it('creates on the named version, plans and rolls the upgrade in the new version’s order, refuses an unknown one', async () => {
    const { app1, app2 } = await twoVersions(h, 'av');
    // Version 2 upgrades its workers first, and is the catalog's current version: the cluster still gets 1.
    await applyApps(app1, { ...app2, upgrade: { roleOrder: ['worker'] } });
    expect((await runCli('apply', '-f', await clusterFile('av', '1'))).out).toBe('cluster/av created');
    const handle = h.env.client.workflow.getHandle(clusterWorkflowId('default', 'av'));
    await waitForStatus(handle, (s) => s.observedGeneration >= 1 && s.phase === 'configured', 180_000);
    expect((await handle.query(specQuery)).app.version).toBe('1');

    const unknown = await runCli('apply', '-f', await clusterFile('av', '9'));
    expect(unknown.code).not.toBe(0);
    expect(unknown.err).toContain('spec.appVersion: app "testapp" in namespace "default" has no version "9"');
    expect(unknown.err).toContain('its versions: 1, 2');

    const both = await runCli('apply', '-f', await clusterFile('av', '2', 3));
    expect(both.code).not.toBe(0);
    expect(both.err).toContain(
      'spec.appVersion: an upgrade (1 → 2) changes nothing else, and roles changed too: apply those changes before or after the upgrade',
    );

    const plan = await runCli('plan', '-f', await clusterFile('av', '2'));
    expect(plan.out).toContain(
      'upgrade 1 → 2 of 3 member(s): 1 at a time, on failure rollback, roles worker → controller',
    );
    expect(plan.out).toContain('upgrade --from 1 --to 2 on av-worker-0');

    expect((await runCli('apply', '-f', await clusterFile('av', '2'))).out).toBe(
      'cluster/av upgrading 1 → 2 (generation 2)',
    );
    const status = await waitForStatus(handle, ended, 180_000);
    expect(status).toMatchObject({ phase: 'configured', appVersion: '2' });
    expect(status.rollout).toMatchObject({ phase: 'done', done: 3, total: 3, roleOrder: ['worker', 'controller'] });
    expect((await rollingRuns(h, handle)).map((r) => r.split(' ')[0])).toEqual([
      'worker-0',
      'worker-1',
      'controller-0',
    ]);
    expect((await runCli('get', 'av')).out).toContain(
      'upgrade 1 → 2: done, 3/3 members (1 at a time, on failure rollback, roles worker → controller)',
    );
    expect((await runCli('apply', '-f', await clusterFile('av', '2'))).out).toBe('cluster/av unchanged (generation 2)');
    await handle.signal(deleteSignal);
    expect((await handle.result()).phase).toBe('deleted');
  });

  it('rolls a failed upgrade back and names the old version again; applying the file again retries it', async () => {
    const ok = path.join(h.home, 'avback-ok');
    const { app1, app2 } = await twoVersions(
      h,
      'avback',
      `[[ "$1" == --upgrade && "$KDFLOW_MEMBER_ROOT" == *-worker-0 && ! -e ${ok} ]] && exit 1`,
    );
    await applyApps({ ...app1, version: '1b' }, { ...app2, version: '2b' });
    expect((await runCli('apply', '-f', await clusterFile('avback', '1b'))).code).toBe(0);
    const handle = h.env.client.workflow.getHandle(clusterWorkflowId('default', 'avback'));
    await waitForStatus(handle, (s) => s.observedGeneration >= 1 && s.phase === 'configured', 180_000);

    const upgradeFile = await clusterFile('avback', '2b');
    expect((await runCli('apply', '-f', upgradeFile)).code).toBe(0);
    const back = await waitForStatus(handle, ended, 180_000);
    expect(back).toMatchObject({ phase: 'configured', appVersion: '1b' });
    expect(back.rollout).toMatchObject({ phase: 'rolled back', failed: { member: 'avback-worker-0' } });
    expect((await handle.query(specQuery)).spec.appVersion).toBe('1b');

    await writeFile(ok, '');
    expect((await runCli('apply', '-f', upgradeFile)).out).toMatch(/^cluster\/avback upgrading 1b → 2b/);
    const done = await waitForStatus(handle, (s) => ended(s) && s.rollout?.phase === 'done', 180_000);
    expect(done).toMatchObject({ phase: 'configured', appVersion: '2b' });
    await handle.signal(deleteSignal);
    expect((await handle.result()).phase).toBe('deleted');
  });
});
