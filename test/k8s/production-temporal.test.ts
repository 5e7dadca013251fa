/**
 * kdflow on a production Temporal server (lib/temporal-production.ts: the server built from the Go
 * module proxy, on Debian's PostgreSQL, with temporal/production.yaml) with two real worker processes
 * (`node worker/main.ts`, KDFLOW_RUNTIME=kubernetes) against the Kubernetes harness. A grow is held in
 * flight and the worker running it is killed with `kill -9`: the other finishes it. Then the server
 * process is killed and started again mid-grow. Every member's events.log (the script ledger in its
 * pod) shows each event exactly once. PostgreSQL and the server start once for the file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KdClusterSpec,
  TASK_QUEUE,
  clusterStartOptions,
  deleteSignal,
  resizeUpdate,
  type ClusterInput,
  type KdAppSpec,
} from '../../api/index.ts';
import { freePort } from '../../lib/free-port.ts';
import {
  ensureTemporalServer,
  findPostgres,
  registerKdflowNamespace,
  SERVER_PORT_RANGE,
  serverPorts,
  setupTemporalSchemas,
  startPostgres,
  startTemporalServer,
  type Postgres,
  type ServerBinaries,
  type TemporalServer,
} from '../../lib/temporal-production.ts';
import type { clusterWorkflow } from '../../workflows/cluster.ts';
import { memberStates, settled, testApp, waitForStatus, writePackage } from '../support/cluster.ts';
import { eventually, kubectl, serviceAccountKubeConfig, startKubeHarness, type KubeHarness } from './harness.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const NS = 'kdprod';
/** A hang guard for a step on a starved machine, not a time anyone should wait. */
const LONG = 300_000;

function postgresMissing(): string | undefined {
  try {
    findPostgres();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
const skipK8s = process.env.KDFLOW_SKIP_K8S === '1';
const noPostgres = skipK8s ? undefined : postgresMissing();
if (noPostgres) console.warn(`skipping the production Temporal test: ${noPostgres}`);
const skip = skipK8s || noPostgres !== undefined;

let dir: string;
let kube: KubeHarness;
let binaries: ServerBinaries;
let postgres: Postgres | undefined;
let server: TemporalServer | undefined;
let db: { host: string; port: number; password: string };
let serverPort: number;
let connection: Connection;
let client: Client;
let kubeconfig: string;

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** A frontend port whose whole layout (temporal/production.yaml: nine ports around it) is free, below the ephemeral range. */
async function freeServerPort(): Promise<number> {
  const { min, max } = SERVER_PORT_RANGE;
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * (Math.min(max, 32_000) - 20_000));
    const free = await Promise.all(serverPorts(port).map(portFree));
    if (port >= min && free.every(Boolean)) return port;
  }
}

async function startServer(): Promise<void> {
  server = await startTemporalServer({ binaries, db, port: serverPort, logFile: path.join(dir, 'temporal.log') });
}

async function startProductionTemporal(): Promise<void> {
  binaries = ensureTemporalServer();
  const pgDir = path.join(dir, 'postgresql');
  db = { host: '127.0.0.1', port: await freePort(), password: randomBytes(18).toString('base64url') };
  postgres = await startPostgres({ dir: pgDir, port: db.port, password: db.password });
  await setupTemporalSchemas(binaries, db);
  serverPort = await freeServerPort();
  await startServer();
  if (!server) throw new Error('no server');
  await registerKdflowNamespace(server.address, 'default');
}

interface WorkerProcess {
  name: string;
  child: ChildProcess;
  pid: number;
}
const workers: WorkerProcess[] = [];

/** `npm run worker` as its own process, on the Kubernetes runtime as the worker's ServiceAccount. Resolves once it polls. */
async function startWorker(name: string): Promise<WorkerProcess> {
  const home = path.join(dir, name);
  await mkdir(home, { recursive: true });
  const log = createWriteStream(path.join(dir, `${name}.log`));
  const child = spawn(process.execPath, ['worker/main.ts'], {
    cwd: REPO,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: `127.0.0.1:${serverPort}`,
      KUBECONFIG: kubeconfig,
      KDFLOW_RUNTIME: 'kubernetes',
      KDFLOW_HOME: home,
      KDFLOW_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      seen = (seen + chunk.toString('utf8')).slice(-10_000);
      if (seen.includes('kdflow worker running')) resolve();
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`worker ${name} exited (${code ?? signal}) before it ran; see ${log.path}`)),
    );
  });
  const worker = { name, child, pid: child.pid ?? 0 };
  workers.push(worker);
  return worker;
}

async function kill9(worker: WorkerProcess): Promise<void> {
  const gone = new Promise((resolve) => worker.child.once('exit', resolve));
  worker.child.kill('SIGKILL');
  await gone;
}

/** The script ledger in a member's pod: every argv its startscript got, one line each. */
async function podEvents(member: string): Promise<string[]> {
  const file = path.join(kube.podRoot, NS, member, 'opt/guestconfig/events.log');
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);
}
const fqdn = (member: string) => `${member}.pw.${NS}.svc.cluster.local`;
const addnodes = (...members: string[]) =>
  `--addnodes --nodegroup 1 --role worker --fqdns ${members.map(fqdn).join(',')}`;

/** The pids of the workers that hold the workflow's running activities, by their identities (`<pid>@host …`). */
async function holders(handle: WorkflowHandle): Promise<number[]> {
  const { raw } = await handle.describe();
  return (raw.pendingActivities ?? [])
    .map((a) => Number(/^(\d+)@/.exec(a.lastWorkerIdentity ?? '')?.[1]))
    .filter((pid) => pid > 0);
}

