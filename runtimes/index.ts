import { LocalRuntime } from './local.ts';
import type { Runtime } from './runtime.ts';

/** KDFLOW_RUNTIME picks one; the Kubernetes runtime joins here in its own change. */
export function createRuntime(kind: string, home: string): Runtime {
  if (kind === 'local') return new LocalRuntime(home);
  throw new Error(`KDFLOW_RUNTIME=${kind} is not available in this build (choose: local)`);
}
