/**
 * The Kubernetes runtime on a real control plane (testing/kube/harness.ts): a real API server, scheduler,
 * controller manager and kwok node, a real Temporal dev server and worker. The worker talks to the
 * API as the least-privilege ServiceAccount from crds/deploy/worker-rbac.yaml.
 */
import { Watch, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteSignal, resizeUpdate, statusQuery, type ClusterStatus } from '../../api/index.ts';
import { scriptHistory } from '../../lib/script-history.ts';
import { processesWhere } from '../../runtimes/processes.ts';
import { runScript } from '../../runtimes/script/protocol.ts';
import { memberStates, settled, testApp, waitForStatus, writePackage } from '../support/cluster.ts';
import { togetherScript } from '../support/together.ts';
import { eventually } from '../../testing/kube/harness.ts';
import { KUBE_SKIPPED, memberTarget, useKubeTestEnv } from '../../testing/kube/env.ts';

const NS = 'kdtest';
const fqdn = (member: string, cluster: string) => `${member}.${cluster}.${NS}.svc.cluster.local`;

const skip = KUBE_SKIPPED;
const { kube, harness: h, core, startCluster: startKubeCluster, podEvents } = useKubeTestEnv({ namespace: NS });
let stopWatch: AbortController | undefined;
/** When each pod was first seen going (deletionTimestamp set, or gone), by the API's own events. */
const goingAt = new Map<string, number>();

/**
 * Records when each pod is first seen going. The client ends a watch that idles for a while, so it
 * resumes from the last event seen (from scratch after an error such as 410 Gone) until the suite ends.
 */
let podsVersion: string | undefined;
let watching = true;
async function watchPods(): Promise<void> {
  if (!watching) return;
  const resume = (error?: unknown) => {
    if (error) podsVersion = undefined;
    setTimeout(() => void watchPods(), 200);
  };
  try {
    stopWatch = await new Watch(kube.kc).watch(
      `/api/v1/namespaces/${NS}/pods`,
      podsVersion ? { resourceVersion: podsVersion } : {},
      (type, pod: V1Pod) => {
        podsVersion = pod.metadata?.resourceVersion ?? podsVersion;
        const name = pod.metadata?.name ?? '';
        if ((type === 'DELETED' || pod.metadata?.deletionTimestamp) && !goingAt.has(name))
          goingAt.set(name, Date.now());
      },
      resume,
    );
  } catch (error) {
    resume(error);
  }
}

const target = (cluster: string, name: string) => memberTarget(NS, cluster, name);

/** A sleep no other process runs, so its processes can be found by argv. */
const sleepMark = () => `${100_000 + Math.floor(Math.random() * 800_000)}.${Date.now() % 10_000}`;
/** The `sleep MARK` itself (the runner's and `start`'s argv carry the mark too). */
const withMarker = (mark: string) => processesWhere((p) => p.argv[0] === 'sleep' && p.argv[1] === mark);

const names = (items: { metadata?: { name?: string } }[]) => items.map((i) => i.metadata?.name ?? '').sort();

beforeAll(async () => {
  if (!skip) await watchPods();
});

afterAll(() => {
  watching = false;
  stopWatch?.abort();
});

