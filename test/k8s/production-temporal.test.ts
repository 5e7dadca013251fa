/**
 * kdflow on a production Temporal server (lib/temporal-production.ts: the server built from the Go
 * module proxy, on Debian's PostgreSQL, with temporal/production.yaml) with two real worker processes
 * (`node worker/main.ts`, KDFLOW_RUNTIME=kubernetes) against the Kubernetes harness. A grow is held in
 * flight and the worker running it is killed with `kill -9`: the other finishes it. Then the server
 * process is killed and started again mid-grow. Every member's events.log (the script ledger in its
 * pod) shows each event exactly once. The workers and the client encrypt payloads (a codec key,
 * docs/adr/0035-encrypted-payloads.md): after the lifecycle, with `password=hunter2` in a role's env
 * and a canary in the scripts' output, a pg_dump of both databases holds neither. PostgreSQL and the
 * server start once for the file.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  KdClusterSpec,
  TASK_QUEUE,
  clusterStartOptions,
  clusterWorkflowId,
  deleteSignal,
  resizeUpdate,
  type ClusterInput,
  type KdAppSpec,
} from '../../api/index.ts';
import { clientDataConverter, KEYS_ENV } from '../../lib/codec.ts';
import { freePort } from '../../lib/free-port.ts';
import { scriptHistory } from '../../lib/script-history.ts';
import {
  ensureTemporalServer,
  findPostgres,
  POSTGRES_ROLE,
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
import { expectAbsent, foundIn } from '../support/absence.ts';
import { memberStates, settled, testApp, waitForStatus, writePackage } from '../support/cluster.ts';
import {
  eventually,
  kubectl,
  serviceAccountKubeConfig,
  startKubeHarness,
  type KubeHarness,
} from '../../testing/kube/harness.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const NS = 'kdprod';
/** A hang guard for a step on a starved machine, not a time anyone should wait. */
const LONG = 300_000;
/** Workers and client share one payload key; the env value and the canary must reach PostgreSQL only as ciphertext. */
const CODEC_ENV = { [KEYS_ENV]: `prod-1:${randomBytes(32).toString('base64')}` };
const SECRET = 'hunter2';
const CANARY = `canary-${randomBytes(6).toString('hex')}`;
const WORKFLOW_ID = clusterWorkflowId(NS, 'pw');

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
      ...CODEC_ENV,
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

/** The workflow's running activities: id and the pid of the worker that holds it (identities are `<pid>@host …`). */
async function running(handle: WorkflowHandle): Promise<{ activityId: string; pid: number }[]> {
  const { raw } = await handle.describe();
  return (raw.pendingActivities ?? [])
    .map((a) => ({ activityId: a.activityId ?? '', pid: Number(/^(\d+)@/.exec(a.lastWorkerIdentity ?? '')?.[1]) }))
    .filter((a) => a.pid > 0);
}

