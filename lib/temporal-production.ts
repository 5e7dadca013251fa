/**
 * A production Temporal server on this machine: the server and its SQL schema tool built from the Go
 * module proxy (cached by version, like the CLI), PostgreSQL from Debian's packages running as its own
 * user, the schemas, the server with temporal/production.yaml (the file docker-compose.temporal.yml
 * mounts too), and kdflow's namespace and search attributes. docs/adr/0030-production-temporal-here.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { SEARCH_ATTRIBUTE_KEYS } from '../api/search-attributes.ts';
import { runWithProgress } from './build-progress.ts';
import { openPrivateLog } from './logger.ts';
import { TEMPORAL_CLI_VERSION, answersAsTemporal, portOpen, toolCache } from './temporal-server.ts';

/** The same server version as the dev server in the pinned CLI (`temporal server start-dev`). */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
const MODULE = 'go.temporal.io/server';
/** temporal/production.yaml and its dynamic config, kept in the repo. */
export const SERVER_CONFIG_DIR = fileURLToPath(new URL('../temporal', import.meta.url));
/** The PostgreSQL role the server connects as (a superuser of its own database cluster). */
export const POSTGRES_ROLE = 'temporal';
const DATABASES = [
  { name: 'temporal', schema: 'temporal' },
  { name: 'temporal_visibility', schema: 'visibility' },
] as const;

type Log = (line: string) => void;
const stderrLog: Log = (line) => process.stderr.write(`${line}\n`);

export interface ServerBinaries {
  /** `go.temporal.io/server/cmd/server`. */
  server: string;
  /** `go.temporal.io/server/cmd/tools/sql`, the temporal-sql-tool. */
  sql: string;
  /** The module's schema/postgresql/v12, copied beside the binaries. */
  schemaDir: string;
}

/** The server and the SQL tool from the cache, else built once (one progress line, the log in a file). */
export function ensureTemporalServer(log: Log = stderrLog): ServerBinaries {
  const root = toolCache('temporal-server', TEMPORAL_SERVER_VERSION);
  const bin = path.join(root, 'bin');
  const found: ServerBinaries = {
    server: path.join(bin, 'server'),
    sql: path.join(bin, 'sql'),
    schemaDir: path.join(root, 'schema', 'postgresql', 'v12'),
  };
  if (existsSync(found.server) && existsSync(found.sql) && existsSync(found.schemaDir)) return found;
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0)
    throw new Error(
      'the Temporal server is not built yet and Go is not installed: install Go 1.24+ (apt-get install golang-go)',
    );
  log(
    `[kdflow] building the Temporal server ${TEMPORAL_SERVER_VERSION} and its SQL tool into ${bin} (first time only; about a minute once the Temporal CLI is built, several otherwise)…`,
  );
  mkdirSync(bin, { recursive: true });
  const logFile = path.join(root, 'build.log');
  // Built inside a module that requires the pinned CLI, whose go.mod pins this server version: the
  // server then links the very dependency versions the CLI's dev server does, so the compile cache of
  // the CLI's build serves all but a handful of packages (a cold CI builds the server in about a
  // minute after the CLI, instead of half an hour). No replace directive: every module comes from
  // the proxy at the version the CLI's go.mod gives.
  const moduleDir = path.join(root, 'module');
  mkdirSync(moduleDir, { recursive: true });
  writeFileSync(
    path.join(moduleDir, 'go.mod'),
    `module kdflow.invalid/temporal-server-build\n\ngo 1.25.0\n\nrequire github.com/temporalio/cli ${TEMPORAL_CLI_VERSION}\n`,
  );
  const env = { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' };
  const status = runWithProgress({
    label: `the Temporal server ${TEMPORAL_SERVER_VERSION}`,
    command: 'go',
    args: ['build', '-v', '-o', `${bin}${path.sep}`, `${MODULE}/cmd/server`, `${MODULE}/cmd/tools/sql`],
    env,
    cwd: moduleDir,
    logFile,
    unit: 'packages',
  });
  if (status !== 0 || !existsSync(found.server) || !existsSync(found.sql))
    throw new Error(`building the Temporal server failed (go build exited ${status}); see ${logFile}`);
  // The CLI's go.mod decides the server's version here: it must be the one this file names.
  const resolved = spawnSync('go', ['list', '-m', '-f', '{{.Version}}', MODULE], {
    cwd: moduleDir,
    encoding: 'utf8',
    env,
  }).stdout.trim();
  if (resolved !== TEMPORAL_SERVER_VERSION) {
    rmSync(bin, { recursive: true, force: true });
    throw new Error(
      `the Temporal CLI ${TEMPORAL_CLI_VERSION} pins server ${resolved}, not ${TEMPORAL_SERVER_VERSION}: update TEMPORAL_SERVER_VERSION in lib/temporal-production.ts`,
    );
  }
  // The schemas ship in the module; a copy beside the binaries survives `go clean -modcache`.
  const modcache = spawnSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8', env }).stdout.trim();
  const shipped = path.join(modcache, `${MODULE}@${TEMPORAL_SERVER_VERSION}`, 'schema', 'postgresql', 'v12');
  if (!existsSync(shipped)) throw new Error(`the module's schemas are not at ${shipped}`);
  cpSync(shipped, found.schemaDir, { recursive: true });
  // The module cache is read-only; the copy is ours to replace.
  chmodTree(found.schemaDir);
  log(`[kdflow] built ${bin}`);
  return found;
}

