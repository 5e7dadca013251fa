/**
 * Self-healing members on the local runtime (docs/adr/0049): a member whose keep-alive dies or whose
 * directory is removed comes back configured, under its own name and node id, with no kdflow
 * command, by KubeDirector's restart rule (its configure status persisted: not configured again, and
 * `--restart` where its role lists it; otherwise configured again); one that keeps dying ends in
 * config error with the reason; two workers heal a death once.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import {
  deleteSignal,
  resizeUpdate,
  retrySignal,
  type ClusterStatus,
  type MemberDownReport,
  type MemberStatus,
} from '../../api/index.ts';
import { codecFromEnv } from '../../lib/codec.ts';
import { LocalRuntime } from '../../runtimes/local.ts';
import { startHealWatch } from '../../worker/heal-watch.ts';
import { ActivityGate } from '../../testing/activity-gate.ts';
import { useHarness } from '../../testing/harness.ts';
import { eventsLog, recordHistory, startCluster, testApp, waitForStatus, writePackage } from '../support/cluster.ts';

// The watch looks at every member this often: short, so a test does not wait on it.
process.env.KDFLOW_WATCH_INTERVAL_MS = '250';
const gate = new ActivityGate();
const h = useHarness({ wrapActivities: gate.wrap });
afterEach(() => gate.release());

const target = (cluster: string, name: string) => ({
  namespace: 'default',
  cluster,
  name,
  role: 'worker',
  ordinal: Number(name.split('-').at(-1)),
  fqdn: `${name}.${cluster}.default.svc.cluster.local`,
});

const member = (s: ClusterStatus, name: string): MemberStatus | undefined =>
  s.roles.flatMap((r) => r.members).find((m) => m.name === name);
const configureRun = (s: ClusterStatus, name: string) =>
  member(s, name)?.events.find((e) => e.event === 'configure')?.runId;

async function killKeepAlive(cluster: string, name: string): Promise<void> {
  const root = h.runtime.memberRoot(target(cluster, name));
  const pid = Number(await readFile(path.join(root, '.kdflow', 'keepalive.pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
}

async function nodeId(cluster: string, name: string): Promise<number | undefined> {
  const root = h.runtime.memberRoot(target(cluster, name));
  const meta = JSON.parse(await readFile(path.join(root, 'etc/guestconfig/configmeta.json'), 'utf8')) as {
    node: { nodeid: number };
  };
  return meta.node.nodeid;
}

/** The heal reports the workers sent this cluster, from its history. */
async function downReports(handle: WorkflowHandle): Promise<MemberDownReport[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const signal = e.workflowExecutionSignaledEventAttributes;
    if (signal?.signalName !== 'memberDown') return [];
    const data = signal.input?.payloads?.[0]?.data;
    return data ? [JSON.parse(Buffer.from(data).toString('utf8')) as MemberDownReport] : [];
  });
}

/** Waits until the workers have sent `count` reports (history is the witness; the limit is a hang guard). */
async function waitForReport(handle: WorkflowHandle, count: number): Promise<MemberDownReport[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const reports = await downReports(handle);
    if (reports.length >= count) return reports;
    if (Date.now() > deadline) throw new Error(`only ${reports.length} memberDown report(s) arrived`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function scheduled(handle: WorkflowHandle, activity: string): Promise<number> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity)
    .length;
}

const configuredAgain = (name: string, before: ClusterStatus) => (s: ClusterStatus) =>
  s.phase === 'configured' && !s.operation && configureRun(s, name) !== configureRun(before, name);
/** Healed `count` times by a restart of it alone, and settled. */
const restartedBack = (name: string, count: number) => (s: ClusterStatus) =>
  s.phase === 'configured' &&
  !s.operation &&
  member(s, name)?.heals === count &&
  s.rollout?.kind === 'restart' &&
  s.rollout.phase === 'done';
/** Workers list `restart`, so a restarted one starts its services again; the controller does not. */
const RESTARTING_WORKERS: Parameters<typeof testApp>[1] = {
  roles: [
    { id: 'controller', cardinality: '1' },
    { id: 'worker', cardinality: '0+', eventList: ['configure', 'addnodes', 'delnodes', 'restart'] },
  ],
};