/** Who completed each of these activities, by the history's ActivityTaskCompleted events. */
async function completedBy(handle: WorkflowHandle, activityIds: string[]): Promise<string[]> {
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, string>();
  for (const event of history.events ?? []) {
    const id = event.activityTaskScheduledEventAttributes?.activityId;
    if (id && activityIds.includes(id)) scheduled.set(String(event.eventId), id);
  }
  return (history.events ?? [])
    .filter((e) => scheduled.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)))
    .map((e) => e.activityTaskCompletedEventAttributes?.identity ?? '');
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
  client = new Client({ connection, dataConverter: clientDataConverter(CODEC_ENV) });
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
      await writePackage(dir, `echo "greeting=$GREETING"\nwhile [ -e ${JSON.stringify(hold)} ]; do sleep 0.2; done`),
      {
        roles: [
          { id: 'controller', cardinality: '1', eventList: ['configure', 'addnodes', 'delnodes'] },
          { id: 'worker', cardinality: '0+', eventList: ['configure'] },
        ],
        // A held script outlasts a server restart on a starved machine; its timeout is not what is tested.
        scriptTimeoutSeconds: 600,
      },
    );
    const spec = KdClusterSpec.parse({
      app: 'testapp',
      roles: [
        { id: 'controller', members: 1 },
        {
          id: 'worker',
          members: 1,
          env: [
            { name: 'password', value: SECRET },
            { name: 'GREETING', value: CANARY },
          ],
        },
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
        const activities = await running(handle);
        return activities.length > 0 ? activities : undefined;
      },
      LONG,
    );
    const victim = workers.find((w) => w.pid === held[0]?.pid);
    const survivor = workers.find((w) => w !== victim);
    expect(victim, `held by ${held[0]?.pid}; workers ${workers.map((w) => w.pid).join(',')}`).toBeDefined();
    if (!victim || !survivor) return;
    const victims = held.filter((a) => a.pid === victim.pid).map((a) => a.activityId);
    await kill9(victim);
    await rm(hold);
    expect(memberStates(await waitForStatus(handle, settled(2), LONG))).toEqual({
      'pw-controller-0': 'configured',
      'pw-worker-0': 'configured',
      'pw-worker-1': 'configured',
      'pw-worker-2': 'configured',
    });
    // The survivor finished what the killed worker had been running.
    const finishers = await completedBy(handle, victims);
    expect(finishers).toHaveLength(victims.length);
    for (const identity of finishers) expect(identity).toMatch(new RegExp(`^${survivor.pid}@`));

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

  it('a pg_dump of both databases holds neither the env value nor the script output, as text, hex or base64', async () => {
    // The lifecycle above recorded the canary (decoded here with the key), so its absence below means encrypted.
    const outputs = (await scriptHistory(client.workflow, WORKFLOW_ID)).map((entry) => entry.stdoutTail ?? '');
    expect(outputs.some((tail) => tail.includes(`greeting=${CANARY}`))).toBe(true);
    const dump = (database: string) => {
      const result = spawnSync(
        path.join(findPostgres(), 'pg_dump'),
        ['-h', db.host, '-p', String(db.port), '-U', POSTGRES_ROLE, '-d', database],
        { env: { ...process.env, PGPASSWORD: db.password }, maxBuffer: 1024 * 1024 * 1024 },
      );
      expect(result.status, `pg_dump ${database}: ${String(result.stderr)}`).toBe(0);
      return result.stdout;
    };
    const [store, visibility] = [dump('temporal'), dump('temporal_visibility')];
    // The scan finds what is there: the workflow id is stored as it is, in each database.
    expect(foundIn(store, WORKFLOW_ID)).toBe(true);
    expect(foundIn(visibility, WORKFLOW_ID)).toBe(true);
    const bytes = Buffer.concat([store, visibility]);
    expectAbsent(bytes, SECRET);
    expectAbsent(bytes, CANARY);
  });

  it("docker-compose.temporal.yml's schema job sets up both databases on an empty PostgreSQL, idempotently", async () => {
    // The job's own script (Compose's $$ is a literal $), with the image's tool, host and schema path mapped to ours.
    const compose = parse(await readFile(path.join(REPO, 'docker-compose.temporal.yml'), 'utf8')) as {
      services: Record<string, { command: string[]; environment: Record<string, string> }>;
    };
    const job = compose.services['temporal-schema'];
    const fresh = { host: '127.0.0.1', port: await freePort(), password: randomBytes(18).toString('base64url') };
    const other = await startPostgres({
      dir: path.join(dir, 'postgresql-compose'),
      port: fresh.port,
      password: fresh.password,
    });
    try {
      const tools = path.join(dir, 'tools');
      await mkdir(tools, { recursive: true });
      await symlink(binaries.sql, path.join(tools, 'temporal-sql-tool'));
      const script = (job?.command[0] ?? '')
        .replaceAll('$$', '$')
        .replace('--ep postgresql -p 5432', `--ep ${fresh.host} -p ${fresh.port}`)
        .replace('/etc/temporal/schema/postgresql/v12', binaries.schemaDir);
      const env = {
        ...process.env,
        SQL_PASSWORD: fresh.password,
        PATH: `${tools}${path.delimiter}${process.env.PATH}`,
      };
      for (const round of ['first', 'second']) {
        const result = spawnSync('/bin/sh', ['-c', script], { env, encoding: 'utf8' });
        expect(result.status, `${round} run: ${result.stdout}${result.stderr}`).toBe(0);
      }
      // Both at the version the server's own set-up reaches (ours finds nothing left to do).
      const version = (database: string) =>
        spawnSync(
          path.join(findPostgres(), 'psql'),
          [
            '-h',
            fresh.host,
            '-p',
            String(fresh.port),
            '-U',
            'temporal',
            '-d',
            database,
            '-tAc',
            'select curr_version from schema_version',
          ],
          { env: { ...process.env, PGPASSWORD: fresh.password }, encoding: 'utf8' },
        ).stdout.trim();
      const composed = [version('temporal'), version('temporal_visibility')];
      await setupTemporalSchemas(binaries, fresh);
      expect([version('temporal'), version('temporal_visibility')]).toEqual(composed);
      expect(composed.every((v) => /^\d+\.\d+$/.test(v) && v !== '0.0')).toBe(true);
    } finally {
      await other.stop();
    }
  });
});
