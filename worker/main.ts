/**
 * The worker on its own: `npm run worker`, for a Temporal server that is already running.
 * `--metrics [HOST:PORT]` or KDFLOW_METRICS_ADDRESS serves the SDK's Prometheus metrics.
 * Ctrl-C or SIGTERM stops it cleanly, in whatever state it is (lib/stop.ts).
 */
import { NativeConnection, type Worker } from '@temporalio/worker';
import { codecFromEnv } from '../lib/codec.ts';
import { kdflowHome, runtimeKind, temporalConnection, temporalNamespace } from '../lib/config.ts';
import { logger } from '../lib/logger.ts';
import { tcpRefusal } from '../lib/reachability.ts';
import { listenForStop, stopWorker, unlessStopped } from '../lib/stop.ts';
import { installRuntime, metricsAddress } from '../lib/telemetry.ts';
import { createRuntime } from '../runtimes/index.ts';
import { LocalRuntime } from '../runtimes/local.ts';
import { createKdflowWorker } from './worker.ts';

const stop = listenForStop({ onForce: (signal) => logger.warn({ signal }, 'kdflow: stopped at once (second signal)') });
let address: string | undefined;
let connection: NativeConnection | undefined;
let worker: Worker | undefined;
let running: Promise<void> | undefined;
let failed = false;
try {
  const settings = temporalConnection();
  // Before dialling: a key setting that cannot be used is the first thing said (lib/codec.ts).
  const codec = codecFromEnv();
  address = settings.address;
  const metrics = metricsAddress();
  installRuntime({ logger, metricsAddress: metrics });
  // A refused connection is said at once and plainly; the SDK would retry until its deadline first.
  const refused = await unlessStopped(stop, tcpRefusal(settings.address));
  if (refused)
    throw new Error(
      `cannot reach Temporal at ${settings.address} (${refused}); is the server running? npm run temporal:dev, or set TEMPORAL_ADDRESS`,
    );
  if (!stop.requested) connection = await unlessStopped(stop, NativeConnection.connect(settings));
  const home = kdflowHome();
  const namespace = temporalNamespace();
  const runtime = await createRuntime(runtimeKind(), home);
  // Which containment the local runtime has on this machine (docs/adr/0015): a pid namespace per member, or
  // tracked; and which member network (docs/adr/0046): a network namespace per member, a loopback address each, or the host's.
  const containment =
    runtime instanceof LocalRuntime
      ? {
          containment: runtime.containment,
          containmentReason: runtime.containmentReason,
          network: runtime.network,
          networkReason: runtime.networkReason,
        }
      : {};
  if (connection)
    worker = await unlessStopped(stop, createKdflowWorker({ connection, namespace, runtime, home, logger, codec }));
  if (worker) {
    logger.info(
      {
        address,
        namespace,
        tls: Boolean(settings.tls),
        runtime: runtimeKind(),
        ...containment,
        home,
        ...(metrics ? { metrics: `http://${metrics}/metrics` } : {}),
      },
      'kdflow worker running',
    );
    running = worker.run();
    await Promise.race([running, stop.stopped]);
  }
} catch (error) {
  logger.error({ err: error, address }, 'kdflow worker failed');
  failed = true;
}
try {
  await stopWorker(worker, running);
  await connection?.close();
} catch (error) {
  if (!failed) logger.error({ err: error, address }, 'kdflow worker failed while stopping');
  failed = true;
}
if (stop.requested) {
  logger.info({ signal: stop.requested }, 'kdflow: stopped');
  // Whatever start-up work the stop cut short (a connect, the bundling) must not keep the process alive.
  process.exit(failed ? 1 : 0);
}
stop.dispose();
process.exitCode = failed ? 1 : 0;
