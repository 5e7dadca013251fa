/**
 * The CRD shim on the real harness, driven by real kubectl: apply, patch, an invalid patch, delete,
 * a leader hand-over between two shims, and KdActions (custom actions) run once with their results. The shims and the worker run as their least-privilege
 * ServiceAccounts from crds/deploy/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import {
  clusterWorkflowId,
  runActionUpdate,
  statusQuery,
  type ClusterStatus,
  type KdActionCrStatus,
} from '../../api/index.ts';
import { AppCatalog, sdkCatalogTransport } from '../../lib/app-catalog.ts';
import { Shim } from '../../shim/shim.ts';
import { writePackage } from '../support/cluster.ts';
import { rollingRuns } from '../support/rolling.ts';
import type { Harness } from '../../testing/harness.ts';
import { eventually, serviceAccountKubeConfig } from '../../testing/kube/harness.ts';
import { KUBE_SKIPPED, useKubeTestEnv } from '../../testing/kube/env.ts';

const NS = 'kdshim';
/** A hang guard for a whole lifecycle on a starved machine, not a time anyone should wait: each step has its own. */
const LONG = 600_000;
const skip = KUBE_SKIPPED;
const {
  kube,
  harness: h,
  core,
  kubectl: k,
  podEvents: clusterPodEvents,
} = useKubeTestEnv({
  namespace: NS,
  crds: true,
  manifests: ['crds/deploy/shim-rbac.yaml'],
  problemGraceSeconds: 5,
});
const shims: Shim[] = [];
/** `kubectl patch` of KdCluster sc: each [role index, members] pair set in one JSON patch. */
const patchMembers = (...roles: [number, number][]) =>
  k(
    'patch',
    'kdc',
    'sc',
    '-n',
    NS,
    '--type=json',
    '-p',
    JSON.stringify(roles.map(([role, value]) => ({ op: 'replace', path: `/spec/roles/${role}/members`, value }))),
  );

/** Queries the in-process shims made, by workflow and query name: their real calls, counted on the way out. */
const queries = new Map<string, number>();
const queried = (workflowId: string, query: string) => queries.get(`${workflowId} ${query}`) ?? 0;
function countingClient(): Client {
  return new Client({
    connection: h.env.connection,
    namespace: h.env.namespace ?? 'default',
    interceptors: {
      workflow: [
        {
          query: (input, next) => {
            const key = `${input.workflowExecution.workflowId} ${input.queryType}`;
            queries.set(key, (queries.get(key) ?? 0) + 1);
            return next(input);
          },
        },
      ],
    },
  });
}

async function startShim(identity: string): Promise<Shim> {
  const kc = await serviceAccountKubeConfig(kube, 'kdflow-system', 'kdflow-shim');
  const shim = new Shim({
    kc,
    client: countingClient(),
    logger: pino({ level: process.env.KDFLOW_TEST_LOG ?? 'silent' }),
    identity,
    leaseNamespace: 'kdflow-system',
    taskQueue: h.taskQueue,
    statusEveryMs: 500,
  });
  shim.start();
  shims.push(shim);
  return shim;
}

