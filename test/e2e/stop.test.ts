/**
 * Ctrl-C on kdflow's long-running processes, as a user presses it: SIGINT to `npm start`
 * (scripts/start.ts), `npm run worker` (worker/main.ts) and `kdflow shim`, while each is starting,
 * running and (the worker) draining a script. Each must end with one line and exit 0, leaving no dev
 * server behind. The running shim against a real API server is in test/k8s/shim.test.ts.
 */
import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KdClusterSpec, TASK_QUEUE, clusterStartOptions, type ClusterInput } from '../../api/index.ts';
import { freePort } from '../../lib/free-port.ts';
import { startDevServer, type DevServer } from '../../lib/temporal-server.ts';
import { testApp, writePackage } from '../support/cluster.ts';
import { killMemberProcesses } from '../../testing/processes.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** A hang guard for each wait, not a claim about speed. */
const GUARD_MS = 150_000;

interface Watched {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when the output (stdout and stderr) matches; rejects at the guard or when the process ends first. */
  waitFor(pattern: RegExp): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[], env: Record<string, string>): Watched {
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  const changed = () => waiters.forEach((w) => w());
  child.stdout?.on('data', (d) => ((stdout += d), changed()));
  child.stderr?.on('data', (d) => ((stderr += d), changed()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => (resolve({ code, signal }), changed())),
  );
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor: (pattern) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`no ${pattern} within the guard; stdout: ${stdout}\nstderr: ${stderr}`)),
          GUARD_MS,
        );
        const check = () => {
          if (pattern.test(stdout) || pattern.test(stderr)) finish();
          else if (done) finish(new Error(`the process ended before ${pattern}; stdout: ${stdout}\nstderr: ${stderr}`));
        };
        const finish = (error?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve();
        };
        waiters.add(check);
        check();
      }),
  };
}

/** SIGINT, as Ctrl-C sends it; SIGKILL at the guard so a hung process cannot outlive the test. */
async function interrupt(p: Watched): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  p.child.kill('SIGINT');
  const guard = setTimeout(() => p.child.kill('SIGKILL'), GUARD_MS);
  try {
    return await p.exited;
  } finally {
    clearTimeout(guard);
  }
}

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { msg: string; level: number; signal?: string });
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });

/** A TCP server that accepts and never answers: a connect to Temporal that hangs, so the process is "starting". */
async function silentServer(): Promise<{ address: string; connected: Promise<void>; close(): void }> {
  const sockets: net.Socket[] = [];
  let connected: () => void = () => {};
  const server = net.createServer((socket) => (sockets.push(socket), connected()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connected: new Promise<void>((resolve) => (connected = resolve)),
    close: () => (sockets.forEach((s) => s.destroy()), server.close()),
  };
}

const homes: string[] = [];
const newHome = async () => {
  const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-stop-'));
  homes.push(home);
  return home;
};
afterAll(async () => {
  for (const home of homes) await killMemberProcesses(home);
});

describe('Ctrl-C on npm start', () => {
  async function npmStart(): Promise<{ p: Watched; port: number; uiPort: number }> {
    const [port, uiPort] = [await freePort(), await freePort()];
    const home = await newHome();
    return {
      p: start(['scripts/start.ts'], {
        KDFLOW_HOME: home,
        TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
        KDFLOW_UI_PORT: String(uiPort),
      }),
      port,
      uiPort,
    };
  }

  it.each([
    ['while the dev server starts', /\[kdflow\] home: /],
    ['while the demo runs (the worker has work in flight)', /\[kdflow\] applying the example catalog/],
    ['once it is running', /\[kdflow\] running; Ctrl-C stops/],
  ])('%s: one line, exit 0, the dev server stopped', async (_when, moment) => {
    const { p, port } = await npmStart();
    await p.waitFor(moment);
    const { code, signal } = await interrupt(p);
    expect({ code, signal, stderr: p.stderr() }).toEqual({ code: 0, signal: null, stderr: 'kdflow: stopped\n' });
    expect(p.stdout()).not.toMatch(/Error|at .*\.(ts|js):\d+/);
    expect(await listening(port)).toBe(false);
  });
});

describe('Ctrl-C on npm run worker', () => {
  let server: DevServer;
  let client: Client;
  beforeAll(async () => {
    const dir = await newHome();
    server = await startDevServer({
      port: await freePort(),
      uiPort: await freePort(),
      dbFile: path.join(dir, 'temporal.db'),
      logFile: path.join(dir, 'temporal.log'),
    });
    client = new Client({ connection: await Connection.connect({ address: server.address }) });
  });
  afterAll(async () => {
    await client?.connection.close();
    await server?.stop();
  });

  const worker = (home: string, address: string) =>
    start(['worker/main.ts'], { KDFLOW_HOME: home, TEMPORAL_ADDRESS: address, KDFLOW_LOG_LEVEL: 'info' });
  /** The lines after the moment of the signal: exactly one, which says it stopped. */
  const expectOneStopLine = (after: string) =>
    expect(
      jsonLines(after).map((l) => [l.msg, l.signal]),
      after,
    ).toEqual([['kdflow: stopped', 'SIGINT']]);

  it('while it connects: one line, exit 0', async () => {
    const silent = await silentServer();
    try {
      const p = worker(await newHome(), silent.address);
      await silent.connected;
      const before = p.stderr().length;
      expect(await interrupt(p)).toEqual({ code: 0, signal: null });
      expectOneStopLine(p.stderr().slice(before));
    } finally {
      silent.close();
    }
  });

  it('while it runs: one line, exit 0', async () => {
    const p = worker(await newHome(), server.address);
    await p.waitFor(/"msg":"kdflow worker running"/);
    const before = p.stderr().length;
    expect(await interrupt(p)).toEqual({ code: 0, signal: null });
    expectOneStopLine(p.stderr().slice(before));
  });

  it('while a script runs (the worker drains): one line, exit 0', async () => {
    const home = await newHome();
    const p = worker(home, server.address);
    await p.waitFor(/"msg":"kdflow worker running"/);
    const app = testApp(await writePackage(path.join(home, 'pkg'), 'sleep 600'));
    const spec = KdClusterSpec.parse({ app: 'testapp', roles: [{ id: 'controller', members: 1 }] });
    const input: ClusterInput = { namespace: 'default', name: 'draining', appName: 'testapp', app, spec };
    await client.workflow.start('clusterWorkflow', {
      taskQueue: TASK_QUEUE,
      args: [input],
      ...clusterStartOptions(input),
    });
    // The startscript writes its argv first, then sleeps: once the line is there, the script is running.
    const events = path.join(home, 'members/default/draining/draining-controller-0/opt/guestconfig/events.log');
    await new Promise<void>((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error(`the script never started; worker: ${p.stderr()}`)), GUARD_MS);
      const poll = async () =>
        (await readFile(events, 'utf8').catch(() => '')).includes('--configure')
          ? (clearTimeout(guard), resolve())
          : setTimeout(() => void poll(), 100);
      void poll();
    });
    const before = p.stderr().length;
    expect(await interrupt(p)).toEqual({ code: 0, signal: null });
    expectOneStopLine(p.stderr().slice(before));
    await killMemberProcesses(home);
  });
});

describe('Ctrl-C on kdflow shim', () => {
  it('while it connects to Temporal: one line, exit 0', async () => {
    const home = await newHome();
    // Nothing is asked of the API server before Temporal answers; the file only has to parse.
    const kubeconfig = path.join(home, 'kubeconfig');
    await writeFile(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters: [{ name: c, cluster: { server: "https://127.0.0.1:1" } }]\nusers: [{ name: u, user: {} }]\ncontexts: [{ name: x, context: { cluster: c, user: u } }]\ncurrent-context: x\n',
      { mode: 0o600 },
    );
    const silent = await silentServer();
    try {
      const p = start(['cli/bin.js', 'shim'], {
        KDFLOW_HOME: home,
        KUBECONFIG: kubeconfig,
        TEMPORAL_ADDRESS: silent.address,
        KDFLOW_LOG_LEVEL: 'info',
      });
      await silent.connected;
      const before = p.stderr().length;
      expect(await interrupt(p)).toEqual({ code: 0, signal: null });
      expect(jsonLines(p.stderr().slice(before)).map((l) => [l.msg, l.signal])).toEqual([
        ['kdflow: stopped', 'SIGINT'],
      ]);
      expect(p.stdout()).toBe('');
    } finally {
      silent.close();
    }
  });
});
