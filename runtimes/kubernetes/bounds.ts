/**
 * Every call the Kubernetes runtime makes to the API server has a bound of its own (docs/adr/0043).
 * An activity heartbeats while it waits, so a request on a connection the API server left half-open
 * (an orderly stop drains, a crash does not say goodbye) would otherwise wait until the activity's
 * start-to-close timeout. Requests get a per-call timeout in the client itself (so no call can be
 * made without one), exec streams and watches an idle bound that data and pongs reset. A bound that
 * runs out is an `ApiTimeout` RuntimeError naming the call, which the activity's retries try again.
 */
import { CoreV1Api, ServerConfiguration, createConfiguration, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { RuntimeError } from '../errors.ts';

export interface ApiBounds {
  /** How long one API request (connect, answer, body) may take before it fails. */
  callTimeoutMs: number;
  /** How long an exec stream or a watch may go without data or a pong before it is taken as dead. */
  streamIdleMs: number;
  /** After this long a call still waiting is named in one log line. */
  slowCallMs: number;
}

export const DEFAULT_API_BOUNDS: ApiBounds = { callTimeoutMs: 30_000, streamIdleMs: 60_000, slowCallMs: 10_000 };

/** A CoreV1Api whose every request carries a timeout signal: the bound is part of the client, not of each call site. */
export function boundedCoreApi(kc: KubeConfig, callTimeoutMs: number): CoreV1Api {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new RuntimeError('RuntimeFailure', 'the kubeconfig has no current cluster', true);
  return new CoreV1Api(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      promiseMiddleware: [
        {
          pre: async (context) => {
            context.setSignal(AbortSignal.timeout(callTimeoutMs));
            return context;
          },
          post: async (response) => response,
        },
      ],
    }),
  );
}

/** Pure: whether an error is a bound running out (an AbortSignal.timeout, or ws's handshake timeout). */
export function isTimeout(error: unknown): boolean {
  const nameOf = (e: unknown) => (e && typeof e === 'object' && 'name' in e ? String(e.name) : '');
  const cause = error && typeof error === 'object' && 'cause' in error ? error.cause : undefined;
  const message = error && typeof error === 'object' && 'message' in error ? String(error.message) : String(error);
  return (
    nameOf(error) === 'TimeoutError' || nameOf(cause) === 'TimeoutError' || /handshake has timed out/.test(message)
  );
}

export function apiTimeout(what: string, boundMs: number, detail = 'no answer from the API server'): RuntimeError {
  return new RuntimeError(
    'ApiTimeout',
    `${what}: ${detail} within ${boundMs / 1000}s (the connection is taken as dead; the call is retried)`,
  );
}

/**
 * Runs one call, logs it once by name if it is still waiting after `slowCallMs`, and turns its
 * bound running out into an ApiTimeout naming it.
 */
export async function watchedCall<T>(
  what: string,
  call: () => Promise<T>,
  bounds: Pick<ApiBounds, 'slowCallMs'> & { boundMs: number },
  logger: Logger,
): Promise<T> {
  const started = Date.now();
  const slow = setTimeout(
    () => logger.warn({ call: what, waitedMs: Date.now() - started }, `still waiting for the API server: ${what}`),
    bounds.slowCallMs,
  );
  try {
    return await call();
  } catch (error) {
    if (isTimeout(error)) throw apiTimeout(what, bounds.boundMs);
    throw error;
  } finally {
    clearTimeout(slow);
  }
}