const processes: ChildProcess[] = [];
/** The shim as its own process (`node shim/main.ts`), as the Deployment runs it, so it can be SIGKILLed. */
async function startShimProcess(identity: string): Promise<ChildProcess> {
  const kubeconfig = path.join(h.home, `${identity}.kubeconfig`);
  await writeFile(kubeconfig, (await serviceAccountKubeConfig(kube, 'kdflow-system', 'kdflow-shim')).exportConfig(), {
    mode: 0o600,
  });
  const child = spawn(process.execPath, ['shim/main.ts'], {
    env: {
      ...process.env,
      KUBECONFIG: kubeconfig,
      TEMPORAL_ADDRESS: h.env.address,
      KDFLOW_SHIM_ID: identity,
      KDFLOW_SHIM_NAMESPACE: 'kdflow-system',
      KDFLOW_LOG_LEVEL: process.env.KDFLOW_TEST_LOG ?? 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  processes.push(child);
  return child;
}

/** SIGTERM, as a Deployment stops a pod: the shim hands the Lease over and exits. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await eventually('the shim process exits on SIGTERM', async () =>
    child.exitCode !== null || child.signalCode !== null ? true : undefined,
  );
  await exited;
}

const podEvents = (name: string) => clusterPodEvents('sc', name);
const crStatus = async (name = 'sc') =>
  JSON.parse(await k('get', 'kdc', name, '-n', NS, '-o', 'json')).status as Record<string, unknown> & {
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
const fqdn = (m: string) => `${m}.sc.${NS}.svc.cluster.local`;

afterAll(async () => {
  for (const child of processes) child.kill('SIGTERM');
  for (const shim of shims) await shim.stop();
});

describe.skipIf(skip)('the CRD shim with kubectl', () => {
  it('the deployment manifests pass a server-side dry run', async () => {
    const out = await k('apply', '--dry-run=server', '-f', 'crds/deploy/');
    expect(out).toMatch(/deployment.apps\/kdflow-worker created \(server dry run\)/);
    expect(out).toMatch(/deployment.apps\/kdflow-shim created \(server dry run\)/);
  });

  it(
    'apply, patch (grow, shrink, invalid) and delete drive the workflow; status and events come back',
    async () => {
      const shimA = await startShim('shim-a');
      const shimB = await startShim('shim-b');
      await eventually('one shim leads', async () => (shimA.isLeader() !== shimB.isLeader() ? true : undefined));

      const pkg = await writePackage(path.join(h.home, 'shim-app'));
      const manifest = path.join(h.home, 'sc.yaml');
      await writeFile(
        manifest,
        `apiVersion: kdflow.dev/v1beta1
kind: KdApp
metadata: {name: spark, namespace: ${NS}}
spec:
  label: {name: Spark-like}
  distroID: test/spark
  version: "1"
  defaultImageRepoTag: test/spark:1
  defaultConfigPackage: {packageURL: "${pkg}"}
  roles:
    - {id: controller, cardinality: "1", eventList: [configure, addnodes, delnodes]}
    - {id: worker, cardinality: "0+", eventList: [configure]}
  scriptTimeoutSeconds: 60
---
apiVersion: kdflow.dev/v1beta1
kind: KdCluster
metadata: {name: sc, namespace: ${NS}}
spec:
  app: spark
  roles:
    - {id: controller, members: 1, serviceLabels: {team: data}}
    - {id: worker, members: 1}
`,
      );
      await k('apply', '-f', manifest);
      await k('wait', '--for=jsonpath={.status.state}=configured', 'kdc/sc', '-n', NS, '--timeout=120s');
      // A KubeDirector field kdflow does not apply yet is named, never dropped silently (ADR 0026).
      expect((await crStatus()).conditions?.find((c) => c.type === 'Valid')?.message).toMatch(
        /warnings: spec\.roles\[0\]\.serviceLabels: not supported by kdflow yet/,
      );
      expect(await k('describe', 'kdc', 'sc', '-n', NS)).toMatch(/Warning\s+UnsupportedFields/);
      expect(await k('get', 'kdc', 'sc', '-n', NS)).toMatch(/^sc\s+spark\s+1\s+configured\s+2\/2\s+/m);
      const cr = JSON.parse(await k('get', 'kdc', 'sc', '-n', NS, '-o', 'json'));
      expect(cr.metadata.finalizers).toContain('kdflow.dev/teardown');
      expect(cr.status).toMatchObject({
        observedGeneration: 1,
        workflowId: clusterWorkflowId(NS, 'sc'),
        membersReady: '2/2',
        roles: [
          { id: 'controller', desired: 1 },
          { id: 'worker', desired: 1 },
        ],
      });
      expect(await podEvents('sc-controller-0')).toEqual(['--configure']);

      // Grow: kubectl patch → the new worker configures, the controller hears --addnodes.
      await patchMembers([1, 3]);
      await k('wait', '--for=jsonpath={.status.membersReady}=4/4', 'kdc/sc', '-n', NS, '--timeout=120s');
      await k('wait', '--for=jsonpath={.status.state}=configured', 'kdc/sc', '-n', NS, '--timeout=120s');
      const added = `--addnodes --nodegroup 1 --role worker --fqdns ${fqdn('sc-worker-1')},${fqdn('sc-worker-2')}`;
      expect(await podEvents('sc-controller-0')).toEqual(['--configure', added]);

      // An invalid patch: a condition naming the field, and nothing changes.
      await patchMembers([0, 2]);
      await k('wait', '--for=condition=Valid=False', 'kdc/sc', '-n', NS, '--timeout=60s');
      const refused = await crStatus();
      expect(refused.conditions?.find((c) => c.type === 'Valid')).toMatchObject({ reason: 'InvalidSpec' });
      expect(refused.conditions?.find((c) => c.type === 'Valid')?.message).toContain('spec.roles[0].members');
      expect(refused.observedGeneration).toBe(3);
      expect(refused.workflowGeneration).toBe(2);
      expect(
        (await k('get', 'pods', '-n', NS, '-l', 'kdflow.dev/cluster=sc', '-o', 'name')).trim().split('\n'),
      ).toHaveLength(4);
      expect(await k('describe', 'kdc', 'sc', '-n', NS)).toMatch(/Warning\s+InvalidSpec/);

      // The leader hands over (a graceful stop releases the Lease): the other shim carries on.
      const leader = shimA.isLeader() ? shimA : shimB;
      const follower = leader === shimA ? shimB : shimA;
      await leader.stop();
      await eventually('the other shim leads', async () => (follower.isLeader() ? true : undefined));
      await follower.stop();

      // A shim process killed with SIGKILL right after a change, then a fresh one: it converges, and
      // the change takes effect once. Shrink (undoing the invalid change too): --delnodes on the controller.
      const first = await startShimProcess('shim-p1');
      await eventually('shim-p1 holds the lease', async () =>
        (await k('get', 'lease', 'kdflow-shim', '-n', 'kdflow-system', '-o', 'jsonpath={.spec.holderIdentity}')) ===
        'shim-p1'
          ? true
          : undefined,
      );
      await patchMembers([0, 1], [1, 1]);
      first.kill('SIGKILL');
      await startShimProcess('shim-p2');
      await k('wait', '--for=condition=Valid=True', 'kdc/sc', '-n', NS, '--timeout=90s');
      await k('wait', '--for=jsonpath={.status.membersReady}=2/2', 'kdc/sc', '-n', NS, '--timeout=120s');
      const removed = `--delnodes --nodegroup 1 --role worker --fqdns ${fqdn('sc-worker-1')},${fqdn('sc-worker-2')}`;
      expect(await podEvents('sc-controller-0')).toEqual(['--configure', added, removed]);
      // Generations 1, 2 and 4 of the CR, each taken once: the workflow is at its third generation.
      expect((await crStatus()).workflowGeneration).toBe(3);

      // The story in `kubectl describe`: forwards, phases and every script run as Events.
      await eventually('the lifecycle told as events', async () => {
        const story = await k('describe', 'kdc', 'sc', '-n', NS);
        const lines = [
          /Normal\s+Forwarded\s+\S+\s+kdflow-shim\s+generation 1 sent/,
          /ScriptSucceeded\s+\S+\s+kdflow-shim\s+configure on sc-controller-0: exit 0/,
          /ScriptSucceeded\s+\S+\s+kdflow-shim\s+addnodes on sc-controller-0/,
          /ScriptSucceeded\s+\S+\s+kdflow-shim\s+delnodes on sc-controller-0/,
          // The shim tells the phases it observes: a create that ends before its first tick shows as "configured".
          /Phase\s+\S+\s+kdflow-shim\s+(creating → )?configured/,
        ];
        if (process.env.KDFLOW_TEST_DEBUG) console.log(story);
        return lines.every((line) => line.test(story)) ? true : undefined;
      });
      // Every new leader listed the apps before the clusters: none refused "sc" for an app it had not seen yet.
      expect(await k('describe', 'kdc', 'sc', '-n', NS)).not.toMatch(/UnknownApp/);

      // kubectl delete waits for the finalizer, which waits for the workflow's teardown.
      await k('delete', 'kdc', 'sc', '-n', NS, '--timeout=120s');
      const final = (await h.env.client.workflow.getHandle(clusterWorkflowId(NS, 'sc')).result()) as ClusterStatus;
      expect(final.phase).toBe('deleted');
      expect((await k('get', 'pods,pvc,svc', '-n', NS, '-l', 'kdflow.dev/cluster=sc', '-o', 'name')).trim()).toBe('');
    },
    LONG,
  );
  it(
    'forwards a KdCluster once its KdApp arrives, refuses one whose member names a running cluster uses, and an idle cluster costs one small query a tick',
    async () => {
      // The shim process left leading by the test before hands the Lease over as it stops.
      await Promise.all(processes.map(stopProcess));
      const shim = await startShim('shim-c');
      await eventually('shim-c leads', async () => (shim.isLeader() ? true : undefined));
      const pkg = await writePackage(path.join(h.home, 'split-app'));
      const manifest = path.join(h.home, 'split.yaml');
      const cluster = (name: string) => `---
apiVersion: kdflow.dev/v1beta1
kind: KdCluster
metadata: {name: ${name}, namespace: ${NS}}
spec: {app: split, roles: [{id: d, members: 1}]}
`;
      // The cluster before its app: refused for want of it, then forwarded as soon as the app arrives.
      await writeFile(manifest, cluster('sn'));
      await k('apply', '-f', manifest);
      await k('wait', '--for=condition=Valid=False', 'kdc/sn', '-n', NS, '--timeout=60s');
      expect((await crStatus('sn')).conditions?.find((c) => c.type === 'Valid')).toMatchObject({
        reason: 'UnknownApp',
        message: 'spec.app: unknown app "split": no KdApp of that name in namespace kdshim',
      });
      // Roles "b-c" and "c" have no members: "sn" role "b-c" and "sn-b" role "c" would both name sn-b-c-N once either grows.
      await writeFile(
        manifest,
        `apiVersion: kdflow.dev/v1beta1
kind: KdApp
metadata: {name: split, namespace: ${NS}}
spec:
  label: {name: split}
  distroID: test/split
  version: "1"
  defaultImageRepoTag: test/split:1
  defaultConfigPackage: {packageURL: "${pkg}"}
  roles:
    - {id: d, cardinality: "1", eventList: [configure]}
    - {id: b-c, cardinality: "0+"}
    - {id: c, cardinality: "0+"}
`,
      );
      await k('apply', '-f', manifest);
      await k('wait', '--for=condition=Valid=True', 'kdc/sn', '-n', NS, '--timeout=60s');
      await k('wait', '--for=jsonpath={.status.state}=configured', 'kdc/sn', '-n', NS, '--timeout=120s');
      await eventually('sn visible as running', async () => {
        for await (const _ of h.env.client.workflow.list({
          query: `KdCluster = 'sn' AND KdNamespace = '${NS}' AND ExecutionStatus = 'Running'`,
        }))
          return true;
        return undefined;
      });
      await writeFile(manifest, cluster('sn-b'));
      await k('apply', '-f', manifest);
      await k('wait', '--for=condition=Valid=False', 'kdc/sn-b', '-n', NS, '--timeout=60s');
      const valid = (await crStatus('sn-b')).conditions?.find((c) => c.type === 'Valid');
      expect(valid?.reason).toBe('MemberNameCollision');
      expect(valid?.message).toMatch(
        /^metadata\.name: "sn-b" would name role "c"'s members sn-b-c-0, sn-b-c-1, …, which cluster "sn" in namespace kdshim uses for its role "b-c"/,
      );
      await eventually('the refusal told as a Warning event', async () =>
        /Warning\s+MemberNameCollision\s+\S+\s+kdflow-shim\s+metadata\.name: "sn-b"/.test(
          await k('describe', 'kdc', 'sn-b', '-n', NS),
        )
          ? true
          : undefined,
      );
      expect((await k('get', 'pods', '-n', NS, '-l', 'kdflow.dev/cluster=sn-b', '-o', 'name')).trim()).toBe('');

      // Idle: every tick asks only the status version; the full status is read when it moves, if ever.
      const sn = clusterWorkflowId(NS, 'sn');
      const [versions, statuses] = [queried(sn, 'statusVersion'), queried(sn, 'status')];
      await eventually('five more ticks', async () =>
        queried(sn, 'statusVersion') >= versions + 5 ? true : undefined,
      );
      expect(queried(sn, 'status') - statuses).toBeLessThanOrEqual(1);
      expect(queried(sn, 'history')).toBe(0);

      await k('delete', 'kdc', 'sn-b', 'sn', '-n', NS, '--timeout=120s');
      await shim.stop();
    },
    LONG,
  );

  it(
    'puts every KdApp version into the shared catalog, where earlier ones stay; a cluster pins its version; an app edited without a new version is refused',
    async () => {
      const shim = await startShim('shim-v');
      await eventually('shim-v leads', async () => (shim.isLeader() ? true : undefined));
      const pkg = await writePackage(path.join(h.home, 'ver-app'));
      const manifest = path.join(h.home, 'ver.yaml');
      const app = (version: string, timeout = 60) => `apiVersion: kdflow.dev/v1beta1
kind: KdApp
metadata: {name: ver, namespace: ${NS}}
spec:
  label: {name: Versioned}
  distroID: test/ver
  version: "${version}"
  defaultImageRepoTag: test/ver:1
  defaultConfigPackage: {packageURL: "${pkg}"}
  roles: [{id: d, cardinality: "1", eventList: [configure]}]
  scriptTimeoutSeconds: ${timeout}
`;
      const cluster = (name: string) =>
        `---\napiVersion: kdflow.dev/v1beta1\nkind: KdCluster\nmetadata: {name: ${name}, namespace: ${NS}}\nspec: {app: ver, roles: [{id: d, members: 1}]}\n`;
      const catalog = new AppCatalog(sdkCatalogTransport(h.env.client, h.taskQueue));
      const versions = async () => (await catalog.list(NS)).find((a) => a.name === 'ver');

      await writeFile(manifest, app('1') + cluster('vc'));
      await k('apply', '-f', manifest);
      await k('wait', '--for=jsonpath={.status.state}=configured', 'kdc/vc', '-n', NS, '--timeout=120s');
      expect(await k('get', 'kdc', 'vc', '-n', NS)).toMatch(/^vc\s+ver\s+1\s+configured\s+1\/1\s+/m);

      // The object moves to version 2: the catalog keeps 1 beside it, and the cluster stays on 1.
      await writeFile(manifest, app('2'));
      await k('apply', '-f', manifest);
      await eventually('version 2 in the catalog', async () =>
        (await versions())?.current === '2' ? true : undefined,
      );
      expect((await versions())?.versions.map((v) => v.version)).toEqual(['1', '2']);
      expect((await catalog.get(NS, 'ver', '1')).app.scriptTimeoutSeconds).toBe(60);
      expect((await crStatus('vc')).appVersion).toBe('1');

      // Edited in place under version 2 with another spec: a Warning on the KdApp, and a new cluster of it waits.
      await writeFile(manifest, app('2', 30));
      await k('apply', '-f', manifest);
      await eventually('the refusal told as a Warning event on the KdApp', async () =>
        /Warning\s+AppVersionConflict/.test(await k('describe', 'kda', 'ver', '-n', NS)) ? true : undefined,
      );
      await writeFile(manifest, cluster('vd'));
      await k('apply', '-f', manifest);
      await k('wait', '--for=condition=Valid=False', 'kdc/vd', '-n', NS, '--timeout=60s');
      expect((await crStatus('vd')).conditions?.find((c) => c.type === 'Valid')).toMatchObject({
        reason: 'AppVersionConflict',
        message: expect.stringContaining(
          'KdApp ver: app ver version 2 is already in the catalog with another spec (spec.scriptTimeoutSeconds: 60 in the catalog, 30 applied)',
        ),
      });
      // A new version heals it: the waiting cluster is forwarded with version 3.
      await writeFile(manifest, app('3', 30));
      await k('apply', '-f', manifest);
      await k('wait', '--for=condition=Valid=True', 'kdc/vd', '-n', NS, '--timeout=60s');
      await k('wait', '--for=jsonpath={.status.appVersion}=3', 'kdc/vd', '-n', NS, '--timeout=120s');
      expect((await versions())?.versions.map((v) => v.version)).toEqual(['1', '2', '3']);

      await k('delete', 'kdc', 'vc', 'vd', '-n', NS, '--timeout=120s');
      await shim.stop();
    },
    LONG,
  );

  it(
    'spec.appVersion through kubectl: created on the named version, a patch to a new one rolls the upgrade, an unknown one is refused naming the versions',
    async () => {
      const shim = await startShim('shim-u');
      await eventually('shim-u leads', async () => (shim.isLeader() ? true : undefined));
      const pkg = await writePackage(path.join(h.home, 'upg-app'));
      const manifest = path.join(h.home, 'upg.yaml');
      const app = (version: string) => `apiVersion: kdflow.dev/v1beta1
kind: KdApp
metadata: {name: upg, namespace: ${NS}}
spec:
  label: {name: Upgradable}
  distroID: test/upg
  version: "${version}"
  defaultImageRepoTag: test/upg:${version}
  defaultConfigPackage: {packageURL: "${pkg}"}
  roles:
    - {id: controller, cardinality: "1", eventList: [configure, upgrade, rollback]}
    - {id: worker, cardinality: "0+", eventList: [configure, upgrade, rollback]}
  upgrade: {roleOrder: [worker]}
`;
      const setVersion = (version: string) =>
        k('patch', 'kdc', 'ua', '-n', NS, '--type=merge', '-p', JSON.stringify({ spec: { appVersion: version } }));
      // Version 2 is the KdApp object's (and the catalog's current one): the cluster asks for 1, which the catalog keeps.
      await writeFile(manifest, app('1'));
      await k('apply', '-f', manifest);
      await writeFile(
        manifest,
        `${app('2')}---\napiVersion: kdflow.dev/v1beta1\nkind: KdCluster\nmetadata: {name: ua, namespace: ${NS}}\nspec: {app: upg, appVersion: "1", roles: [{id: controller, members: 1}, {id: worker, members: 1}]}\n`,
      );
      await k('apply', '-f', manifest);
      await k('wait', '--for=jsonpath={.status.state}=configured', 'kdc/ua', '-n', NS, '--timeout=120s');
      expect((await crStatus('ua')).appVersion).toBe('1');
      const pod = (name: string) => core.readNamespacedPod({ namespace: NS, name });
      expect((await pod('ua-worker-0')).spec?.containers[0]?.image).toBe('test/upg:1');

      await setVersion('9');
      await k('wait', '--for=condition=Valid=False', 'kdc/ua', '-n', NS, '--timeout=60s');
      expect((await crStatus('ua')).conditions?.find((c) => c.type === 'Valid')).toMatchObject({
        reason: 'UnknownAppVersion',
        message: expect.stringContaining(
          `spec.appVersion: app "upg" in namespace "${NS}" has no version "9"; its versions: 1, 2`,
        ),
      });

      await setVersion('2');
      await k('wait', '--for=jsonpath={.status.appVersion}=2', 'kdc/ua', '-n', NS, '--timeout=180s');
      await eventually('the rollout done in status', async () =>
        /^upgrade 1 → 2: done, 2\/2 members \(1 at a time, on failure rollback, roles worker → controller\)$/.test(
          String((await crStatus('ua')).rollout),
        )
          ? true
          : undefined,
      );
      for (const name of ['ua-controller-0', 'ua-worker-0'])
        expect((await pod(name)).spec?.containers[0]?.image).toBe('test/upg:2');
      const handle = h.env.client.workflow.getHandle(clusterWorkflowId(NS, 'ua'));
      expect(await rollingRuns(h as unknown as Harness, handle)).toEqual([
        'worker-0 --upgrade --from 1 --to 2 0',
        'controller-0 --upgrade --from 1 --to 2 0',
      ]);
      await k('delete', 'kdc', 'ua', '-n', NS, '--timeout=120s');
      await shim.stop();
    },
    LONG,
  );

  it(
    'a KdAction runs its custom action once, with each member’s result in its status; a bad parameter fails it with nothing run',
    async () => {
      const shim = await startShim('shim-act');
      await eventually('shim-act leads', async () => (shim.isLeader() ? true : undefined));
      const pkg = await writePackage(path.join(h.home, 'act-app'));
      const manifest = path.join(h.home, 'act.yaml');
      await writeFile(
        manifest,
        `apiVersion: kdflow.dev/v1beta1
kind: KdApp
metadata: {name: acts, namespace: ${NS}}
spec:
  label: {name: With actions}
  distroID: test/acts
  version: "1"
  defaultImageRepoTag: test/acts:1
  defaultConfigPackage: {packageURL: "${pkg}"}
  roles:
    - {id: controller, cardinality: "1", eventList: [configure]}
    - {id: worker, cardinality: "0+", eventList: [configure]}
  actions:
    - name: compact
      roles: [worker]
      params:
        - {name: level, type: enum, values: [low, high], default: low}
        - {name: files, type: integer, required: true}
---
apiVersion: kdflow.dev/v1beta1
kind: KdCluster
metadata: {name: ac, namespace: ${NS}}
spec: {app: acts, roles: [{id: controller, members: 1}, {id: worker, members: 2}]}
`,
      );
      await k('apply', '-f', manifest);
      await k('wait', '--for=jsonpath={.status.state}=configured', 'kdc/ac', '-n', NS, '--timeout=120s');
      const action = (name: string, params: string) =>
        `apiVersion: kdflow.dev/v1beta1
kind: KdAction
metadata: {name: ${name}, namespace: ${NS}}
spec: {cluster: ac, action: compact, params: ${params}}
`;
      const actionStatus = async (name: string) =>
        JSON.parse(await k('get', 'kdact', name, '-n', NS, '-o', 'json')) as {
          metadata: { uid: string; ownerReferences?: { kind: string; name: string }[] };
          status: KdActionCrStatus;
        };
      const guestEvents = (name: string) => clusterPodEvents('ac', name);
      const argv = '--action compact --param level=high --param files=3';

      // YAML's own integer for an integer parameter: the object is what a user writes.
      await writeFile(manifest, action('compact-now', '{level: high, files: 3}'));
      await k('apply', '-f', manifest);
      await k('wait', '--for=jsonpath={.status.phase}=Succeeded', 'kdact/compact-now', '-n', NS, '--timeout=120s');
      const done = await actionStatus('compact-now');
      expect(done.status).toMatchObject({
        phase: 'Succeeded',
        id: 'compact-1',
        workflowId: clusterWorkflowId(NS, 'ac'),
        targets: 2,
        succeeded: 2,
        failed: 0,
        message: 'action compact-1 succeeded: 2 of 2 succeeded',
      });
      expect(done.status.results?.map((r) => [r.member, r.role, r.exitCode])).toEqual([
        ['ac-worker-0', 'worker', 0],
        ['ac-worker-1', 'worker', 0],
      ]);
      expect(done.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'KdCluster', name: 'ac' })]);
      expect(await guestEvents('ac-worker-0')).toEqual(['--configure', argv]);
      expect(await guestEvents('ac-worker-1')).toEqual(['--configure', argv]);
      expect(await guestEvents('ac-controller-0')).toEqual(['--configure']);
      expect(await k('get', 'kdact', '-n', NS)).toMatch(/^compact-now\s+ac\s+compact\s+Succeeded\s+compact-1\s+/m);
      await eventually('the run told as events', async () => {
        const story = await k('describe', 'kdact', 'compact-now', '-n', NS);
        if (process.env.KDFLOW_TEST_DEBUG) console.log(story);
        return /Normal\s+Started\s.*action compact-1 started on 2 member/.test(story) &&
          /Normal\s+Succeeded\s.*action compact-1 succeeded: 2 of 2 succeeded/.test(story)
          ? true
          : undefined;
      });

      // Keyed by the object's uid: the same request sent again (a shim that restarted before it wrote
      // the id down, under another update id) answers the same operation, and nothing runs again.
      const again = await h.env.client.workflow.getHandle(clusterWorkflowId(NS, 'ac')).executeUpdate(runActionUpdate, {
        args: [{ action: 'compact', params: { level: 'high', files: '3' }, requestId: done.metadata.uid }],
      });
      expect(again).toEqual({ id: 'compact-1', targets: 2 });
      // A new leader leaves the finished KdAction as it is.
      await shim.stop();
      const next = await startShim('shim-act2');
      await eventually('shim-act2 leads', async () => (next.isLeader() ? true : undefined));

      // A bad parameter: Failed, naming the field, the value and what is accepted; nothing ran.
      await writeFile(manifest, action('compact-bad', '{level: extreme, files: 3}'));
      await k('apply', '-f', manifest);
      await k('wait', '--for=jsonpath={.status.phase}=Failed', 'kdact/compact-bad', '-n', NS, '--timeout=60s');
      const bad = (await actionStatus('compact-bad')).status;
      expect(bad.message).toBe('spec.params.level: got "extreme"; expected one of low, high');
      expect(bad.id).toBeUndefined();
      await eventually('the refusal told as a Warning event', async () =>
        /Warning\s+Failed.*spec\.params\.level: got "extreme"/.test(
          await k('describe', 'kdact', 'compact-bad', '-n', NS),
        )
          ? true
          : undefined,
      );
      expect(await guestEvents('ac-worker-0')).toEqual(['--configure', argv]);
      expect(await guestEvents('ac-worker-1')).toEqual(['--configure', argv]);
      expect((await actionStatus('compact-now')).status.id).toBe('compact-1');
      const status = await h.env.client.workflow
        .getHandle(clusterWorkflowId(NS, 'ac'))
        .query(statusQuery, { limit: 1 });
      expect(status.actions?.map((a) => a.id)).toEqual(['compact-1']);

      // The spec is the request: it cannot change once made.
      await expect(
        k('patch', 'kdact', 'compact-now', '-n', NS, '--type=merge', '-p', '{"spec":{"params":{"files":4}}}'),
      ).rejects.toThrow(/a KdAction runs once: its spec cannot change/);

      // A finished KdAction stays (kubectl get kdact is the history) until its cluster is deleted.
      await k('delete', 'kdc', 'ac', '-n', NS, '--timeout=120s');
      await eventually('the KdActions deleted with their cluster', async () =>
        (await k('get', 'kdact', '-n', NS, '-o', 'name')).trim() === '' ? true : undefined,
      );
      await next.stop();
    },
    LONG,
  );

  it('kdflow shim stops on Ctrl-C while it leads: one line, exit 0, the Lease handed over', async () => {
    // The shim processes of the test above stop on SIGTERM the same way.
    for (const child of processes.splice(0)) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    const kubeconfig = path.join(h.home, 'ctrl-c.kubeconfig');
    await writeFile(kubeconfig, (await serviceAccountKubeConfig(kube, 'kdflow-system', 'kdflow-shim')).exportConfig(), {
      mode: 0o600,
    });
    const child = spawn(process.execPath, ['cli/bin.js', 'shim'], {
      env: {
        ...process.env,
        KUBECONFIG: kubeconfig,
        TEMPORAL_ADDRESS: h.env.address,
        KDFLOW_SHIM_ID: 'shim-ctrl-c',
        KDFLOW_SHIM_NAMESPACE: 'kdflow-system',
        KDFLOW_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    processes.push(child);
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const holder = () =>
      k('get', 'lease', 'kdflow-shim', '-n', 'kdflow-system', '-o', 'jsonpath={.spec.holderIdentity}');
    await eventually('shim-ctrl-c holds the lease', async () =>
      (await holder()) === 'shim-ctrl-c' && stderr.includes('"msg":"leading"') ? true : undefined,
    );
    const before = stderr.length;
    child.kill('SIGINT');
    expect(await exited).toEqual({ code: 0, signal: null });
    const after = stderr
      .slice(before)
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg: string; signal?: string; level: number });
    // Its work of the moment (the catalog mirror's first sync) may still log until the signal lands;
    // the stop itself is one line, the last, and nothing after the signal is a warning or an error.
    expect(after.filter((l) => l.msg.includes('stop')).map((l) => [l.msg, l.signal])).toEqual([
      ['kdflow: stopped', 'SIGINT'],
    ]);
    expect(after.at(-1)?.msg).toBe('kdflow: stopped');
    expect(after.filter((l) => l.level >= 40)).toEqual([]);
    expect(await holder()).toBe('');
  });
});
