/**
 * The one harness that tests, the chaos suite and the bench start from (like controller-runtime's
 * envtest): a Temporal dev server of its own (the CLI built from source, free ports; in memory, or
 * SQLite in a temp directory so that it can be stopped and started again), a client, a temporary KDFLOW_HOME with the
 * local runtime, and workers: in this process, or the real worker binary in a process of its own so
 * that kill -9 is a real crash. `close()` ends whatever members left running under that home.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { clientDataConverter } from '../lib/codec.ts';
import { freePort } from '../lib/free-port.ts';
import { startDevServer, type DevServer } from '../lib/temporal-server.ts';
import { LocalRuntime } from '../runtimes/local.ts';
import type { Runtime } from '../runtimes/runtime.ts';
import { createKdflowWorker, type KdflowWorkerOptions } from '../worker/worker.ts';
import { killMemberProcesses } from './processes.ts';

export const REPO = path.resolve(import.meta.dirname, '..');
const WORKER_BINARY = path.join(REPO, 'worker', 'main.ts');
const WORKER_START_LIMIT_MS = 120_000;
const START_ATTEMPTS = 3;

export interface TemporalEnvOptions {
  /** The temp directory's name starts with this. */
  prefix?: string;
  /** More `temporal server start-dev` arguments, to try a server setting. */
  serverArgs?: string[];
  /** State in a SQLite file (`dbFile`), so the server can be stopped and started again; in memory otherwise. */
  persist?: boolean;
  /** The Web UI on `uiPort`; none otherwise. */
  ui?: boolean;
  /** Keep the temp directory (server log, worker logs, member files) after close. */
  keep?: boolean;
  /** More environment for the worker binary, such as KDFLOW_RUNTIME=kubernetes and a KUBECONFIG (local runtime otherwise). */
  workerEnv?: Record<string, string>;
}

/** A worker in this process; `stop()` shuts it down and waits for it. */
export interface InProcessWorker {
  worker: Worker;
  stop(): Promise<void>;
}

/** The real worker binary (`npm run worker`) in a process of its own. */
export interface WorkerBinary {
  child: ChildProcess;
  pid: number;
  /** Its stderr (pino's lines). */
  logFile: string;
  /** kill -9: no shutdown, no goodbye to the server; resolves once it is gone. */
  kill(): Promise<void>;
}

export class TemporalEnv {
  readonly dir: string;
  readonly home: string;
  /** With `persist`: the server's SQLite file. */
  readonly dbFile: string;
  readonly port: number;
  readonly uiPort: number;
  readonly namespace = 'default';
  readonly runtime: LocalRuntime;
  client!: Client;
  connection!: Connection;
  nativeConnection!: NativeConnection;
  private server?: DevServer;
  private readonly options: TemporalEnvOptions;
  private readonly binaries = new Set<WorkerBinary>();
  private binaryStarts = 0;

  private constructor(dir: string, port: number, uiPort: number, options: TemporalEnvOptions) {
    this.dir = dir;
    this.home = path.join(dir, 'home');
    this.dbFile = path.join(dir, 'temporal.db');
    this.port = port;
    this.uiPort = uiPort;
    this.runtime = new LocalRuntime(this.home);
    this.options = options;
  }

