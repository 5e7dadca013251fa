import { KubernetesRuntime } from './kubernetes/runtime.ts';
import { LocalRuntime } from './local.ts';
import type { Runtime } from './runtime.ts';

/** KDFLOW_RUNTIME picks one: `local` (the default) or `kubernetes` (from the usual kubeconfig). */
export function createRuntime(kind: string, home: string): Runtime {
  if (kind === 'local') return new LocalRuntime(home);
  if (kind === 'kubernetes') return new KubernetesRuntime();
  throw new Error(`KDFLOW_RUNTIME=${kind} is not a runtime (choose: local, kubernetes)`);
}
