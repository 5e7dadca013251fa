/**
 * Leader election on a coordination.k8s.io Lease, so that of several shims exactly one forwards
 * changes and writes status. A leader that cannot renew in time steps down before its lease expires.
 */
import { readFileSync } from 'node:fs';
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';

/** Where a pod finds its own namespace. */
export const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * The namespace of the shim's Lease: KDFLOW_SHIM_NAMESPACE, else the shim's own namespace (in a pod,
 * its service account's; outside, the kubeconfig context's), else "default". A namespace that always
 * exists where the shim runs, so `npm run shim` leads without a namespace created first.
 */
export function leaseNamespaceOf(
  kc: KubeConfig,
  env: NodeJS.ProcessEnv = process.env,
  serviceAccountFile = SERVICE_ACCOUNT_NAMESPACE_FILE,
): string {
  if (env.KDFLOW_SHIM_NAMESPACE) return env.KDFLOW_SHIM_NAMESPACE;
  try {
    const own = readFileSync(serviceAccountFile, 'utf8').trim();
    if (own) return own;
  } catch {
    // Not in a pod.
  }
  return kc.getContextObject(kc.getCurrentContext())?.namespace || 'default';
}

export interface LeaseOptions {
  kc: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  durationSeconds: number;
  renewEveryMs: number;
  logger: Logger;
  onStart: () => void;
  onStop: () => void;
}

const codeOf = (e: unknown) => (e && typeof e === 'object' && 'code' in e ? (e as { code: unknown }).code : undefined);

export function startLeaderElection(options: LeaseOptions): { stop(): Promise<void>; isLeader(): boolean } {
  const api = options.kc.makeApiClient(CoordinationV1Api);
  const { namespace, name, identity } = options;
  let leading = false;
  let lastRenewed = 0;
  let stopped = false;
  /** The last problem logged: a failure that repeats every renewal is said once, until it changes. */
  let lastProblem: string | undefined;

  const spec = (transitions: number, acquired?: Date) => ({
    holderIdentity: identity,
    leaseDurationSeconds: options.durationSeconds,
    acquireTime: new V1MicroTime(acquired ?? Date.now()),
    renewTime: new V1MicroTime(),
    leaseTransitions: transitions,
  });

  const tryAcquire = async (): Promise<boolean> => {
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ namespace, name });
    } catch (error) {
      if (codeOf(error) !== 404) throw error;
      await api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: spec(0) } });
      return true;
    }
    const holder = lease.spec?.holderIdentity;
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
    const expired = renewed + (lease.spec?.leaseDurationSeconds ?? options.durationSeconds) * 1000 < Date.now();
    if (holder !== identity && holder && !expired) return false;
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
    const acquired = holder === identity && lease.spec?.acquireTime ? new Date(lease.spec.acquireTime) : undefined;
    // resourceVersion makes this a compare-and-swap: of two contenders, one gets 409.
    await api.replaceNamespacedLease({ namespace, name, body: { ...lease, spec: spec(transitions, acquired) } });
    return true;
  };

  const tick = async () => {
    try {
      const ok = await tryAcquire();
      lastProblem = undefined;
      if (ok) lastRenewed = Date.now();
      if (ok && !leading) {
        leading = true;
        options.logger.info({ lease: `${namespace}/${name}`, identity }, 'leading');
        options.onStart();
      } else if (!ok && leading) {
        step('another shim holds the lease');
      }
    } catch (error) {
      const code = codeOf(error);
      const problem = code === 404 ? 'no namespace' : String((error as Error)?.message ?? error);
      if (code !== 409 && problem === lastProblem)
        options.logger.debug({ lease: `${namespace}/${name}` }, 'lease renewal failed again');
      if (code !== 409 && problem !== lastProblem) {
        lastProblem = problem;
        if (code === 404)
          options.logger.error(
            { lease: `${namespace}/${name}` },
            `the Lease's namespace ${namespace} does not exist: create it (kubectl create namespace ${namespace}) or set KDFLOW_SHIM_NAMESPACE to one that exists; the shim keeps trying`,
          );
        else options.logger.warn({ err: error }, 'lease renewal failed; the shim keeps trying');
      }
    }
    // Step down before the lease can expire under us, whatever the API says.
    if (leading && Date.now() - lastRenewed > options.durationSeconds * 1000 * 0.66)
      step('could not renew the lease in time');
  };
  const step = (why: string) => {
    leading = false;
    options.logger.warn({ lease: `${namespace}/${name}`, identity, why }, 'stepped down');
    options.onStop();
  };

  const timer = setInterval(() => void tick(), options.renewEveryMs);
  void tick();
  return {
    isLeader: () => leading,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (!leading) return;
      leading = false;
      options.onStop();
      // Hand over at once: an expired renewTime lets the next shim take the lease without waiting.
      try {
        const lease = await api.readNamespacedLease({ namespace, name });
        if (lease.spec?.holderIdentity === identity)
          await api.replaceNamespacedLease({
            namespace,
            name,
            body: { ...lease, spec: { ...lease.spec, holderIdentity: undefined, renewTime: new V1MicroTime(0) } },
          });
      } catch {
        // The lease simply expires.
      }
    },
  };
}