function chmodTree(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chmodTree(full);
    else chmodSync(full, 0o644);
  }
}

/** The directory holding initdb and pg_ctl: KDFLOW_POSTGRES_BIN, else Debian's newest /usr/lib/postgresql/N/bin. */
export function findPostgres(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.KDFLOW_POSTGRES_BIN;
  if (fromEnv) {
    if (!existsSync(path.join(fromEnv, 'pg_ctl')))
      throw new Error(
        `KDFLOW_POSTGRES_BIN=${fromEnv} has no pg_ctl; it must name the directory holding initdb and pg_ctl`,
      );
    return fromEnv;
  }
  const debian = '/usr/lib/postgresql';
  const versions = existsSync(debian)
    ? readdirSync(debian)
        .filter((v) => /^\d+$/.test(v) && existsSync(path.join(debian, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0]) return path.join(debian, versions[0], 'bin');
  throw new Error(
    'PostgreSQL is not installed: apt-get install postgresql (Debian), or set KDFLOW_POSTGRES_BIN to the directory holding initdb and pg_ctl',
  );
}

const isRoot = () => process.getuid?.() === 0;

/** PostgreSQL refuses to run as root: as root, its commands run as Debian's `postgres` user. */
function asPostgresUser(bin: string, args: string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

function postgresUserIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const ids = { uid: id('-u'), gid: id('-g') };
  if (!Number.isInteger(ids.uid) || ids.uid <= 0)
    throw new Error('there is no `postgres` user to run PostgreSQL as (apt-get install postgresql creates it)');
  return ids;
}

/** Runs a command to its end in its own session (a Ctrl-C at the terminal is this process's to handle). */
async function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const child = spawn(command, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0)
    throw new Error(`${path.basename(command)} ${args.join(' ')} exited ${code}: ${out.trim().slice(-2000)}`);
  return out;
}

export interface PostgresOptions {
  /** Owned by the user PostgreSQL runs as: `data/`, `postgresql.log` and the socket live here. */
  dir: string;
  port: number;
  /** The temporal role's password (generated at initdb, kept by the caller in a 0600 file). */
  password: string;
  log?: Log;
}

export interface Postgres {
  host: string;
  port: number;
  dataDir: string;
  logFile: string;
  /** True when this call ran initdb. */
  created: boolean;
  stop(): Promise<void>;
}

