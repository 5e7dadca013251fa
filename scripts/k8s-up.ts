/** `npm run k8s:up`: the test control plane on its own, to poke at with kubectl or KDFLOW_RUNTIME=kubernetes. */
import { startKubeHarness } from '../testing/kube/harness.ts';

const kube = await startKubeHarness();
process.stdout.write(
  `\nexport KUBECONFIG=${kube.kubeconfig}\nkubectl get nodes\n\nCtrl-C stops it and removes ${kube.dir}\n`,
);
const stop = () => void kube.stop().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
setInterval(() => {}, 1 << 30);
