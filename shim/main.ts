/**
 * `kdflow shim` (or `npm run shim`): runs the CRD shim against the cluster of the usual kubeconfig and
 * the Temporal of TEMPORAL_ADDRESS until Ctrl-C or SIGTERM, which stop it cleanly with one line
 * (lib/stop.ts). Its Lease is in KDFLOW_SHIM_NAMESPACE, else in its own namespace (shim/lease.ts).
 */
import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { KubeConfig } from '@kubernetes/client-node';
import { clientDataConverter } from '../lib/codec.ts';
import { temporalConnection, temporalNamespace } from '../lib/config.ts';
import { logger } from '../lib/logger.ts';
import { tcpRefusal } from '../lib/reachability.ts';
import { listenForStop, unlessStopped } from '../lib/stop.ts';
import { leaseNamespaceOf } from './lease.ts';
import { Shim } from './shim.ts';

/** Resolves once the shim has stopped after a signal; rejects when it cannot start. */
export async function runShim(): Promise<void> {
  const stop = listenForStop({
    onForce: (signal) => logger.warn({ signal }, 'kdflow: stopped at once (second signal)'),
  });
  let connection: Connection | undefined;
  let shim: Shim | undefined;
  try {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    const settings = temporalConnection();
    const dataConverter = clientDataConverter();
    // A refused connection is said at once and plainly; the SDK would retry until its deadline first.
    const refused = await unlessStopped(stop, tcpRefusal(settings.address));
    if (refused)
      throw new Error(
        `cannot reach Temporal at ${settings.address} (${refused}); is the server running? npm run temporal:dev, or set TEMPORAL_ADDRESS`,
      );
    if (!stop.requested) connection = await unlessStopped(stop, Connection.connect(settings));
    if (connection) {
      const client = new Client({ connection, namespace: temporalNamespace(), dataConverter });
      const identity = process.env.KDFLOW_SHIM_ID ?? `${os.hostname()}-${process.pid}`;
      const leaseNamespace = leaseNamespaceOf(kc);
      shim = new Shim({ kc, client, logger: logger.child({ component: 'shim' }), identity, leaseNamespace });
      shim.start();
      logger.info(
        { identity, cluster: kc.getCurrentCluster()?.server, lease: `${leaseNamespace}/kdflow-shim` },
        'kdflow shim running',
      );
      await stop.stopped;
    }
  } finally {
    await shim?.stop();
    await connection?.close();
    stop.dispose();
  }
  logger.info({ signal: stop.requested }, 'kdflow: stopped');
}

/** Run until stopped, then exit: a reconcile the stop cut short (a retry timer, a workflow result awaited) must not keep the process alive. */
export async function runShimProcess(): Promise<never> {
  try {
    await runShim();
  } catch (error) {
    logger.error({ err: error }, 'kdflow shim failed');
    process.exitCode = 1;
  }
  process.exit(process.exitCode ?? 0);
}

if (import.meta.main) await runShimProcess();
