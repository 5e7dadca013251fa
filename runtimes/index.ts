import { LocalRuntime } from './local.ts';
import type { Runtime } from './runtime.ts';

/**
 * KDFLOW_RUNTIME picks one: `local` (the default) or `kubernetes` (from the usual kubeconfig). The
 * Kubernetes client is loaded only for the Kubernetes runtime: it takes most of a second to import,
 * which every local worker start (and every restart after a crash) would pay.
 */
export async function createRuntime(kind: string, home: string): Promise<Runtime> {
  if (kind === 'local') return new LocalRuntime(home);
  if (kind === 'kubernetes') return new (await import('./kubernetes/runtime.ts')).KubernetesRuntime();
  throw new Error(`KDFLOW_RUNTIME=${kind} is not a runtime (choose: local, kubernetes)`);
}
