/**
 * The world a chaos part runs in: a Temporal dev server with SQLite persistence (so it can be
 * stopped and started again), the real worker binary as a child process (so kill -9 is a real
 * crash), a client, and the local runtime's home in a temp directory.
 */
import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../lib/free-port.ts';
import { startDevServer, type DevServer } from '../../lib/temporal-server.ts';
import { clientDataConverter } from '../../lib/codec.ts';
import { LocalRuntime } from '../../runtimes/local.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
const WORKER = path.join(REPO, 'worker', 'main.ts');

export interface ChaosEnvOptions {
  /** Progress lines; silent by default. */
  log?: (line: string) => void;
  /** Keep the temp directory (server log, worker logs, member dirs) after close. */
  keep?: boolean;
}

export class ChaosEnv {
  readonly dir: string;
  readonly home: string;
  readonly dbFile: string;
  readonly port: number;
  readonly uiPort: number;
  readonly runtime: LocalRuntime;
  readonly log: (line: string) => void;
  client!: Client;
  private connection!: Connection;
  private server?: DevServer;
  private worker?: ChildProcess;
  private workerLog?: WriteStream;
  private workerStarts = 0;
  private readonly keep: boolean;

  private constructor(dir: string, port: number, uiPort: number, options: ChaosEnvOptions) {
    this.dir = dir;
    this.home = path.join(dir, 'home');
    this.dbFile = path.join(dir, 'temporal.db');
    this.port = port;
    this.uiPort = uiPort;
    this.runtime = new LocalRuntime(this.home);
    this.log = options.log ?? (() => {});
    this.keep = options.keep ?? false;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(options: ChaosEnvOptions = {}): Promise<ChaosEnv> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-chaos-'));
    const env = new ChaosEnv(dir, await freePort(), await freePort(), options);
    await mkdir(env.home, { recursive: true });
    await env.startServer();
    env.connection = await Connection.connect({ address: env.address });
    env.client = new Client({ connection: env.connection, dataConverter: clientDataConverter() });
    await env.startWorker();
    return env;
  }

  async startServer(): Promise<number> {
    const started = Date.now();
    this.server = await startDevServer({
      port: this.port,
      uiPort: this.uiPort,
      dbFile: this.dbFile,
      logFile: path.join(this.dir, 'temporal.log'),
    });
    if (this.server.reused) throw new Error(`port ${this.port} already had a Temporal server; chaos needs its own`);
    return Date.now() - started;
  }

  /** SIGTERM is an orderly stop; SIGKILL a crash. */
  async stopServer(signal: NodeJS.Signals): Promise<void> {
    await this.server?.stop(signal);
    this.server = undefined;
  }

  /** The real worker binary (`npm run worker`), in its own process. Resolves once it polls. */
  async startWorker(): Promise<number> {
    if (this.worker) throw new Error('a worker is already running');
    const started = Date.now();
    this.workerStarts += 1;
    this.workerLog = createWriteStream(path.join(this.dir, `worker-${this.workerStarts}.log`));
    const child = spawn(process.execPath, [WORKER], {
      cwd: REPO,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: this.address,
        KDFLOW_HOME: this.home,
        KDFLOW_LOG_LEVEL: 'info',
        KDFLOW_RUNTIME: 'local',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.worker = child;
    const log = this.workerLog;
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(
        () => reject(new Error(`the worker did not start within 120s; see ${log.path}`)),
        120_000,
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
        reject(new Error(`the worker exited (${code ?? signal}) before it ran; see ${log.path}`));
      });
    });
    return Date.now() - started;
  }

  /** kill -9: no shutdown, no goodbye to the server; activities it held time out on their heartbeats. */
  async killWorker(): Promise<void> {
    const child = this.worker;
    if (!child) return;
    this.worker = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
    this.workerLog?.end();
  }

  /** Keep-alives and scripts of clusters a failed part left behind: every process whose cwd is in this home, or that carries a member's tag from it. */
  async killMembers(): Promise<number> {
    let killed = 0;
    for (const pid of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(pid)) continue;
      const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
      if (
        !cwd.startsWith(`${this.home}/`) &&
        !environ.includes(`\0KDFLOW_MEMBER_ROOT=${this.home}/`) &&
        !environ.startsWith(`KDFLOW_MEMBER_ROOT=${this.home}/`)
      )
        continue;
      try {
        process.kill(Number(pid), 'SIGKILL');
        killed += 1;
      } catch {
        // Gone already.
      }
    }
    return killed;
  }

  get workerPid(): number | undefined {
    return this.worker?.pid;
  }

  async close(): Promise<void> {
    await this.killWorker();
    await this.killMembers();
    await this.connection?.close().catch(() => {});
    await this.stopServer('SIGTERM').catch(() => {});
    if (!this.keep) await rm(this.dir, { recursive: true, force: true }).catch(() => {});
  }
}
