/**
 * The Temporal SDK's process-wide runtime for a kdflow worker: the SDK's own log lines go through pino
 * as JSON, and its Prometheus endpoint is on when asked for.
 */
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from 'pino';

export const DEFAULT_METRICS_ADDRESS = '127.0.0.1:9464';

/** `--metrics [HOST:PORT]` on the command line, else KDFLOW_METRICS_ADDRESS; undefined means off. */
export function metricsAddress(
  argv: string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const at = argv.findIndex((a) => a === '--metrics' || a.startsWith('--metrics='));
  if (at >= 0) {
    const flag = argv[at] as string;
    if (flag.includes('=')) return flag.slice('--metrics='.length) || DEFAULT_METRICS_ADDRESS;
    const next = argv[at + 1];
    return next && !next.startsWith('-') ? next : DEFAULT_METRICS_ADDRESS;
  }
  return env.KDFLOW_METRICS_ADDRESS || undefined;
}

export interface TelemetryOptions {
  logger: Logger;
  /** The SDK's own threshold; kdflow's lines follow the pino logger's level. */
  sdkLogLevel?: LogLevel;
  metricsAddress?: string;
}

/** Call once, before any connection or worker is made. */
export function installRuntime(options: TelemetryOptions): void {
  const sdk = options.logger.child({ component: 'temporal-sdk' });
  const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
    TRACE: 'trace',
    DEBUG: 'debug',
    INFO: 'info',
    WARN: 'warn',
    ERROR: 'error',
  };
  Runtime.install({
    // kdflow's entry points own Ctrl-C and SIGTERM (lib/stop.ts): one owner, so a stop never races the SDK's.
    shutdownSignals: [],
    // The SDK's metadata (workflowId, runId, activityType, taskQueue…) becomes fields of the JSON line.
    logger: new DefaultLogger(options.sdkLogLevel ?? 'INFO', (entry) => {
      const { error, ...meta } = entry.meta ?? {};
      // kdflow says "running" and "stopped" itself: the SDK's state changes (four lines per stop) are detail,
      // and kdflow never registers Nexus services, so the SDK's note that it has none says nothing.
      const detail =
        entry.message === 'Worker state changed' || entry.message.startsWith('No Nexus services registered');
      const level = detail ? 'debug' : levels[entry.level];
      sdk[level]({ ...meta, ...(error === undefined ? {} : { err: error }) }, entry.message);
    }),
    ...(options.metricsAddress
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: options.metricsAddress } } } }
      : {}),
  });
}
