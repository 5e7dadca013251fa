/**
 * The Temporal CLI, built from source (no binary download works here) and cached by version outside
 * the repo, and its dev server on 127.0.0.1 with SQLite persistence.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_KEYS } from '../api/search-attributes.ts';
import { runWithProgress } from './build-progress.ts';
import { kdflowCacheDir } from './config.ts';
import { openPrivateLog } from './logger.ts';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';

export function toolCache(tool: string, version: string): string {
  return path.join(kdflowCacheDir(), `${tool}-${version}`);
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** KDFLOW_TEMPORAL_BIN, then the version cache, then `temporal` on PATH, else build it. */
export function ensureTemporalCli(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): string {
  const fromEnv = process.env.KDFLOW_TEMPORAL_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`KDFLOW_TEMPORAL_BIN=${fromEnv} does not exist`);
    return fromEnv;
  }
  const cached = path.join(toolCache('temporal', TEMPORAL_CLI_VERSION), 'bin', 'temporal');
  if (existsSync(cached)) return cached;
  const found = onPath('temporal');
  if (found) return found;
  if (!onPath('go'))
    throw new Error(
      'the Temporal CLI is not built yet and Go is not installed: install Go 1.24+ or set KDFLOW_TEMPORAL_BIN',
    );
  log(
    `[kdflow] building the Temporal CLI ${TEMPORAL_CLI_VERSION} from source into ${path.dirname(cached)} (first time only; takes several minutes)…`,
  );
  mkdirSync(path.dirname(cached), { recursive: true });
  // -v names each package as it compiles: the log has them all, the terminal one progress line.
  const logFile = path.join(path.dirname(path.dirname(cached)), 'build.log');
  const status = runWithProgress({
    label: `the Temporal CLI ${TEMPORAL_CLI_VERSION}`,
    command: 'go',
    args: ['install', '-v', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`],
    env: { ...process.env, GOBIN: path.dirname(cached), CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
    logFile,
    unit: 'packages',
  });
  if (status !== 0 || !existsSync(cached))
    throw new Error(`building the Temporal CLI failed (go install exited ${status}); see ${logFile}`);
  log(`[kdflow] built ${cached}`);
  return cached;
}

/**
 * Dev server settings kdflow always passes (docs/adr/0012-benchmarks.md). SQLite in WAL mode with
 * synchronous=NORMAL: a commit stops waiting for the fsyncs of a rollback journal, which on a busy
 * disk had capped the server at a few dozen writes a second; a crash of the server loses nothing,
 * a power cut at most the last commits. Eager activity dispatch: an activity goes to the worker that
 * scheduled it in the reply to its workflow task, without a trip through the task queue.
 */
export const DEV_SERVER_TUNING = [
  '--sqlite-pragma',
  'journal_mode=wal',
  '--sqlite-pragma',
  'synchronous=normal',
  '--dynamic-config-value',
  'system.enableActivityEagerExecution=true',
];

export interface DevServerOptions {
  port?: number;
  uiPort?: number;
  /** SQLite file; without one the server keeps its state in memory (tests that never restart it). */
  dbFile?: string;
  logFile: string;
  /** No Web UI (tests that do not look at it start faster). */
  headless?: boolean;
  /** More `temporal server start-dev` arguments, after kdflow's own. */
  extraArgs?: string[];
}

export interface DevServer {
  address: string;
  uiUrl: string;
  /** True when an already running server was reused. */
  reused: boolean;
  /** The server process, when this call started it. */
  pid?: number;
  /** SIGTERM by default; SIGKILL simulates a crash (chaos tests). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    // `on`, not `once`: a reset after connect must not become an uncaught error.
    socket.on('error', () => resolve(false));
  });
}

export async function answersAsTemporal(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 3000 });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

/** Start `temporal server start-dev`, or reuse a Temporal already answering on the port. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? 8233;
  const address = `127.0.0.1:${port}`;
  const uiUrl = `http://127.0.0.1:${uiPort}`;
  if (await portOpen(port)) {
    if (await answersAsTemporal(address)) return { address, uiUrl, reused: true, stop: async () => {} };
    throw new Error(
      `port ${port} is taken by something that is not a Temporal server; stop it or set TEMPORAL_ADDRESS to another port`,
    );
  }
  const bin = ensureTemporalCli();
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn'];
  args.push(...(options.headless ? ['--headless'] : ['--ui-port', String(uiPort)]));
  if (options.dbFile) {
    mkdirSync(path.dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  for (const key of SEARCH_ATTRIBUTE_KEYS)
    args.push('--search-attribute', `${key.name}=${key.type === 'INT' ? 'Int' : 'Keyword'}`);
  args.push(...DEV_SERVER_TUNING, ...(options.extraArgs ?? []));
  const log = openPrivateLog(options.logFile);
  const child = spawn(bin, args, { stdio: ['ignore', log, log], detached: false });
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  const deadline = Date.now() + 60_000;
  // A TCP probe first: a gRPC connect to a port nobody listens on yet waits out its reconnect backoff.
  while (!((await portOpen(port)) && (await answersAsTemporal(address)))) {
    if (exited !== undefined) throw new Error(`the Temporal dev server exited with ${exited}; see ${options.logFile}`);
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`the Temporal dev server did not answer on ${address} within 60s; see ${options.logFile}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // The file holds every workflow's history, role env values included: only its owner may read it.
  const db = options.dbFile;
  for (const file of db ? [db, `${db}-wal`, `${db}-shm`, `${db}-journal`] : []) {
    if (existsSync(file)) chmodSync(file, 0o600);
  }
  return {
    address,
    uiUrl,
    reused: false,
    ...(child.pid ? { pid: child.pid } : {}),
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (exited !== undefined) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await gone;
    },
  };
}
