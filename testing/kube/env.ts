/**
 * The one setup of the Kubernetes test files: the harness (a real control plane, ./harness.ts), the
 * worker's RBAC from crds/deploy/worker-rbac.yaml, the tests' namespace with its default
 * ServiceAccount, and a Temporal dev server with a kdflow worker in this process on the Kubernetes
 * runtime, talking to the API as that least-privilege ServiceAccount.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { afterAll, beforeAll } from 'vitest';
import { KdClusterSpec, clusterStartOptions, type ClusterInput, type KdAppSpec } from '../../api/index.ts';
import { KubernetesRuntime } from '../../runtimes/kubernetes/runtime.ts';
import type { MemberTarget } from '../../runtimes/runtime.ts';
import type { clusterWorkflow } from '../../workflows/cluster.ts';
import { startHarness, type Harness } from '../harness.ts';
import { lateBound } from '../late-bound.ts';
import { eventually, kubectl, serviceAccountKubeConfig, startKubeHarness, type KubeHarness } from './harness.ts';

/** Set by runs without the harness binaries: the files skip their tests and start nothing. */
export const KUBE_SKIPPED = process.env.KDFLOW_SKIP_K8S === '1';

/** Starting a control plane and a dev server on a busy machine: a hang guard, not a wait. */
const START_LIMIT_MS = 900_000;

export interface KubeTestEnvOptions {
  /** Where the file's clusters live: created, and its default ServiceAccount awaited. */
  namespace: string;
  /** The kdflow CRDs applied first and awaited until Established (the shim's tests). */
  crds?: boolean;
  /** More manifests applied with the worker's RBAC, such as crds/deploy/shim-rbac.yaml. */
  manifests?: string[];
  /** How long the runtime lets a pod's problem stand before it reports it. */
  problemGraceSeconds?: number;
}

export interface KubeTestEnv {
  kube: KubeHarness;
  core: CoreV1Api;
  /** The Temporal dev server (`env`), the home and the worker on the Kubernetes runtime. */
  harness: Harness<KubernetesRuntime>;
  /** Real kubectl as the harness's admin. */
  kubectl(...args: string[]): Promise<string>;
  /** Starts a cluster workflow in the namespace from an app, the spec's roles and any other spec fields. */
  startCluster(
    name: string,
    app: KdAppSpec,
    roles: object[],
    more?: object,
  ): Promise<WorkflowHandleWithFirstExecutionRunId<typeof clusterWorkflow>>;
  /** A member's script ledger (/opt/guestconfig/events.log in its pod), one event a line. */
  podEvents(cluster: string, member: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** A member of a cluster in `namespace`, as the runtime's calls take it (role and ordinal are not needed to reach its pod). */
export const memberTarget = (namespace: string, cluster: string, name: string): MemberTarget => ({
  namespace,
  cluster,
  name,
  role: '',
  ordinal: 0,
  fqdn: '',
});

export async function startKubeTestEnv(options: KubeTestEnvOptions): Promise<KubeTestEnv> {
  const { namespace } = options;
  const kube = await startKubeHarness();
  const k = (...args: string[]) => kubectl(kube, args);
  let harness: Harness<KubernetesRuntime> | undefined;
  try {
    const core = kube.kc.makeApiClient(CoreV1Api);
    if (options.crds) {
      const kinds = ['kdapps', 'kdclusters', 'kdactions'];
      await k('apply', ...kinds.flatMap((kind) => ['-f', `crds/${kind}.kdflow.dev.yaml`]));
      await k('wait', '--for=condition=Established', ...kinds.map((kind) => `crd/${kind}.kdflow.dev`), '--timeout=60s');
    }
    const manifests = ['crds/deploy/worker-rbac.yaml', ...(options.manifests ?? [])];
    await k('apply', ...manifests.flatMap((file) => ['-f', file]));
    await k('create', 'namespace', namespace);
    await eventually(
      `the default service account in namespace ${namespace}`,
      async () => (await core.readNamespacedServiceAccount({ namespace, name: 'default' })).metadata,
    );
    // Its ClusterRole allows the worker's one pod watch over every namespace.
    const workerKc = await serviceAccountKubeConfig(kube, 'kdflow-system', 'kdflow-worker');
    const problemGraceSeconds = options.problemGraceSeconds ?? 2;
    const h = await startHarness(() => new KubernetesRuntime(workerKc, { problemGraceSeconds }));
    harness = h;
    return {
      kube,
      core,
      harness: h,
      kubectl: k,
      startCluster(name, app, roles, more = {}) {
        const spec = KdClusterSpec.parse({ app: 'testapp', roles, ...more });
        const input: ClusterInput = { namespace, name, appName: 'testapp', app, spec };
        return h.env.client.workflow.start<typeof clusterWorkflow>('clusterWorkflow', {
          taskQueue: h.taskQueue,
          args: [input],
          ...clusterStartOptions(input),
        });
      },
      async podEvents(cluster, member) {
        const target = memberTarget(namespace, cluster, member);
        const text = (await h.runtime.readGuestFile(target, '/opt/guestconfig/events.log')) ?? '';
        return text.split('\n').filter(Boolean);
      },
      async stop() {
        await h.teardown();
        await kube.stop();
      },
    };
  } catch (error) {
    await harness?.teardown();
    await kube.stop();
    throw error;
  }
}

/**
 * The environment for a test file: vitest's hooks start it before the file's own hooks and stop it
 * after them (afterAll hooks run in reverse), unless the run skips Kubernetes. What it returns stands
 * in for the started environment, so the file can take it apart at the top.
 */
export function useKubeTestEnv(options: KubeTestEnvOptions): KubeTestEnv {
  let env: KubeTestEnv | undefined;
  beforeAll(async () => {
    if (KUBE_SKIPPED) return;
    env = await startKubeTestEnv(options);
  }, START_LIMIT_MS);
  afterAll(async () => {
    await env?.stop();
  });
  const started = () => {
    if (!env) throw new Error('the Kubernetes test environment is used before beforeAll started it');
    return env;
  };
  return {
    kube: lateBound('the Kubernetes harness', () => env?.kube),
    core: lateBound('the Kubernetes API client', () => env?.core),
    harness: lateBound('the test harness', () => env?.harness),
    kubectl: (...args) => started().kubectl(...args),
    startCluster: (name, app, roles, more) => started().startCluster(name, app, roles, more),
    podEvents: (cluster, member) => started().podEvents(cluster, member),
    stop: () => started().stop(),
  };
}
