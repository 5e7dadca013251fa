/**
 * The world a chaos part runs in: the harness's environment (testing/temporal.ts: a dev server with
 * SQLite persistence, so it can be stopped and started again, a client and a temp home) with one
 * real worker binary in a process of its own, so that kill -9 is a real crash. On the Kubernetes
 * runtime the worker runs its members as pods on the harness's control plane (`kube`).
 */
import type { Client } from '@temporalio/client';
import type { LocalRuntime } from '../../runtimes/local.ts';
import { killMemberProcesses } from '../processes.ts';
import { REPO, TemporalEnv, type WorkerBinary } from '../temporal.ts';
import { KubeWorld } from './kube-world.ts';

export { REPO };

export interface ChaosEnvOptions {
  /** Progress lines; silent by default. */
  log?: (line: string) => void;
  /** Keep the temp directory (server log, worker logs, member dirs) after close. */
  keep?: boolean;
  /** Where members live: processes under the temp home (local, the default) or pods on the Kubernetes harness. */
  runtime?: ChaosRuntime;
}

export const RUNTIMES = ['local', 'kubernetes'] as const;
export type ChaosRuntime = (typeof RUNTIMES)[number];

export class ChaosEnv {
  readonly temporal: TemporalEnv;
  readonly log: (line: string) => void;
  // What the parts read of the environment, under the names they use.
  readonly dir: string;
  readonly home: string;
  readonly dbFile: string;
  readonly address: string;
  readonly runtime: LocalRuntime;
  readonly client: Client;
  /** On the Kubernetes runtime: the control plane the worker's members are pods on. */
  readonly kube?: KubeWorld;
  private worker?: WorkerBinary;

  private constructor(temporal: TemporalEnv, options: ChaosEnvOptions, kube?: KubeWorld) {
    this.temporal = temporal;
    if (kube) this.kube = kube;
    this.log = options.log ?? (() => {});
    ({ dir: this.dir, home: this.home, dbFile: this.dbFile, address: this.address } = temporal);
    ({ runtime: this.runtime, client: this.client } = temporal);
  }

  static async start(options: ChaosEnvOptions = {}): Promise<ChaosEnv> {
    const kube = options.runtime === 'kubernetes' ? await KubeWorld.start(options.log ?? (() => {})) : undefined;
    try {
      const temporal = await TemporalEnv.start({
        prefix: 'kdflow-chaos-',
        persist: true,
        keep: options.keep ?? false,
        ...(kube ? { workerEnv: kube.workerEnv() } : {}),
      });
      const env = new ChaosEnv(temporal, options, kube);
      await env.startWorker();
      return env;
    } catch (error) {
      await kube?.stop();
      throw error;
    }
  }

  get workerPid(): number | undefined {
    return this.worker?.pid;
  }

  /** Resolves to the milliseconds the server took to answer. */
  startServer(): Promise<number> {
    return this.temporal.startServer();
  }

  /** SIGTERM is an orderly stop; SIGKILL a crash. */
  stopServer(signal: NodeJS.Signals): Promise<void> {
    return this.temporal.stopServer(signal);
  }

  /** The real worker binary (`npm run worker`); resolves to the milliseconds until it polled. */
  async startWorker(): Promise<number> {
    if (this.worker) throw new Error('a worker is already running');
    const started = Date.now();
    this.worker = await this.temporal.startWorkerBinary();
    return Date.now() - started;
  }

  /** kill -9: activities it held are retried on their heartbeat timeout, or at once by the next worker's takeover. */
  async killWorker(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.kill();
  }

  /** Keep-alives and scripts of clusters a failed part left behind. */
  killMembers(): Promise<number> {
    return killMemberProcesses(this.home);
  }

  async close(): Promise<void> {
    try {
      await this.temporal.close();
    } finally {
      await this.kube?.stop();
    }
  }
}
