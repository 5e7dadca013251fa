/**
 * `npm run temporal:prod`: a production Temporal server on this machine, on PostgreSQL
 * (lib/temporal-production.ts): builds the server once, starts PostgreSQL, sets up the schemas, starts
 * the server on 127.0.0.1 with temporal/production.yaml, registers kdflow's namespace and search
 * attributes, prints the address, and runs until Ctrl-C, which stops the server and then PostgreSQL.
 * `npm run temporal:prod -- build` only builds (CI does, before the tests).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { kdflowHome, temporalAddress, temporalNamespace } from '../lib/config.ts';
import { listenForStop, unlessStopped } from '../lib/stop.ts';
import {
  ensureTemporalServer,
  registerKdflowNamespace,
  setupTemporalSchemas,
  startPostgres,
  startTemporalServer,
  SERVER_PORT_RANGE,
  type Postgres,
  type TemporalServer,
} from '../lib/temporal-production.ts';

const stop = listenForStop({
  onForce: () =>
    process.stderr.write('kdflow: stopped at once (second Ctrl-C); the server or PostgreSQL may still be running\n'),
});
const say = (line: string) => process.stdout.write(`${line}\n`);

function portOf(name: string, value: string, min = 1024, max = 65535, why = ''): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < min || port > max)
    throw new Error(`${name}: got port "${value}"; expected ${min} to ${max}${why}`);
  return port;
}

/** The temporal role's password: made once, kept 0600 beside the logs. */
function postgresPassword(stateDir: string): string {
  const file = path.join(stateDir, 'postgresql-password');
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

let postgres: Postgres | undefined;
let server: TemporalServer | undefined;
let failed = false;
try {
  const [command] = process.argv.slice(2);
  if (command !== undefined && command !== 'build')
    throw new Error(`unknown argument "${command}"; usage: npm run temporal:prod [-- build]`);
  const { min, max } = SERVER_PORT_RANGE;
  const port = portOf(
    'TEMPORAL_ADDRESS',
    temporalAddress().split(':').at(-1) ?? '',
    min,
    max,
    ' (its membership ports, 294 to 300 below it, go into PostgreSQL as a smallint)',
  );
  const pgPort = portOf('KDFLOW_POSTGRES_PORT', process.env.KDFLOW_POSTGRES_PORT ?? '7432');
  const stateDir = path.join(kdflowHome(), 'temporal-production');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  // As root, PostgreSQL runs as `postgres` and needs a directory that user can reach: Debian's is its home.
  const pgDir =
    process.env.KDFLOW_POSTGRES_DIR ??
    (process.getuid?.() === 0 ? '/var/lib/postgresql/kdflow' : path.join(stateDir, 'postgresql'));
  const binaries = ensureTemporalServer((line) => say(line));
  if (command === 'build') {
    say(path.dirname(binaries.server));
    stop.dispose();
    process.exit(0);
  }
  // Each step runs to its end once started, so that whatever started is stopped below; a Ctrl-C
  // between steps skips the rest.
  const password = postgresPassword(stateDir);
  if (!stop.requested) postgres = await startPostgres({ dir: pgDir, port: pgPort, password });
  const db = { host: '127.0.0.1', port: pgPort, password };
  if (postgres && !stop.requested) {
    say(`[kdflow] PostgreSQL on 127.0.0.1:${pgPort} (data ${postgres.dataDir}, log ${postgres.logFile})`);
    await setupTemporalSchemas(binaries, db);
  }
  const logFile = path.join(stateDir, 'temporal.log');
  if (postgres && !stop.requested) server = await startTemporalServer({ binaries, db, port, logFile });
  const namespace = temporalNamespace();
  if (server && !stop.requested) await unlessStopped(stop, registerKdflowNamespace(server.address, namespace));
  if (server && !stop.requested) {
    say(`Temporal server on ${server.address} (namespace ${namespace}, PostgreSQL), log ${logFile}`);
    say(
      `Workers and the CLI: TEMPORAL_ADDRESS=${server.address} npm run worker. Ctrl-C stops the server, then PostgreSQL.`,
    );
    const ended = await Promise.race([server.exited.then((code) => ({ code })), stop.stopped.then(() => undefined)]);
    if (ended) throw new Error(`the Temporal server exited with ${ended.code}; see ${logFile}`);
  }
} catch (error) {
  process.stderr.write(`kdflow: ${(error as Error).message}\n`);
  failed = true;
}
try {
  await server?.stop();
  await postgres?.stop();
} catch (error) {
  process.stderr.write(`kdflow: while stopping: ${(error as Error).message}\n`);
  failed = true;
}
if (stop.requested) say('kdflow: stopped');
stop.dispose();
process.exit(failed ? 1 : 0);
