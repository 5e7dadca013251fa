/** `npm run k8s:build`: builds (or finds) the Kubernetes test harness binaries (testing/kube/binaries.ts). */
import { ensureKubeBinaries } from '../testing/kube/binaries.ts';

try {
  const bins = ensureKubeBinaries();
  for (const [name, file] of Object.entries(bins)) process.stdout.write(`${name}: ${file}\n`);
} catch (error) {
  process.stderr.write(`[k8s] ${(error as Error).message}\n`);
  process.exit(1);
}
