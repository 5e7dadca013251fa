import { afterEach, describe, expect, it } from 'vitest';
import { deleteSignal, resizeSignal, resizeUpdate, retrySignal, statusQuery } from '../../api/index.ts';
import {
  eventsLog,
  memberStates,
  recordHistory,
  settled,
  startCluster,
  testApp,
  waitForStatus,
  writePackage,
} from '../support/cluster.ts';
import { ActivityGate } from '../../testing/activity-gate.ts';
import { useHarness } from '../../testing/harness.ts';

// Wiring tests hold the first scripts here instead of making them sleep, and act while they wait.
const gate = new ActivityGate();
const h = useHarness({ wrapActivities: gate.wrap });
afterEach(() => gate.release());

const fqdn = (member: string, cluster: string) => `${member}.${cluster}.default.svc.cluster.local`;

describe('events, failures and changes while busy', () => {
  it("filters events by each role's eventList", async () => {
    const app = testApp(await writePackage(`${h.home}/filter`), {
      roles: [
        { id: 'controller', cardinality: '1', eventList: ['configure', 'addnodes', 'delnodes'] },
        { id: 'worker', cardinality: '0+', eventList: ['configure'] },
        { id: 'edge', cardinality: '0+', eventList: ['addnodes'] },
      ],
    });
    const handle = await startCluster(h, 'filter', app, { controller: 1, worker: 1, edge: 1 });
    const status = await waitForStatus(handle, settled(1));
    // edge has no configure: configured without a script.
    expect(memberStates(status)['filter-edge-0']).toBe('configured');
    expect(await eventsLog(h, 'filter', 'filter-edge-0')).toEqual([]);
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 2 } }] });
    await waitForStatus(handle, settled(2));
    const added = `--addnodes --nodegroup 1 --role worker --fqdns ${fqdn('filter-worker-1', 'filter')}`;
    expect(await eventsLog(h, 'filter', 'filter-controller-0')).toEqual(['--configure', added]);
    expect(await eventsLog(h, 'filter', 'filter-worker-0')).toEqual(['--configure']);
    expect(await eventsLog(h, 'filter', 'filter-edge-0')).toEqual([added]);
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 1 } }] });
    await waitForStatus(handle, settled(3));
    expect(await eventsLog(h, 'filter', 'filter-controller-0')).toEqual([
      '--configure',
      added,
      `--delnodes --nodegroup 1 --role worker --fqdns ${fqdn('filter-worker-1', 'filter')}`,
    ]);
    expect(await eventsLog(h, 'filter', 'filter-edge-0')).toEqual([added]);
    await handle.signal(deleteSignal);
    await handle.result();
  });

  it('puts a failing member in config error with its output, and retry configures it and announces it late', async () => {
    // Workers fail until a flag file exists; the flag is the "fix" the app author makes.
    const dir = `${h.home}/flaky`;
    const app = testApp(
      await writePackage(
        dir,
        `[[ "$1" == --configure && "$(basename "$KDFLOW_MEMBER_ROOT")" == flaky-worker-1 && ! -e ${dir}/fixed ]] && { echo "disk not found" >&2; exit 3; }`,
      ),
    );
    const handle = await startCluster(h, 'flaky', app, { controller: 1, worker: 1 });
    await waitForStatus(handle, settled(1));
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 3 } }] });
    let status = await waitForStatus(handle, settled(2));
    expect(status.phase).toBe('config error');
    const broken = status.roles[1]?.members.find((m) => m.name === 'flaky-worker-1');
    expect(broken?.state).toBe('config error');
    expect(broken?.lastError).toContain('exited with 3');
    expect(broken?.lastError).toContain('disk not found');
    expect(broken?.events.at(-1)).toMatchObject({ event: 'configure', exitCode: 3, attempts: 2 });
    // Only the member that reached configured was announced.
    expect(await eventsLog(h, 'flaky', 'flaky-controller-0')).toEqual([
      '--configure',
      `--addnodes --nodegroup 1 --role worker --fqdns ${fqdn('flaky-worker-2', 'flaky')}`,
    ]);

    await import('node:fs/promises').then((fs) => fs.writeFile(`${dir}/fixed`, ''));
    await handle.signal(retrySignal, { member: 'flaky-worker-1' });
    status = await waitForStatus(handle, (s) => s.phase === 'configured');
    expect(memberStates(status)['flaky-worker-1']).toBe('configured');
    expect(await eventsLog(h, 'flaky', 'flaky-controller-0')).toEqual([
      '--configure',
      `--addnodes --nodegroup 1 --role worker --fqdns ${fqdn('flaky-worker-2', 'flaky')}`,
      `--addnodes --nodegroup 1 --role worker --fqdns ${fqdn('flaky-worker-1', 'flaky')}`,
    ]);
    // Members of the same batch learn of each other from configmeta, not from addnodes.
    expect(await eventsLog(h, 'flaky', 'flaky-worker-2')).toEqual(['--configure']);
    await handle.signal(deleteSignal);
    await handle.result();
    await recordHistory(h, handle, 'retry');
  });

  it('retry re-creates members found dead (a directory removed by hand, a member removed from under the workflow), and they take part again', async () => {
    const app = testApp(await writePackage(`${h.home}/dead`));
    const handle = await startCluster(h, 'dead', app, { controller: 1, worker: 2 });
    const before = await waitForStatus(handle, settled(1));
    const configureOf = (s: typeof before, name: string) =>
      s.roles
        .flatMap((r) => r.members)
        .find((m) => m.name === name)
        ?.events.find((e) => e.event === 'configure')?.runId;
    const gone = {
      namespace: 'default',
      cluster: 'dead',
      name: 'dead-worker-0',
      role: 'worker',
      ordinal: 0,
      fqdn: fqdn('dead-worker-0', 'dead'),
    };
    const killed = { ...gone, name: 'dead-worker-1', ordinal: 1, fqdn: fqdn('dead-worker-1', 'dead') };
    await import('node:fs/promises').then((fs) => fs.rm(h.runtime.memberRoot(gone), { recursive: true, force: true }));
    expect(await h.runtime.probeMembers([gone, killed])).toMatchObject({
      'dead-worker-0': { ready: false },
      'dead-worker-1': { ready: true },
    });
    await h.runtime.removeMember(killed).then(() => undefined);
    await handle.signal(retrySignal, {});
    // Both come back under their own names, configured again from scratch; nobody else hears of them again.
    const after = await waitForStatus(
      handle,
      (s) =>
        s.phase === 'configured' &&
        ['dead-worker-0', 'dead-worker-1'].every((n) => configureOf(s, n) !== configureOf(before, n)),
    );
    expect(memberStates(after)).toEqual({
      'dead-controller-0': 'configured',
      'dead-worker-0': 'configured',
      'dead-worker-1': 'configured',
    });
    expect(await eventsLog(h, 'dead', 'dead-worker-0')).toEqual(['--configure']);
    expect(await eventsLog(h, 'dead', 'dead-controller-0')).toEqual(['--configure']);
    // A later grow's --addnodes reaches the re-created members.
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 3 } }] });
    await waitForStatus(handle, settled(2));
    expect(await eventsLog(h, 'dead', 'dead-worker-0')).toEqual([
      '--configure',
      `--addnodes --nodegroup 1 --role worker --fqdns ${fqdn('dead-worker-2', 'dead')}`,
    ]);
    await handle.signal(deleteSignal);
    await handle.result();
  });

  it('kills a hanging script at scriptTimeoutSeconds and leaves the member in config error', async () => {
    const app = testApp(await writePackage(`${h.home}/hang`, '[[ "$1" == --configure ]] && sleep 600'), {
      scriptTimeoutSeconds: 1,
      retry: { maximumAttempts: 1 },
    });
    const handle = await startCluster(h, 'hang', app, { controller: 1 });
    const status = await waitForStatus(handle, settled(1));
    const member = status.roles[0]?.members[0];
    expect(member?.state).toBe('config error');
    expect(member?.lastError).toContain('timed out after 1s');
    expect(member?.events.at(-1)).toMatchObject({ event: 'configure', exitCode: null });
    await handle.signal(deleteSignal);
    expect((await handle.result()).phase).toBe('deleted');
  });

  it('coalesces quick resizes to the newest spec and rejects invalid ones without touching the cluster', async () => {
    const app = testApp(await writePackage(`${h.home}/burst`));
    // Every resize arrives while the create's --configure is held: they coalesce into the newest spec.
    gate.hold('runScript', ({ script }) => script.event === 'configure');
    const handle = await startCluster(h, 'burst', app, { controller: 1, worker: 1 });
    await gate.arrived('runScript');
    for (let n = 2; n <= 11; n++) await handle.signal(resizeSignal, { roles: { worker: n } });
    await handle.signal(resizeSignal, { roles: { controller: 2 } });
    await handle.signal(resizeSignal, { roles: { nosuchrole: 1 } });
    await handle.signal(resizeSignal, { roles: { worker: -1 } });
    await waitForStatus(handle, (s) => s.lastRejection?.reason.includes('members must not be negative') ?? false);
    gate.release();
    const status = await waitForStatus(handle, settled(11));
    expect(status.generation).toBe(11);
    expect(status.roles.map((r) => r.members.length)).toEqual([1, 11]);
    expect(status.lastRejection?.reason).toContain('members must not be negative');
    expect(Object.values(memberStates(status)).every((s) => s === 'configured')).toBe(true);
    // Coalesced: far fewer operations than changes, so far fewer --addnodes on the controller than 10.
    const controllerEvents = await eventsLog(h, 'burst', 'burst-controller-0');
    expect(controllerEvents.length).toBeLessThan(6);
    expect(controllerEvents.at(-1)).toMatch(/--addnodes .*burst-worker-10\.burst/);
    await expect(handle.executeUpdate(resizeUpdate, { args: [{ roles: { controller: 2 } }] })).rejects.toThrow();
    expect((await handle.query(statusQuery)).lastRejection?.reason).toContain(
      'controller needs exactly 1 member (cardinality "1"), got 2',
    );
    await handle.signal(deleteSignal);
    await handle.result();
    await recordHistory(h, handle, 'coalesce');
  });

  it('deletes during a create: the operation is cancelled and every member is torn down', async () => {
    const app = testApp(await writePackage(`${h.home}/early`));
    // The create's scripts are held (never released): the delete must cancel them.
    gate.hold('runScript', ({ script }) => script.event === 'configure');
    const handle = await startCluster(h, 'early', app, { controller: 1, worker: 3 });
    await gate.arrived('runScript');
    await handle.signal(deleteSignal);
    const final = await handle.result();
    expect(final.phase).toBe('deleted');
    expect(await h.runtime.listMembers('default', 'early')).toEqual([]);
    await recordHistory(h, handle, 'delete-during-create');
  });
});