describe('self-healing members', () => {
  it('a member whose keep-alive was killed comes back by the restart rule, with its node id and volume, and nobody else hears of it', async () => {
    const app = testApp(await writePackage(`${h.home}/killed`), RESTARTING_WORKERS);
    const handle = await startCluster(h, 'killed', app, { controller: 1, worker: 2 });
    const before = await waitForStatus(handle, (s) => s.phase === 'configured');
    const id = await nodeId('killed', 'killed-worker-1');
    await killKeepAlive('killed', 'killed-worker-1');

    const after = await waitForStatus(handle, restartedBack('killed-worker-1', 1));
    expect(member(after, 'killed-worker-1')).toMatchObject({ state: 'configured', ready: true, heals: 1 });
    expect(configureRun(after, 'killed-worker-1')).toBe(configureRun(before, 'killed-worker-1'));
    expect(after.rollout).toMatchObject({ kind: 'restart', phase: 'done', done: 1, total: 1 });
    expect(after.lastHeal).toMatch(/healing killed-worker-1 \(1 of 3\): keep-alive process is not running/);
    expect(await h.runtime.probeMembers([target('killed', 'killed-worker-1')])).toMatchObject({
      'killed-worker-1': { ready: true },
    });
    // The same identity and volume: its node id, and the events log it kept. Its configure status
    // persisted, so it is not configured again; its role lists `restart`, so its services start again.
    expect(await nodeId('killed', 'killed-worker-1')).toBe(id);
    expect(await eventsLog(h, 'killed', 'killed-worker-1')).toEqual(['--configure', '--restart']);
    // The others heard nothing: same name and FQDN, so no --addnodes or --delnodes.
    expect(await eventsLog(h, 'killed', 'killed-controller-0')).toEqual(['--configure']);
    expect(await eventsLog(h, 'killed', 'killed-worker-0')).toEqual(['--configure']);
    expect((await downReports(handle)).length).toBeGreaterThanOrEqual(1);
    await handle.signal(deleteSignal);
    await handle.result();
    await recordHistory(h, handle, 'heal-restart');
  });

  it('a member whose directory was removed is re-created and configured from scratch', async () => {
    const app = testApp(await writePackage(`${h.home}/wiped`));
    const handle = await startCluster(h, 'wiped', app, { controller: 1, worker: 1 });
    const before = await waitForStatus(handle, (s) => s.phase === 'configured');
    await rm(h.runtime.memberRoot(target('wiped', 'wiped-worker-0')), { recursive: true, force: true });

    const after = await waitForStatus(handle, configuredAgain('wiped-worker-0', before));
    expect(member(after, 'wiped-worker-0')).toMatchObject({ state: 'configured', heals: 1 });
    // A restart of it alone, which found no configure status on the new volume and so configured it.
    expect(after.rollout).toMatchObject({ kind: 'restart', phase: 'done', done: 1, total: 1 });
    expect(after.lastHeal).toMatch(/healing wiped-worker-0 \(1 of 3\): member directory /);
    expect(await eventsLog(h, 'wiped', 'wiped-worker-0')).toEqual(['--configure']);
    expect(await eventsLog(h, 'wiped', 'wiped-controller-0')).toEqual(['--configure']);
    await handle.signal(deleteSignal);
    await handle.result();
  });

  it('a member that keeps dying is healed up to the bound, then left in config error with the reason; retry brings it back', async () => {
    const app = testApp(await writePackage(`${h.home}/dying`));
    const handle = await startCluster(h, 'dying', app, { controller: 1, worker: 1 }, 'default', {
      heal: { limit: 2, backoffSeconds: 0.2 },
    });
    await waitForStatus(handle, (s) => s.phase === 'configured');
    for (let heal = 1; heal <= 2; heal++) {
      await killKeepAlive('dying', 'dying-worker-0');
      await waitForStatus(handle, restartedBack('dying-worker-0', heal));
    }
    await killKeepAlive('dying', 'dying-worker-0');
    let status = await waitForStatus(handle, (s) => s.phase === 'config error' && !s.operation);
    const dead = member(status, 'dying-worker-0');
    expect(dead).toMatchObject({ state: 'config error', ready: false, heals: 3 });
    expect(dead?.lastError).toMatch(/died 3 times within 10 min, healed 2: keep-alive process is not running/);
    expect(status.lastHeal).toMatch(/dying-worker-0 not healed again \(3 deaths/);
    // Healed twice by the restart rule (its configure status persisted; workers do not list `restart` here).
    expect(await eventsLog(h, 'dying', 'dying-worker-0')).toEqual(['--configure']);

    // `kdflow retry` re-creates it and configures it again, and its count starts again.
    await handle.signal(retrySignal, { member: 'dying-worker-0' });
    status = await waitForStatus(handle, (s) => s.phase === 'configured' && !s.operation);
    expect(member(status, 'dying-worker-0')?.heals).toBeUndefined();
    expect(await eventsLog(h, 'dying', 'dying-worker-0')).toEqual(['--configure', '--configure']);
    await handle.signal(deleteSignal);
    await handle.result();
  });

  it('a death during a grow is healed once the grow is done, configured again with the new member in its configmeta', async () => {
    const app = testApp(await writePackage(`${h.home}/busy`));
    const handle = await startCluster(h, 'busy', app, { controller: 1, worker: 1 });
    const before = await waitForStatus(handle, (s) => s.phase === 'configured');
    // The grow's --configure of the new member waits while the old worker dies.
    gate.hold('runScript', ({ script }) => script.event === 'configure');
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 2 } }] });
    await gate.arrived('runScript');
    await killKeepAlive('busy', 'busy-worker-0');
    await waitForReport(handle, 1);
    gate.release();

    const after = await waitForStatus(
      handle,
      (s) => s.observedGeneration === 2 && configuredAgain('busy-worker-0', before)(s),
    );
    expect(member(after, 'busy-worker-0')).toMatchObject({ state: 'configured', heals: 1 });
    expect(member(after, 'busy-worker-1')?.state).toBe('configured');
    // Healed after the grow: configured again with a configmeta that lists the new member, so it
    // needs no --addnodes; the controller heard of the new member once.
    const fqdn1 = 'busy-worker-1.busy.default.svc.cluster.local';
    expect(await eventsLog(h, 'busy', 'busy-controller-0')).toEqual([
      '--configure',
      `--addnodes --nodegroup 1 --role worker --fqdns ${fqdn1}`,
    ]);
    const log = await eventsLog(h, 'busy', 'busy-worker-0');
    expect(log[0]).toBe('--configure');
    expect(log.at(-1)).toBe('--configure');
    await handle.signal(deleteSignal);
    await handle.result();
  });

  it('with two workers, both report the death and the cluster heals it once', async () => {
    // What a second worker adds is its heal watch (its activities would only take turns with this one's):
    // one of its own, on its own runtime object over the same members, under another identity.
    const second = startHealWatch({
      runtime: new LocalRuntime(h.home),
      connection: h.env.nativeConnection,
      namespace: h.env.namespace,
      codec: codecFromEnv({}),
      logger: pino({ level: 'silent' }),
      identity: 'second-worker',
    });
    try {
      const app = testApp(await writePackage(`${h.home}/twice`));
      const handle = await startCluster(h, 'twice', app, { controller: 1, worker: 1 });
      const before = await waitForStatus(handle, (s) => s.phase === 'configured');
      const launches = await scheduled(handle, 'launchMembers');
      // The heal's check waits until both workers have reported the death.
      gate.hold('probeMembers');
      await killKeepAlive('twice', 'twice-worker-0');
      await gate.arrived('probeMembers');
      let observers: string[] = [];
      for (let count = 1; new Set(observers).size < 2; count++)
        observers = (await waitForReport(handle, count)).map((r) => r.observer ?? '');
      expect(observers).toContain('second-worker');
      gate.release();

      const after = await waitForStatus(handle, restartedBack('twice-worker-0', 1));
      expect(configureRun(after, 'twice-worker-0')).toBe(configureRun(before, 'twice-worker-0'));
      expect(await scheduled(handle, 'launchMembers')).toBe(launches);
      expect(await scheduled(handle, 'replaceMembers')).toBe(1);
      expect(await scheduled(handle, 'probeMembers')).toBe(1);
      expect(await eventsLog(h, 'twice', 'twice-worker-0')).toEqual(['--configure']);
      await handle.signal(deleteSignal);
      await handle.result();
    } finally {
      await second.stop();
    }
  });
});