  static async start(options: TemporalEnvOptions = {}): Promise<TemporalEnv> {
    for (let attempt = 1; ; attempt++) {
      const dir = await mkdtemp(path.join(os.tmpdir(), options.prefix ?? 'kdflow-test-'));
      const env = new TemporalEnv(dir, await freePort(), await freePort(), options);
      await mkdir(env.home, { recursive: true });
      try {
        await env.startServer();
      } catch (error) {
        // Another process can bind the free port before the server does (a busy machine runs many suites): new ports.
        if (attempt >= START_ATTEMPTS) throw error;
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      env.connection = await Connection.connect({ address: env.address });
      env.client = new Client({
        connection: env.connection,
        namespace: env.namespace,
        dataConverter: clientDataConverter(),
      });
      env.nativeConnection = await NativeConnection.connect({ address: env.address });
      return env;
    }
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The dev server's process, while it runs. */
  get serverPid(): number | undefined {
    return this.server?.pid;
  }

  /** Starts the dev server (again after stopServer: with `persist`, on the same SQLite file); resolves to the milliseconds it took. */
  async startServer(): Promise<number> {
    const started = Date.now();
    this.server = await startDevServer({
      port: this.port,
      uiPort: this.uiPort,
      ...(this.options.persist ? { dbFile: this.dbFile } : {}),
      logFile: path.join(this.dir, 'temporal.log'),
      headless: !this.options.ui,
      extraArgs: this.options.serverArgs ?? [],
    });
    if (this.server.reused)
      throw new Error(`port ${this.port} already had a Temporal server; the harness needs its own`);
    return Date.now() - started;
  }

  /** SIGTERM is an orderly stop; SIGKILL a crash. */
  async stopServer(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.server?.stop(signal);
    this.server = undefined;
  }

  /** A kdflow worker in this process on `taskQueue` (default `kdflow`), with this home's local runtime unless another is given. */
  async startWorker(
    options: {
      runtime?: Runtime;
      taskQueue?: string;
      tuning?: KdflowWorkerOptions['tuning'];
      logger?: Logger;
      wrapActivities?: KdflowWorkerOptions['wrapActivities'];
    } = {},
  ): Promise<InProcessWorker> {
    const worker = await createKdflowWorker({
      connection: this.nativeConnection,
      namespace: this.namespace,
      runtime: options.runtime ?? this.runtime,
      home: this.home,
      logger: options.logger ?? pino({ level: process.env.KDFLOW_TEST_LOG ?? 'silent' }),
      taskQueue: options.taskQueue ?? 'kdflow',
      ...(options.tuning ? { tuning: options.tuning } : {}),
      ...(options.wrapActivities ? { wrapActivities: options.wrapActivities } : {}),
    });
    const running = worker.run();
    return {
      worker,
      async stop() {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
      },
    };
  }

  /** The real worker binary on this server and home; resolves once it polls. */
  async startWorkerBinary(): Promise<WorkerBinary> {
    this.binaryStarts += 1;
    const logFile = path.join(this.dir, `worker-${this.binaryStarts}.log`);
    const log = createWriteStream(logFile);
    const child = spawn(process.execPath, [WORKER_BINARY], {
      cwd: REPO,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: this.address,
        KDFLOW_HOME: this.home,
        KDFLOW_LOG_LEVEL: 'info',
        KDFLOW_RUNTIME: 'local',
        ...this.options.workerEnv,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const binary: WorkerBinary = {
      child,
      pid: child.pid as number,
      logFile,
      kill: async () => {
        this.binaries.delete(binary);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
        log.end();
      },
    };
    this.binaries.add(binary);
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(
        () => reject(new Error(`the worker did not start within ${WORKER_START_LIMIT_MS / 1000}s; see ${logFile}`)),
        WORKER_START_LIMIT_MS,
      );
      child.stderr?.on('data', (chunk: Buffer) => {
        log.write(chunk);
        buffered = (buffered + chunk.toString('utf8')).slice(-10_000);
        if (buffered.includes('kdflow worker running')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the worker exited (${code ?? signal}) before it ran; see ${logFile}`));
      });
    });
    return binary;
  }

  /** Kills the worker binaries still running, ends what members left running, closes the connections and stops the server. */
  async close(): Promise<void> {
    for (const binary of [...this.binaries]) await binary.kill();
    await killMemberProcesses(this.home);
    await this.nativeConnection?.close().catch(() => {});
    await this.connection?.close().catch(() => {});
    // A server in memory has nothing to write at exit.
    await this.stopServer(this.options.persist ? 'SIGTERM' : 'SIGKILL').catch(() => {});
    if (!this.options.keep) await rm(this.dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
  }
}