/** initdb once (role `temporal`, password auth, 127.0.0.1 only), then pg_ctl start unless it runs already. */
export async function startPostgres(options: PostgresOptions): Promise<Postgres> {
  const bin = findPostgres();
  const { dir } = options;
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgresql.log');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  if (isRoot()) {
    const { uid, gid } = postgresUserIds();
    chownSync(dir, uid, gid);
  }
  const pg = async (tool: string, args: string[]) => run(...asPostgresUser(path.join(bin, tool), args));
  const created = !existsSync(path.join(dataDir, 'PG_VERSION'));
  if (created) {
    const pwfile = path.join(dir, 'initdb-password');
    writeFileSync(pwfile, `${options.password}\n`, { mode: 0o600 });
    if (isRoot()) {
      const { uid, gid } = postgresUserIds();
      chownSync(pwfile, uid, gid);
    }
    try {
      await pg('initdb', [
        '-D',
        dataDir,
        '-U',
        POSTGRES_ROLE,
        '--auth=scram-sha-256',
        `--pwfile=${pwfile}`,
        '-E',
        'UTF8',
        '--locale=C',
      ]);
    } finally {
      rmSync(pwfile, { force: true });
    }
  }
  const status = await pg('pg_ctl', ['status', '-D', dataDir]).catch(() => '');
  if (!status.includes('server is running')) {
    // Settings on the command line, so a changed port or directory takes effect at the next start.
    const settings = ['-c listen_addresses=127.0.0.1', `-c port=${options.port}`, `-c unix_socket_directories=${dir}`];
    await pg('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '120', '-o', settings.join(' ')]);
  }
  return {
    host: '127.0.0.1',
    port: options.port,
    dataDir,
    logFile,
    created,
    stop: async () => {
      await pg('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '120']).catch((error: Error) => {
        if (!/not running|No such file/i.test(error.message)) throw error;
      });
    },
  };
}

export interface PostgresConnection {
  host: string;
  port: number;
  password: string;
}

/** The databases and their schemas (default store and SQL visibility), created or brought to the shipped version. */
export async function setupTemporalSchemas(binaries: ServerBinaries, db: PostgresConnection): Promise<void> {
  const env = { ...process.env, SQL_PASSWORD: db.password };
  for (const { name, schema } of DATABASES) {
    const sql = (...args: string[]) =>
      run(
        binaries.sql,
        ['--plugin', 'postgres12', '--ep', db.host, '-p', String(db.port), '-u', POSTGRES_ROLE, '--db', name, ...args],
        env,
      );
    const exists = await sql('create-database').then(
      () => false,
      (error: Error) => {
        if (/already exists/i.test(error.message)) return true;
        throw error;
      },
    );
    // setup-schema makes the schema_version table at 0.0; update-schema then applies every versioned step.
    if (!exists) await sql('setup-schema', '-v', '0.0');
    await sql('update-schema', '-d', path.join(binaries.schemaDir, schema, 'versioned'));
  }
}

export interface TemporalServerOptions {
  binaries: ServerBinaries;
  db: PostgresConnection;
  /** The frontend's port; the other services take fixed offsets from it (temporal/production.yaml). */
  port: number;
  logFile: string;
  logLevel?: string;
}

export interface TemporalServer {
  address: string;
  child: ChildProcess;
  /** SIGINT by default (a clean stop); SIGKILL simulates a crash. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves when the process ends, whoever ended it. */
  exited: Promise<number | null>;
}

/** The last lines of a log, for an error that names it. */
function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** The ports a server at `port` uses, by temporal/production.yaml's layout. */
export function serverPorts(port: number): number[] {
  return [0, 1, 2, 6, 10, -300, -299, -298, -294].map((offset) => port + offset);
}

/**
 * The frontend ports whose layout fits: the membership ports (300 below) go into PostgreSQL's
 * cluster_membership table as a smallint, so they must stay below 32768.
 */
