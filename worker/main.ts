/** The worker on its own: `npm run worker`, for a Temporal server that is already running. */
import { NativeConnection } from '@temporalio/worker';
import { kdflowHome, runtimeKind, temporalAddress, temporalNamespace } from '../lib/config.ts';
import { logger } from '../lib/logger.ts';
import { createRuntime } from '../runtimes/index.ts';
import { createKdflowWorker } from './worker.ts';

const address = temporalAddress();
try {
  const connection = await NativeConnection.connect({ address });
  const home = kdflowHome();
  const worker = await createKdflowWorker({ connection, namespace: temporalNamespace(), runtime: createRuntime(runtimeKind(), home), home, logger });
  logger.info({ address, runtime: runtimeKind(), home }, 'kdflow worker running');
  await worker.run();
  await connection.close();
} catch (error) {
  logger.error({ err: error, address }, 'kdflow worker failed');
  process.exitCode = 1;
}
