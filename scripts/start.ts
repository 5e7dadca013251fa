/**
 * The main job: the Temporal dev server (built from source on first run), a kdflow worker on the
 * local runtime, the example catalog, and a demo cluster, then the Web UI URL and what to try next.
 * `--once` exits after the demo cluster is configured (and deleted), for smoke tests. Ctrl-C (or
 * SIGTERM) stops it cleanly at any point with one line, `kdflow: stopped`, and exit 0 (lib/stop.ts).
 */
import { NativeConnection, type Worker } from '@temporalio/worker';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterWorkflowId } from '../api/index.ts';
import { main as kdflow } from '../cli/main.ts';
import { kdflowHome, temporalAddress, temporalNamespace } from '../lib/config.ts';
import { fileLogger } from '../lib/logger.ts';
import { installRuntime, metricsAddress } from '../lib/telemetry.ts';
import { listenForStop, stopWorker, unlessStopped } from '../lib/stop.ts';
import { startDevServer, type DevServer } from '../lib/temporal-server.ts';
import { LocalRuntime } from '../runtimes/local.ts';
import { createKdflowWorker } from '../worker/worker.ts';

const once = process.argv.includes('--once');
// First, so that Ctrl-C stops cleanly whatever is going on: the dev server starting, the demo, the wait.
const stop = listenForStop({
  onForce: () => process.stderr.write('kdflow: stopped at once (second Ctrl-C); the dev server may still be running\n'),
});
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const home = kdflowHome();
mkdirSync(home, { recursive: true });
// After a stop, whatever the demo was doing (a wait, a kdflow command) ends unheard.
const say = (line: string) => void (stop.requested || process.stdout.write(`${line}\n`));
const port = Number(temporalAddress().split(':').at(-1));
const uiPort = Number(process.env.KDFLOW_UI_PORT ?? 8233);

// The terminal is for the story; the worker's JSON log goes to a file.
const logFile = path.join(home, 'worker.log');
const logger = fileLogger(logFile);
const metrics = metricsAddress();
installRuntime({ logger, sdkLogLevel: 'WARN', metricsAddress: metrics });
say(`[kdflow] home: ${home} (worker log: ${logFile})${metrics ? `; worker metrics on http://${metrics}/metrics` : ''}`);

let server: DevServer | undefined;
let connection: NativeConnection | undefined;
let worker: Worker | undefined;
let running: Promise<void> | undefined;
const serverStarting = startDevServer({
  port,
  uiPort,
  dbFile: path.join(home, 'temporal.db'),
  logFile: path.join(home, 'temporal.log'),
});
try {
  server = await unlessStopped(stop, serverStarting);
  if (server) {
    say(
      `[kdflow] Temporal dev server ${server.reused ? 'already running' : 'started'} on ${server.address} (SQLite ${path.join(home, 'temporal.db')})`,
    );
    connection = await unlessStopped(stop, NativeConnection.connect({ address: server.address }));
  }
  const runtime = new LocalRuntime(home);
  if (connection)
    worker = await unlessStopped(
      stop,
      createKdflowWorker({ connection, namespace: temporalNamespace(), runtime, home, logger }),
    );
  if (worker) {
    running = worker.run();
    say(
      `[kdflow] worker running on the local runtime (containment: ${runtime.containment}, ${runtime.containmentReason}; member network: ${runtime.network}, ${runtime.networkReason})`,
    );
    await unlessStopped(
      stop,
      Promise.race([demo(server as DevServer), running.then(() => Promise.reject(new Error('the worker stopped')))]),
    );
  }
} catch (error) {
  if (!stop.requested) {
    process.stderr.write(`kdflow: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
} finally {
  await stopWorker(worker, running).catch(
    (error: Error) => stop.requested || process.stderr.write(`kdflow: the worker failed: ${error.message}\n`),
  );
  await connection?.close();
  // A server still starting when the stop came is ours too: wait for it, then stop it.
  await (server ?? (await serverStarting.catch(() => undefined)))?.stop();
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
}
if (stop.requested) {
  process.stderr.write('kdflow: stopped\n');
  // A kdflow command the stop cut short (a wait polling the server) must not keep the process alive.
  process.exit(0);
}
stop.dispose();

async function demo(server: DevServer): Promise<void> {
  const cli = async (...args: string[]) => {
    const code = await kdflow(
      args,
      (line) => say(`  ${line}`),
      (line) => void (stop.requested || process.stderr.write(`${line}\n`)),
    );
    if (code !== 0) throw new Error(`kdflow ${args.join(' ')} exited ${code}`);
  };
  const examples = path.join(repo, 'crds', 'examples');
  say('[kdflow] applying the example catalog and the demo cluster');
  await cli('app', 'apply', '-f', path.join(examples, 'centos', 'app.yaml'));
  await cli('app', 'apply', '-f', path.join(examples, 'spark', 'app.yaml'));
  await cli('apply', '-f', path.join(examples, 'spark', 'cluster.yaml'));
  await cli('wait', 'analytics', '--for', 'configured', '--timeout', '120s');
  await cli('get', 'analytics');
  const workflowId = clusterWorkflowId('default', 'analytics');
  say(`
[kdflow] the demo cluster "analytics" (app spark: 1 controller, 2 workers) is configured.
  Web UI:   ${server.uiUrl}/namespaces/${temporalNamespace()}/workflows/${encodeURIComponent(workflowId)}
  Members:  ${path.join(home, 'members', 'default', 'analytics')}

Try, in another terminal (KDFLOW_HOME=${home}):
  npx kdflow resize analytics worker=4 && npx kdflow wait analytics --for configured
  npx kdflow history analytics
  npx kdflow logs analytics analytics-controller-0 --event addnodes
  npx kdflow plan -f crds/examples/spark/cluster.yaml
  npx kdflow apply -f crds/examples/centos/cluster.yaml
  npx kdflow delete analytics
`);
  if (once) {
    const ui = await fetch(server.uiUrl).catch((error: Error) => ({ status: error.message }));
    say(`[kdflow] Web UI answered HTTP ${ui.status}`);
    await cli('delete', 'analytics');
    await cli('wait', 'analytics', '--for', 'deleted', '--timeout', '120s');
  } else {
    say('[kdflow] running; Ctrl-C stops the worker and the dev server (clusters and their history persist).');
    await stop.stopped;
  }
}
