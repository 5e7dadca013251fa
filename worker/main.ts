/**
 * The worker on its own: `npm run worker`, for a Temporal server that is already running.
 * `--metrics [HOST:PORT]` or KDFLOW_METRICS_ADDRESS serves the SDK's Prometheus metrics.
 */
import { NativeConnection } from '@temporalio/worker';
import { kdflowHome, runtimeKind, temporalConnection, temporalNamespace } from '../lib/config.ts';
import { logger } from '../lib/logger.ts';
import { installRuntime, metricsAddress } from '../lib/telemetry.ts';
import { createRuntime } from '../runtimes/index.ts';
import { createKdflowWorker } from './worker.ts';

let address: string | undefined;
try {
  const settings = temporalConnection();
  address = settings.address;
  const metrics = metricsAddress();
  installRuntime({ logger, metricsAddress: metrics });
  const connection = await NativeConnection.connect(settings);
  const home = kdflowHome();
  const namespace = temporalNamespace();
  const worker = await createKdflowWorker({ connection, namespace, runtime: await createRuntime(runtimeKind(), home), home, logger });
  logger.info({ address, namespace, tls: Boolean(settings.tls), runtime: runtimeKind(), home, ...(metrics ? { metrics: `http://${metrics}/metrics` } : {}) }, 'kdflow worker running');
  await worker.run();
  await connection.close();
} catch (error) {
  logger.error({ err: error, address }, 'kdflow worker failed');
  process.exitCode = 1;
}
