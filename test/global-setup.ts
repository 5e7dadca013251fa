import { ensureTemporalCli } from '../lib/temporal-server.ts';
import { ensureKubeBinaries } from '../testing/kube/binaries.ts';

/**
 * Build (or find) the Temporal CLI and the Kubernetes harness binaries once, before any test file
 * starts a server with them. KDFLOW_SKIP_K8S=1 leaves the Kubernetes suite out (a fast local loop).
 */
export default function setup(): void {
  process.env.KDFLOW_TEMPORAL_BIN = ensureTemporalCli();
  if (process.env.KDFLOW_SKIP_K8S !== '1') ensureKubeBinaries();
}