export const SERVER_PORT_RANGE = { min: 1324, max: 32767 + 294 } as const;

/** The server with temporal/production.yaml, on 127.0.0.1; resolves once the frontend answers. */
export async function startTemporalServer(options: TemporalServerOptions): Promise<TemporalServer> {
  if (options.port < SERVER_PORT_RANGE.min || options.port > SERVER_PORT_RANGE.max)
    throw new Error(
      `the server's frontend port: got ${options.port}; expected ${SERVER_PORT_RANGE.min} to ${SERVER_PORT_RANGE.max} (its membership ports, 300 below, are stored in PostgreSQL as a smallint)`,
    );
  const address = `127.0.0.1:${options.port}`;
  // Else a server already there (the dev server, say) would answer for this one while it fails to bind.
  if (await portOpen(options.port))
    throw new Error(
      `port ${options.port} is taken (a Temporal dev server?); stop it or set TEMPORAL_ADDRESS to another port`,
    );
  mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = openPrivateLog(options.logFile);
  const child = spawn(
    options.binaries.server,
    ['--root', '/', '--config', SERVER_CONFIG_DIR, '--env', 'production', 'start'],
    {
      env: {
        ...process.env,
        TEMPORAL_BIND_IP: '127.0.0.1',
        TEMPORAL_PORT: String(options.port),
        TEMPORAL_DYNAMIC_CONFIG: path.join(SERVER_CONFIG_DIR, 'dynamicconfig.yaml'),
        TEMPORAL_LOG_LEVEL: options.logLevel ?? 'warn',
        POSTGRES_SEEDS: options.db.host,
        DB_PORT: String(options.db.port),
        POSTGRES_USER: POSTGRES_ROLE,
        POSTGRES_PWD: options.db.password,
      },
      // Its own process group: the caller decides when it stops (after the workers, before PostgreSQL).
      detached: true,
      stdio: ['ignore', log, log],
    },
  );
  let code: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (c, signal) => {
      code = c ?? (signal ? null : 1);
      resolve(code);
    });
  });
  const deadline = Date.now() + 180_000;
  while (!(await answersAsTemporal(address))) {
    if (code !== undefined)
      throw new Error(`the Temporal server exited with ${code}; see ${options.logFile}:\n${logTail(options.logFile)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the Temporal server did not answer on ${address} within 180s; see ${options.logFile}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    address,
    child,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGINT') => {
      if (code !== undefined) return;
      child.kill(signal);
      await exited;
    },
  };
}

/** INDEXED_VALUE_TYPE_KEYWORD and _INT of temporal.api.enums.v1.IndexedValueType. */
const INDEXED_VALUE_TYPE = { KEYWORD: 2, INT: 3 } as const;
/** gRPC status codes. */
const ALREADY_EXISTS = 6;

/** Keeps trying `attempt` until it answers: the services find each other in the server's first seconds. */
async function retrying<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`${what} did not succeed within ${timeoutMs / 1000}s${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The namespace (7 days of closed-workflow retention) and kdflow's search attributes, each made once. */
export async function registerKdflowNamespace(address: string, namespace: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    await retrying(`registering namespace ${namespace}`, async () => {
      try {
        await connection.workflowService.registerNamespace({
          namespace,
          workflowExecutionRetentionPeriod: msToTs('7 days'),
        });
      } catch (error) {
        if ((error as { code?: number }).code !== ALREADY_EXISTS) throw error;
      }
      return true;
    });
    await retrying(`kdflow's search attributes in namespace ${namespace}`, async () => {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      const missing = SEARCH_ATTRIBUTE_KEYS.filter((key) => customAttributes?.[key.name] === undefined);
      if (missing.length === 0) return true;
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(
          missing.map((key) => [key.name, INDEXED_VALUE_TYPE[key.type === 'INT' ? 'INT' : 'KEYWORD']]),
        ),
      });
      return undefined;
    });
  } finally {
    await connection.close();
  }
}