beforeAll(async () => {
  if (skip) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-prod-'));
  // PostgreSQL runs as `postgres` when the tests run as root: it must reach its directory below this one.
  await chmod(dir, 0o711);
  const [harness] = await Promise.all([startKubeHarness(), startProductionTemporal()]);
  kube = harness;
  await kubectl(kube, ['apply', '-f', 'crds/deploy/worker-rbac.yaml']);
  await kubectl(kube, ['create', 'namespace', NS]);
  const core = kube.kc.makeApiClient(CoreV1Api);
  await eventually(
    'the default service account in the test namespace',
    async () => (await core.readNamespacedServiceAccount({ namespace: NS, name: 'default' })).metadata,
  );
  kubeconfig = path.join(dir, 'worker.kubeconfig');
  await writeFile(kubeconfig, (await serviceAccountKubeConfig(kube, 'kdflow-system', 'kdflow-worker')).exportConfig(), {
    mode: 0o600,
  });
  connection = await Connection.connect({ address: `127.0.0.1:${serverPort}` });
  client = new Client({ connection });
  await Promise.all([startWorker('worker-a'), startWorker('worker-b')]);
}, 1_800_000);

afterAll(async () => {
  for (const worker of workers)
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGTERM');
  await Promise.all(
    workers.map((w) =>
      w.child.exitCode === null && w.child.signalCode === null
        ? new Promise((r) => w.child.once('exit', r))
        : undefined,
    ),
  );
  await connection?.close();
  await server?.stop();
  await postgres?.stop();
  await kube?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, LONG);

describe.skipIf(skip)('kdflow on a production Temporal server (PostgreSQL) with two workers', () => {
  it('a grow survives a worker killed with kill -9 and a server restart: converged, nothing lost or run twice', async () => {
    // The grow's new members hold their --configure while the file `hold` exists: the kills land while they run.
    const gates = path.join(dir, 'gates');
    await mkdir(gates);
    const hold = path.join(gates, 'hold');
    const app: KdAppSpec = testApp(
      await writePackage(dir, `while [ -e ${JSON.stringify(hold)} ]; do sleep 0.2; done`),
      {
        roles: [
          { id: 'controller', cardinality: '1', eventList: ['configure', 'addnodes', 'delnodes'] },
          { id: 'worker', cardinality: '0+', eventList: ['configure'] },
        ],
      },
    );
    const spec = KdClusterSpec.parse({
      app: 'testapp',
      roles: [
        { id: 'controller', members: 1 },
        { id: 'worker', members: 1 },
      ],
    });
    const input: ClusterInput = { namespace: NS, name: 'pw', appName: 'testapp', app, spec };
    const handle = await client.workflow.start<typeof clusterWorkflow>('clusterWorkflow', {
      taskQueue: TASK_QUEUE,
      args: [input],
      ...clusterStartOptions(input),
    });
    expect(memberStates(await waitForStatus(handle, settled(1), LONG))).toEqual({
      'pw-controller-0': 'configured',
      'pw-worker-0': 'configured',
    });

    // SQL visibility on PostgreSQL answers on kdflow's search attributes.
    await eventually(
      'the cluster found by KdCluster and KdNamespace',
      async () => {
        const found = [];
        for await (const w of client.workflow.list({ query: `KdCluster = "pw" AND KdNamespace = "${NS}"` }))
          found.push(w);
        return found.length === 1 ? found : undefined;
      },
      LONG,
    );

    // 1. Grow 1 → 3 workers, held in flight; kill -9 the worker running its scripts.
    await writeFile(hold, '');
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 3 } }] });
    await eventually(
      'both new members running --configure',
      async () =>
        (await podEvents('pw-worker-1')).length + (await podEvents('pw-worker-2')).length === 2 ? true : undefined,
      LONG,
    );
    const held = await eventually(
      'the running scripts held by a worker',
      async () => {
        const pids = await holders(handle);
        return pids.length > 0 ? pids : undefined;
      },
      LONG,
    );
    const victim = workers.find((w) => held.includes(w.pid));
    const survivor = workers.find((w) => w !== victim);
    expect(victim, `held by ${held.join(',')}; workers ${workers.map((w) => w.pid).join(',')}`).toBeDefined();
    if (!victim || !survivor) return;
    await kill9(victim);
    await rm(hold);
    expect(memberStates(await waitForStatus(handle, settled(2), LONG))).toEqual({
      'pw-controller-0': 'configured',
      'pw-worker-0': 'configured',
      'pw-worker-1': 'configured',
      'pw-worker-2': 'configured',
    });
    // Only the survivor is left to have finished it.
    expect(survivor.child.exitCode).toBeNull();

    // 2. Grow 3 → 4, held in flight; the server process is killed and started again meanwhile.
    await writeFile(hold, '');
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 4 } }] });
    await eventually(
      'the new member running --configure',
      async () => ((await podEvents('pw-worker-3')).length === 1 ? true : undefined),
      LONG,
    );
    await server?.stop('SIGKILL');
    await startServer();
    await rm(hold);
    expect(memberStates(await waitForStatus(handle, settled(3), LONG))).toMatchObject({
      'pw-worker-3': 'configured',
    });

    // Nothing run twice, nothing lost: each member's ledger has each event once, in order.
    expect(await podEvents('pw-controller-0')).toEqual([
      '--configure',
      addnodes('pw-worker-1', 'pw-worker-2'),
      addnodes('pw-worker-3'),
    ]);
    for (const member of ['pw-worker-0', 'pw-worker-1', 'pw-worker-2', 'pw-worker-3'])
      expect(await podEvents(member), member).toEqual(['--configure']);

    await handle.signal(deleteSignal);
    expect((await handle.result()).phase).toBe('deleted');
  });
});