describe.skipIf(skip)('the Kubernetes runtime on a real API server', () => {
  it('creates, grows, shrinks and deletes a two-role cluster: objects, files, argv and order', async () => {
    // The configcli helper is on the script's PATH in the pod (ADR 0025): it records its node id.
    const helper = 'case "$1" in --configure) ccli --get node.id > "$GUESTCONFIG_DIR/node.id";; esac';
    const app = testApp(await writePackage(h.home, helper), {
      roles: [
        { id: 'controller', cardinality: '1', eventList: ['configure', 'addnodes', 'delnodes'] },
        { id: 'worker', cardinality: '0+', persistDirs: ['/data'], eventList: ['configure'] },
      ],
      services: [{ id: 'web', label: { name: 'web ui' }, endpoint: { port: 8080, urlScheme: 'http' } }],
      config: { roleServices: [{ roleID: 'controller', serviceIDs: ['web'] }] },
    });
    const handle = await startKubeCluster('kc', app, [
      { id: 'controller', members: 1, serviceType: 'NodePort', podLabels: { team: 'data' } },
      { id: 'worker', members: 2, storage: { size: '1Gi' }, env: [{ name: 'ROLE_NOTE', value: 'worker' }] },
    ]);
    let status = await waitForStatus(handle, settled(1));
    expect(memberStates(status)).toEqual({
      'kc-controller-0': 'configured',
      'kc-worker-0': 'configured',
      'kc-worker-1': 'configured',
    });

    // The objects, through the API.
    const anchor = await core.readNamespacedService({ namespace: NS, name: 'kc' });
    expect(anchor.spec?.clusterIP).toBe('None');
    const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'kdflow.dev/cluster=kc' });
    expect(names(pods.items)).toEqual(['kc-controller-0', 'kc-worker-0', 'kc-worker-1']);
    for (const pod of pods.items) {
      expect(pod.spec?.hostname).toBe(pod.metadata?.name);
      expect(pod.spec?.subdomain).toBe('kc');
      expect(pod.metadata?.labels?.['kdflow.dev/member']).toBe(pod.metadata?.name);
      expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({
        kind: 'Service',
        name: 'kc',
        uid: anchor.metadata?.uid,
      });
    }
    const controllerPod = pods.items.find((p) => p.metadata?.name === 'kc-controller-0');
    expect(controllerPod?.metadata?.labels).toMatchObject({ team: 'data', 'kdflow.dev/role': 'controller' });
    const workerPod = pods.items.find((p) => p.metadata?.name === 'kc-worker-0');
    expect(workerPod?.spec?.containers[0]?.env).toEqual([{ name: 'ROLE_NOTE', value: 'worker' }]);
    expect(workerPod?.spec?.containers[0]?.volumeMounts).toEqual([
      { name: 'data', mountPath: '/data', subPath: 'data' },
    ]);
    const pvcs = await eventually('both worker PVCs bound', async () => {
      const list = await core.listNamespacedPersistentVolumeClaim({
        namespace: NS,
        labelSelector: 'kdflow.dev/cluster=kc',
      });
      return list.items.length === 2 && list.items.every((p) => p.status?.phase === 'Bound') ? list : undefined;
    });
    expect(names(pvcs.items)).toEqual(['kc-worker-0-data', 'kc-worker-1-data']);
    const web = await core.readNamespacedService({ namespace: NS, name: 'kc-controller-0-web' });
    expect(web.spec?.type).toBe('NodePort');
    expect(web.spec?.ports?.[0]?.port).toBe(8080);
    expect(web.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Pod', name: 'kc-controller-0' });

    // The files in each pod, read back through exec.
    const meta = JSON.parse(
      (await h.runtime.readGuestFile(target('kc', 'kc-worker-1'), '/etc/guestconfig/configmeta.json')) ?? '{}',
    );
    expect(meta.node).toMatchObject({ role_id: 'worker', id: '3', fqdn: fqdn('kc-worker-1', 'kc') });
    expect(meta.nodegroups['1'].roles.worker.fqdns).toEqual([fqdn('kc-worker-0', 'kc'), fqdn('kc-worker-1', 'kc')]);
    for (const m of ['kc-controller-0', 'kc-worker-0', 'kc-worker-1'])
      expect(await podEvents('kc', m)).toEqual(['--configure']);
    expect(await h.runtime.readGuestFile(target('kc', 'kc-worker-1'), '/opt/guestconfig/node.id')).toBe('3\n');
    expect(await h.runtime.readGuestFile(target('kc', 'kc-worker-0'), '/opt/guestconfig/configure.stdout')).toBe(
      'ran --configure\n',
    );
    expect(await h.runtime.readGuestFile(target('kc', 'kc-worker-0'), '/opt/guestconfig/configure.status')).toMatch(
      /\/kc-worker-0\/configure=0\n$/,
    );

    // Grow worker 2 → 3: the new member configures, the controller hears --addnodes about it.
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 3 } }] });
    await waitForStatus(handle, settled(2));
    const added = `--addnodes --nodegroup 1 --role worker --fqdns ${fqdn('kc-worker-2', 'kc')}`;
    expect(await podEvents('kc', 'kc-controller-0')).toEqual(['--configure', added]);
    expect(await podEvents('kc', 'kc-worker-2')).toEqual(['--configure']);
    expect(await podEvents('kc', 'kc-worker-0')).toEqual(['--configure']);

    // Shrink worker 3 → 1: --delnodes on the controller finishes before either leaving pod starts to go.
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 1 } }] });
    status = await waitForStatus(handle, settled(3));
    const removed = `--delnodes --nodegroup 1 --role worker --fqdns ${fqdn('kc-worker-1', 'kc')},${fqdn('kc-worker-2', 'kc')}`;
    expect(await podEvents('kc', 'kc-controller-0')).toEqual(['--configure', added, removed]);
    const controller = status.roles.flatMap((r) => r.members).find((m) => m.name === 'kc-controller-0');
    const delnodes = controller?.events.find((e) => e.event === 'delnodes');
    expect(delnodes?.exitCode).toBe(0);
    const delnodesDone = Date.parse(delnodes?.finishedAt ?? '');
    for (const leaver of ['kc-worker-1', 'kc-worker-2']) {
      // The watch's event can trail the workflow on a busy machine: wait for it (it can never come early).
      expect(await eventually(`${leaver} deletion seen`, async () => goingAt.get(leaver))).toBeGreaterThanOrEqual(
        delnodesDone,
      );
    }
    await eventually('leavers and their PVCs gone', async () => {
      const [p, v] = await Promise.all([
        core.listNamespacedPod({ namespace: NS, labelSelector: 'kdflow.dev/cluster=kc' }),
        core.listNamespacedPersistentVolumeClaim({ namespace: NS, labelSelector: 'kdflow.dev/cluster=kc' }),
      ]);
      return names(p.items).join() === 'kc-controller-0,kc-worker-0' && names(v.items).join() === 'kc-worker-0-data'
        ? true
        : undefined;
    });

    // Delete: every object of the cluster goes, the headless Service last.
    await handle.signal(deleteSignal);
    expect((await handle.result()).phase).toBe('deleted');
    await eventually('no objects of the cluster left', async () => {
      const [p, v, s] = await Promise.all([
        core.listNamespacedPod({ namespace: NS, labelSelector: 'kdflow.dev/cluster=kc' }),
        core.listNamespacedPersistentVolumeClaim({ namespace: NS, labelSelector: 'kdflow.dev/cluster=kc' }),
        core.listNamespacedService({ namespace: NS, labelSelector: 'kdflow.dev/cluster=kc' }),
      ]);
      return p.items.length + v.items.length + s.items.length === 0 ? true : undefined;
    });
  });

  it("never adopts or deletes a pod, PVC or Service of the same name that is labelled as another cluster's", async () => {
    const pkg = await writePackage(`${h.home}/names`);
    // "cz-data" role "store" and "cz" role "data-store" both name a member cz-data-store-0; the CLI and
    // the shim refuse that (ADR 0018), but a workflow started by hand, or two creates at once, are not refused.
    const storeApp = testApp(pkg, {
      roles: [{ id: 'store', cardinality: '1' }],
      services: [{ id: 'web', label: { name: 'web' }, endpoint: { port: 8080, urlScheme: 'http' } }],
      config: { roleServices: [{ roleID: 'store', serviceIDs: ['web'] }] },
    });
    const owner = await startKubeCluster('cz-data', storeApp, [{ id: 'store', members: 1, storage: { size: '1Gi' } }]);
    expect(memberStates(await waitForStatus(owner, settled(1)))).toEqual({ 'cz-data-store-0': 'configured' });
    const uids = async () => {
      const [pod, pvc, web] = await Promise.all([
        core.readNamespacedPod({ namespace: NS, name: 'cz-data-store-0' }),
        core.readNamespacedPersistentVolumeClaim({ namespace: NS, name: 'cz-data-store-0-data' }),
        core.readNamespacedService({ namespace: NS, name: 'cz-data-store-0-web' }),
      ]);
      return [pod, pvc, web].map((o) => `${o.metadata?.labels?.['kdflow.dev/cluster']}/${o.metadata?.uid}`);
    };
    const before = await uids();

    // The runtime itself: a permanent failure that names the owner.
    const spec = {
      namespace: NS,
      cluster: 'cz',
      name: 'cz-data-store-0',
      role: 'data-store',
      ordinal: 0,
      fqdn: fqdn('cz-data-store-0', 'cz'),
      image: 'test:1',
      persistDirs: [],
    };
    await expect(h.runtime.ensureMember(spec)).rejects.toMatchObject({
      permanent: true,
      message: expect.stringContaining(
        `pod ${NS}/cz-data-store-0 belongs to cluster "cz-data" (member cz-data-store-0), not to member cz-data-store-0 of cluster "cz"`,
      ),
    });
    await h.runtime.removeMember(target('cz', 'cz-data-store-0'));
    expect(await uids()).toEqual(before);

    // Through workflows: the member fails with that reason, and deleting the cluster leaves the owner's objects alone.
    const intruder = await startKubeCluster('cz', testApp(pkg, { roles: [{ id: 'data-store', cardinality: '1' }] }), [
      { id: 'data-store', members: 1 },
    ]);
    const refused = (await waitForStatus(intruder, settled(1))).roles[0]?.members[0];
    expect(refused).toMatchObject({ name: 'cz-data-store-0', state: 'config error' });
    expect(refused?.lastError).toContain('belongs to cluster "cz-data"');
    // A cluster named like the owner's endpoint Service cannot take it as its headless Service either.
    const lookalike = await startKubeCluster('cz-data-store-0-web', testApp(pkg), [{ id: 'controller', members: 1 }]);
    const anchorless = (await waitForStatus(lookalike, settled(1))).roles[0]?.members[0];
    expect(anchorless?.lastError).toContain(
      `service ${NS}/cz-data-store-0-web belongs to cluster "cz-data" (member cz-data-store-0), not to cluster "cz-data-store-0-web"`,
    );
    for (const handle of [intruder, lookalike]) {
      await handle.signal(deleteSignal);
      expect((await handle.result()).phase).toBe('deleted');
    }
    expect(await uids()).toEqual(before);
    expect(await podEvents('cz-data', 'cz-data-store-0')).toEqual(['--configure']);
    expect(memberStates(await owner.query(statusQuery))).toEqual({ 'cz-data-store-0': 'configured' });

    await owner.signal(deleteSignal);
    await owner.result();
    await eventually("the owner's objects gone with it", async () => {
      const [p, v, s] = await Promise.all([
        core.listNamespacedPod({
          namespace: NS,
          labelSelector: 'kdflow.dev/cluster in (cz, cz-data, cz-data-store-0-web)',
        }),
        core.listNamespacedPersistentVolumeClaim({
          namespace: NS,
          labelSelector: 'kdflow.dev/cluster in (cz, cz-data, cz-data-store-0-web)',
        }),
        core.listNamespacedService({
          namespace: NS,
          labelSelector: 'kdflow.dev/cluster in (cz, cz-data, cz-data-store-0-web)',
        }),
      ]);
      return p.items.length + v.items.length + s.items.length === 0 ? true : undefined;
    });
  });

  it("releases one role's ccli --tokenwait with another role's --tokenwake, through the workflow (ADR 0047)", async () => {
    // The first role waits for the second's token: at create both configure at once (planner v4).
    const behaviour = `if [ "$1" = --configure ]; then
  case $(ccli --get node.role_id) in
    controller) ccli --tokenwait up -t 240 || exit 1; echo woken > "$GUESTCONFIG_DIR/token" ;;
    worker) ccli --tokenwake up || exit 1; echo waking > "$GUESTCONFIG_DIR/token" ;;
  esac
fi`;
    const app = testApp(await writePackage(`${h.home}/tokens`, behaviour), { retry: { maximumAttempts: 1 } });
    const handle = await startKubeCluster('ktok', app, [
      { id: 'controller', members: 1 },
      { id: 'worker', members: 1 },
    ]);
    const status: ClusterStatus = await waitForStatus(handle, settled(1), 300_000);
    expect(memberStates(status)).toEqual({ 'ktok-controller-0': 'configured', 'ktok-worker-0': 'configured' });
    expect(await h.runtime.readGuestFile(target('ktok', 'ktok-controller-0'), '/opt/guestconfig/token')).toBe(
      'woken\n',
    );
    expect(await h.runtime.readGuestFile(target('ktok', 'ktok-worker-0'), '/opt/guestconfig/token')).toBe('waking\n');
    await handle.signal(deleteSignal);
    await handle.result();
  });

  it('configures, grows and shrinks a package with connections, tokens and configmacro (issue 15)', async () => {
    const store = await startKubeCluster('kstore', testApp(await writePackage(`${h.home}/kstore`)), [
      { id: 'controller', members: 1 },
    ]);
    await waitForStatus(store, settled(1), 300_000);
    const app = testApp(
      await writePackage(`${h.home}/together`, togetherScript('kstore', 'controller', 'controller')),
      {
        retry: { maximumAttempts: 1 },
      },
    );
    const roles = (workers: number) => [
      { id: 'controller', members: 1 },
      { id: 'worker', members: workers },
    ];
    const handle = await startKubeCluster('ktg', app, roles(1), { connections: { clusters: ['kstore'] } });
    let status: ClusterStatus = await waitForStatus(handle, settled(1), 300_000);
    expect(memberStates(status)).toEqual({ 'ktg-controller-0': 'configured', 'ktg-worker-0': 'configured' });
    const log = async (member: string) =>
      ((await h.runtime.readGuestFile(target('ktg', member), '/opt/guestconfig/together.log')) ?? '')
        .split('\n')
        .filter(Boolean);
    const members = (n: number) => ['ktg-controller-0', ...Array.from({ length: n }, (_, i) => `ktg-worker-${i}`)];
    const all = (n: number) =>
      members(n)
        .map((m) => fqdn(m, 'ktg'))
        .join(',');
    const storeHead = fqdn('kstore-controller-0', 'kstore');
    expect(await log('ktg-controller-0')).toEqual([`--configure controller store=${storeHead} all=${all(1)}`]);
    expect(await log('ktg-worker-0')).toEqual([`--configure worker store=${storeHead} all=${all(1)}`]);

    // Grow: the new worker's wait finds the token woken; the others hear --addnodes.
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 2 } }] });
    status = await waitForStatus(handle, settled(2), 300_000);
    expect(memberStates(status)['ktg-worker-1']).toBe('configured');
    expect(await log('ktg-worker-1')).toEqual([`--configure worker store=${storeHead} all=${all(2)}`]);
    for (const m of members(1)) expect((await log(m))[1]).toBe(`--addnodes all=${all(2)}`);

    // Shrink: the survivors hear --delnodes, the leaver goes.
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 1 } }] });
    status = await waitForStatus(handle, settled(3), 300_000);
    expect(Object.keys(memberStates(status))).toEqual(members(1));
    for (const m of members(1)) expect((await log(m))[2]).toMatch(/^--delnodes all=/);
    for (const c of [handle, store]) {
      await c.signal(deleteSignal);
      await c.result();
    }
  });

  it('reports a failing script as config error with its exit code and output', async () => {
    const app = testApp(await writePackage(`${h.home}/failing`, 'exit 3'));
    const handle = await startKubeCluster('kf', app, [{ id: 'controller', members: 1 }]);
    const status: ClusterStatus = await waitForStatus(handle, settled(1));
    expect(status.phase).toBe('config error');
    const member = status.roles[0]?.members[0];
    expect(member?.state).toBe('config error');
    expect(member?.events[0]).toMatchObject({ event: 'configure', exitCode: 3, attempts: 2 });
    // Output is in Temporal's history (the activity's failure details), not in status.
    const runs = await scriptHistory(handle.client, handle.workflowId);
    expect(runs.find((r) => r.member === member?.name && r.event === 'configure')?.stdoutTail).toContain(
      'ran --configure',
    );
    await handle.signal(deleteSignal);
    await handle.result();
  });

  it('tells a kill from a timeout and from an exit code that looks like one, and names an OOM kill the pod reports', async () => {
    const behaviour = 'case "$1" in --kill) kill -KILL $$ ;; --exit124) exit 124 ;; --hang) exec sleep "$2" ;; esac';
    const app = testApp(await writePackage(`${h.home}/ends`, behaviour));
    const handle = await startKubeCluster('ke', app, [{ id: 'controller', members: 1 }]);
    expect(memberStates(await waitForStatus(handle, settled(1)))).toEqual({ 'ke-controller-0': 'configured' });
    const m = target('ke', 'ke-controller-0');
    const control = { signal: new AbortController().signal, heartbeat: () => {} };
    const run = (id: string, argv: string[], timeoutSeconds = 60) =>
      runScript(h.runtime, m, { runId: `${NS}/ke/${id}`, event: 'addnodes', argv, env: [], timeoutSeconds }, control);

    expect(await run('kill', ['--kill'])).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: false });
    expect(await run('exit124', ['--exit124'])).toMatchObject({ exitCode: 124, timedOut: false });
    const hang = await run('hang', ['--hang', sleepMark()], 1);
    expect(hang).toMatchObject({ exitCode: null, timedOut: true });
    expect(hang.oomKilled).toBeUndefined();

    // The container is OOM-killed: the kubelet reports it, and the run's processes die with the container.
    const mark = sleepMark();
    const oom = run('oom', ['--hang', mark]);
    await eventually('the script sleeps', async () => ((await withMarker(mark)).length > 0 ? true : undefined));
    const pod = await core.readNamespacedPod({ namespace: NS, name: m.name });
    const container = pod.status?.containerStatuses?.[0];
    if (!container) throw new Error('the pod has no container status');
    container.restartCount = (container.restartCount ?? 0) + 1;
    container.lastState = { terminated: { reason: 'OOMKilled', exitCode: 137, finishedAt: new Date() } };
    await core.replaceNamespacedPodStatus({ namespace: NS, name: m.name, body: pod });
    const runId = `${NS}/ke/oom`;
    for (const pid of [
      // The exec's `start`, the runner and its watchdog, and the script: all of the container.
      ...(await processesWhere(
        (p) => (p.argv.includes('kdflow-start') || p.argv.includes('kdflow-run')) && p.argv.includes(runId),
      )),
      ...(await withMarker(mark)),
    ])
      process.kill(pid, 'SIGKILL');
    expect(await oom).toMatchObject({ exitCode: null, oomKilled: true, timedOut: false });
    await handle.signal(deleteSignal);
    await handle.result();
  });

  it('reports an Unschedulable member in its status instead of waiting silently', async () => {
    const app = testApp(await writePackage(`${h.home}/unsched`));
    const handle = await startKubeCluster('ku', app, [
      { id: 'controller', members: 1, resources: { requests: { cpu: '64' } } },
    ]);
    const status = await waitForStatus(handle, settled(1));
    const member = status.roles[0]?.members[0];
    expect(member?.state).toBe('config error');
    expect(member?.lastError).toMatch(/Unschedulable: .*Insufficient cpu/);
    await handle.signal(deleteSignal);
    await handle.result();
    await eventually('the unschedulable pod removed', async () =>
      (await core.listNamespacedPod({ namespace: NS, labelSelector: 'kdflow.dev/cluster=ku' })).items.length === 0
        ? true
        : undefined,
    );
  });
});
