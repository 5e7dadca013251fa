/**
 * Cluster hooks and role order (docs/adr/0053) on the local runtime with a real dev server, real
 * member processes and the in-process CLI. Every startscript run appends "member argv" to one file
 * outside the members (their directories go with the delete), so the order of runs is observed.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { deleteSignal, type KdAppSpecInput } from '../../api/index.ts';
import { scriptHistory } from '../../lib/script-history.ts';
import { runCli, useCliHarness } from '../support/cli.ts';
import { recordHistory, startCluster, testApp, waitForStatus, writePackage } from '../support/cluster.ts';

const h = useCliHarness();

const EVENTS = ['configure', 'addnodes', 'delnodes', 'postprovision', 'preterminate'] as const;

async function hookedCluster(
  name: string,
  behaviour: string,
  overrides: Partial<KdAppSpecInput>,
  roles: Record<string, number> = { controller: 1, worker: 2 },
) {
  const order = `${h.home}/${name}.order`;
  const pkg = await writePackage(
    `${h.home}/${name}`,
    `echo "$(basename "$KDFLOW_MEMBER_ROOT") $*" >> ${order}\n${behaviour}`,
  );
  const app = testApp(pkg, { defaultEventList: [...EVENTS], ...overrides });
  const handle = await startCluster(h, name, app, roles);
  const runs = async () => (await readFile(order, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { handle, runs };
}

describe('cluster hooks', () => {
  it('postProvision runs once on one member after the first configure; preTerminate runs on delete', async () => {
    const { handle, runs } = await hookedCluster('hk', '', {
      hooks: { postProvision: { role: 'controller' }, preTerminate: { role: 'controller', timeoutSeconds: 10 } },
    });
    const status = await waitForStatus(handle, (s) => s.hooks?.postProvision?.state === 'succeeded');
    expect(status.phase).toBe('configured');
    expect(status.hooks?.postProvision).toMatchObject({ member: 'hk-controller-0', exitCode: 0 });
    let seen = await runs();
    expect(seen.filter((l) => l.includes('--postprovision'))).toEqual(['hk-controller-0 --postprovision']);
    // After every --configure.
    expect(seen.at(-1)).toBe('hk-controller-0 --postprovision');
    // A grow is no provision: no second run.
    await runCli('resize', 'hk', 'worker=3');
    await waitForStatus(handle, (s) => s.phase === 'configured' && s.roles[1]?.configured === 3);
    seen = await runs();
    expect(seen.filter((l) => l.includes('--postprovision'))).toHaveLength(1);
    await handle.signal(deleteSignal);
    const final = await handle.result();
    expect(final.hooks?.preTerminate).toMatchObject({ state: 'succeeded', member: 'hk-controller-0' });
    expect((await runs()).at(-1)).toBe('hk-controller-0 --preterminate');
    await recordHistory(h, handle, 'hooks');
  });

  it('a failing postProvision leaves the cluster configured with the error; kdflow retry runs it again', async () => {
    // The flag is there before the cluster starts, so the first runs fail; removing it lets the next succeed.
    const flag = `${h.home}/hf.fail`;
    await writeFile(flag, '');
    const { handle, runs } = await hookedCluster(
      'hf',
      `[[ "$1" == --postprovision && -e ${flag} ]] && { echo "init failed" >&2; exit 3; }`,
      { hooks: { postProvision: { role: 'worker', attempts: 2 } } },
    );
    const failed = await waitForStatus(handle, (s) => s.hooks?.postProvision?.state === 'failed');
    expect(failed.phase).toBe('configured');
    expect(failed.hooks?.postProvision?.error).toContain('init failed');
    expect(failed.lastError).toContain('postProvision on hf-worker-0');
    expect((await runs()).filter((l) => l.includes('--postprovision'))).toEqual([
      'hf-worker-0 --postprovision',
      'hf-worker-0 --postprovision',
    ]);
    const get = await runCli('get', 'hf');
    expect(get.out).toContain('hook postProvision failed on hf-worker-0');
    await rm(flag);
    expect((await runCli('retry', 'hf')).code).toBe(0);
    const ok = await waitForStatus(handle, (s) => s.hooks?.postProvision?.state === 'succeeded');
    expect(ok.lastError).toBeUndefined();
    expect((await runs()).filter((l) => l.includes('--postprovision'))).toHaveLength(3);
    await handle.signal(deleteSignal);
    await handle.result();
  });

  it('a hanging preTerminate times out after its attempts, and the delete completes with the failure in status and history', async () => {
    const { handle } = await hookedCluster('hh', '[[ "$1" == --preterminate ]] && sleep 600', {
      hooks: { preTerminate: { role: 'controller', timeoutSeconds: 2, attempts: 2 } },
    });
    await waitForStatus(handle, (s) => s.phase === 'configured');
    await handle.signal(deleteSignal);
    const final = await handle.result();
    expect(final.phase).toBe('deleted');
    expect(final.hooks?.preTerminate).toMatchObject({ state: 'failed', member: 'hh-controller-0' });
    expect(final.hooks?.preTerminate?.error).toContain('timed out');
    const history = await scriptHistory(handle.client, handle.workflowId);
    expect(history.filter((r) => r.event === 'preterminate').map((r) => r.argv)).toContainEqual(['--preterminate']);
  });

  it('kdflow delete --skip-hooks skips preTerminate', async () => {
    const { handle, runs } = await hookedCluster('hs', '', {
      hooks: { preTerminate: { role: 'controller' } },
    });
    await waitForStatus(handle, (s) => s.phase === 'configured');
    const run = await runCli('delete', 'hs', '--skip-hooks');
    expect(run.out).toContain('cluster/hs deleting (hooks skipped)');
    const final = await handle.result();
    expect(final.hooks?.preTerminate).toMatchObject({ state: 'skipped', error: 'skipped: kdflow delete --skip-hooks' });
    expect((await runs()).some((l) => l.includes('--preterminate'))).toBe(false);
  });
});

describe('role order', () => {
  it('provision and terminate stages: controllers configured before workers are created, workers removed first', async () => {
    const { handle, runs } = await hookedCluster(
      'ro',
      // A worker's configure fails unless the controller configured first (its line is in the file already).
      `[[ "$1" == --configure && "$(basename "$KDFLOW_MEMBER_ROOT")" == ro-worker-* ]] && ! grep -q "^ro-controller-0 --configure" ${h.home}/ro.order && exit 9`,
      {
        roleOrder: { provision: [['controller'], ['worker']], terminate: [['worker'], ['controller']] },
        hooks: { preTerminate: { role: 'worker' } },
      },
    );
    const status = await waitForStatus(handle, (s) => s.phase === 'configured' && s.roles[1]?.configured === 2);
    expect(status.roles.flatMap((r) => r.members.map((m) => m.state))).toEqual([
      'configured',
      'configured',
      'configured',
    ]);
    const seen = await runs();
    const controller = seen.indexOf('ro-controller-0 --configure');
    expect(controller).toBe(0);
    expect(seen.slice(1, 3).sort()).toEqual(['ro-worker-0 --configure', 'ro-worker-1 --configure']);
    // The controller hears of the workers, which came in a later batch.
    expect(seen[3]).toMatch(/^ro-controller-0 --addnodes --nodegroup 1 --role worker --fqdns /);
    await handle.signal(deleteSignal);
    await handle.result();
    // The delete: the hook on the first worker, the workers removed, then the controller with the cluster.
    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? []).flatMap((e) => {
      const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
      return name ? [name] : [];
    });
    const removeWorkers = scheduled.lastIndexOf('removeMembers');
    const hook = scheduled.lastIndexOf('runScript');
    expect(hook).toBeGreaterThan(0);
    expect(removeWorkers).toBeGreaterThan(hook);
    expect(scheduled.at(-1)).toBe('teardownCluster');
    await recordHistory(h, handle, 'role-order');
    expect((await runs()).at(-1)).toBe('ro-worker-0 --preterminate');
  });
});
