/**
 * The Kubernetes path as the README writes it, on the real harness: the CRDs from `kubectl apply -f
 * crds/`, a dev server, `KDFLOW_RUNTIME=kubernetes npm run worker` and `npm run shim` as processes
 * with the harness's admin kubeconfig and nothing created beforehand (no kdflow-system namespace),
 * then the README's kubectl lines run as written. Also: a shim told to use a namespace that does not
 * exist says so once, naming the command that creates it; and the examples applied as they are
 * (package `file://./appconfig`) are refused with Valid=False naming the field, and an Event.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../lib/free-port.ts';
import { startDevServer, type DevServer } from '../../lib/temporal-server.ts';
import { eventually, kubectl, startKubeHarness, type KubeHarness } from '../../testing/kube/harness.ts';

const skip = process.env.KDFLOW_SKIP_K8S === '1';
const REPO = path.resolve(import.meta.dirname, '..', '..');
const LONG = 600_000;
let kube: KubeHarness;
let server: DevServer;
let home: string;
const k = (...args: string[]) => kubectl(kube, args);

interface Proc {
  child: ChildProcess;
  output: () => string;
}
const procs: Proc[] = [];

/** `npm run SCRIPT` in a process group of its own, as a user runs it in a terminal. */
function npmRun(script: string, env: NodeJS.ProcessEnv): Proc {
  const child = spawn('npm', ['run', '--silent', script], {
    cwd: REPO,
    env: {
      ...process.env,
      KUBECONFIG: kube.kubeconfig,
      TEMPORAL_ADDRESS: server.address,
      KDFLOW_HOME: home,
      KDFLOW_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const proc = { child, output: () => out };
  procs.push(proc);
  return proc;
}

async function stop(proc: Proc): Promise<void> {
  const { child } = proc;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid, 'SIGTERM');
  await exited;
}

const logLines = (proc: Proc) =>
  proc
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; level: number; lease?: string });

/** The README's lines that drive kubectl (the block after "as the README writes it" in the Kubernetes section). */
function readmeKubectlLines(): string[] {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const block = /<!-- kubectl-example -->\n```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('README.md has no <!-- kubectl-example --> block');
  return block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => /^(kubectl|sed) /.test(l));
}

function sh(line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', line], {
      cwd: REPO,
      env: { ...process.env, KUBECONFIG: kube.kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${line} exited ${code}: ${out}`))));
  });
}

beforeAll(async () => {
  if (skip) return;
  kube = await startKubeHarness();
  home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-readme-'));
  server = await startDevServer({
    port: await freePort(),
    uiPort: await freePort(),
    dbFile: path.join(home, 'temporal.db'),
    logFile: path.join(home, 'temporal.log'),
  });
}, 900_000);

afterAll(async () => {
  for (const proc of procs) await stop(proc).catch(() => {});
  await server?.stop();
  await kube?.stop();
});

describe.skipIf(skip)('the Kubernetes path as the README writes it', () => {
  it('a shim whose Lease namespace does not exist says so once, with the command that creates it', async () => {
    const shim = npmRun('shim', {
      KDFLOW_SHIM_NAMESPACE: 'kdflow-system',
      KDFLOW_SHIM_ID: 'shim-missing-ns',
      KDFLOW_LOG_LEVEL: 'debug',
    });
    const asked = await eventually('the shim names the missing namespace', async () =>
      logLines(shim).find((l) => l.msg.includes('does not exist')),
    );
    expect(asked.msg).toContain('kubectl create namespace kdflow-system');
    // Three more renewals fail the same way (said at debug level only): no flood.
    await eventually('three more renewals', async () =>
      logLines(shim).filter((l) => l.msg === 'lease renewal failed again').length >= 3 ? true : undefined,
    );
    expect(logLines(shim).filter((l) => l.level >= 40)).toEqual([asked]);
    await stop(shim);
  });

  it(
    'CRDs, worker and shim as written: the shim leads in its own namespace and the kubectl example configures',
    async () => {
      await k('apply', '-f', 'crds/');
      await k('wait', '--for=condition=Established', 'crd/kdapps.kdflow.dev', 'crd/kdclusters.kdflow.dev');
      const worker = npmRun('worker', { KDFLOW_RUNTIME: 'kubernetes' });
      const shim = npmRun('shim', { KDFLOW_SHIM_ID: 'shim-readme' });
      await eventually('the worker runs', async () =>
        logLines(worker).some((l) => l.msg === 'kdflow worker running') ? true : undefined,
      );
      const leading = await eventually(
        'the shim leads',
        async () => logLines(shim).find((l) => l.msg === 'leading'),
        120_000,
      );
      // The kubeconfig context's namespace: one that exists.
      expect(leading.lease).toBe('default/kdflow-shim');
      expect(logLines(shim).filter((l) => /lease|does not exist/.test(l.msg))).toEqual([]);

      for (const line of readmeKubectlLines()) await sh(line);
      expect(await k('get', 'kdc', 'centos-demo', '-o', 'jsonpath={.status.state}')).toBe('configured');
      expect(await k('get', 'kdc', 'centos-demo')).toMatch(/^centos-demo\s+centos7x\s+1\.0\s+configured\s+2\/2\s+/m);
    },
    LONG,
  );

  it(
    'the examples applied as they are (a relative file:// package) are refused: Valid=False naming the field, and Events',
    async () => {
      await k('create', 'namespace', 'as-is');
      await k('apply', '-n', 'as-is', '-f', 'crds/examples/centos/');
      const valid = await eventually(
        'the cluster is refused',
        async () => {
          const cr = JSON.parse(await k('get', 'kdc', 'centos-demo', '-n', 'as-is', '-o', 'json')) as {
            status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
          };
          return cr.status?.conditions?.find((c) => c.type === 'Valid');
        },
        120_000,
      );
      expect(valid).toMatchObject({ status: 'False', reason: 'UnfetchablePackage' });
      expect(valid.message).toContain(
        'KdApp centos7x: spec.defaultConfigPackage.packageURL: got "file://./appconfig", a relative file:// URL',
      );
      const events = await eventually('the Events', async () => {
        const out = await k(
          'get',
          'events',
          '-n',
          'as-is',
          '-o',
          'jsonpath={range .items[*]}{.involvedObject.kind}/{.involvedObject.name} {.reason}{"\\n"}{end}',
        );
        return out.includes('KdApp/centos7x') && out.includes('KdCluster/centos-demo') ? out : undefined;
      });
      expect(events).toContain('KdApp/centos7x UnfetchablePackage');
      expect(events).toContain('KdCluster/centos-demo UnfetchablePackage');
      // No workflow was started for it: nothing to fail in config error later.
      expect(await k('get', 'pods', '-n', 'as-is', '-o', 'name')).toBe('');
    },
    LONG,
  );
});
