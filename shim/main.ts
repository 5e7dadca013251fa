/**
 * `kdflow shim` (or `npm run shim`): runs the CRD shim against the cluster of the usual kubeconfig and
 * the Temporal of TEMPORAL_ADDRESS until SIGTERM. KDFLOW_SHIM_NAMESPACE holds its Lease.
 */
import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { KubeConfig } from '@kubernetes/client-node';
import { temporalConnection, temporalNamespace } from '../lib/config.ts';
import { logger } from '../lib/logger.ts';
import { Shim } from './shim.ts';

export async function runShim(): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const connection = await Connection.connect(temporalConnection());
  const client = new Client({ connection, namespace: temporalNamespace() });
  const identity = process.env.KDFLOW_SHIM_ID ?? `${os.hostname()}-${process.pid}`;
  const shim = new Shim({ kc, client, logger: logger.child({ component: 'shim' }), identity, leaseNamespace: process.env.KDFLOW_SHIM_NAMESPACE ?? 'kdflow-system' });
  shim.start();
  logger.info({ identity, cluster: kc.getCurrentCluster()?.server }, 'kdflow shim running');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await shim.stop();
  await connection.close();
}

if (import.meta.main) {
  try {
    await runShim();
  } catch (error) {
    logger.error({ err: error }, 'kdflow shim failed');
    process.exitCode = 1;
  }
}
