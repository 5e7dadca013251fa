/**
 * A real Kubernetes control plane on 127.0.0.1 for tests: etcd, kube-apiserver, kube-controller-
 * manager and kube-scheduler built from source, and kwok for a fake node whose pods become Running
 * and Ready and whose exec runs commands on this host (each pod under its own root prefix).
 * Nothing here mocks the Kubernetes API.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, KubeConfig, StorageV1Api } from '@kubernetes/client-node';
import { freePort } from '../../lib/free-port.ts';
import { ensureKubeBinaries } from './binaries.ts';
import { makeCerts } from './certs.ts';
import { startVolumeBinder } from './volume-binder.ts';

export const NODE_NAME = 'kwok-node-0';
export const STORAGE_CLASS = 'kdflow-test';

export interface KubeHarness {
  kubeconfig: string;
  kc: KubeConfig;
  /** Where kwok "pods" keep their files: <podRoot>/<namespace>/<pod>/… */
  podRoot: string;
  dir: string;
  /**
   * Stops the kube-apiserver (SIGTERM: an orderly stop; SIGKILL: a crash), waits for `down` (how long
   * it stays down), starts it again on the same port and etcd, and resolves once it answers again.
   * Everything else (etcd, controllers, kwok, the kdflow worker) keeps running and reconnects.
   */
  restartApiServer(signal: NodeJS.Signals, down: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

function kubeconfigYaml(server: string, ca: string, cert: string, key: string): string {
  const b64 = (file: string) => readFileSync(file).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: kdflow-test
  cluster: {server: "${server}", certificate-authority-data: ${b64(ca)}}
users:
- name: admin
  user: {client-certificate-data: ${b64(cert)}, client-key-data: ${b64(key)}}
contexts:
- name: kdflow-test
  context: {cluster: kdflow-test, user: admin, namespace: default}
current-context: kdflow-test
`;
}

function kwokConfig(podRoot: string, workDir: string): string {
  return `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options: {}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: kdflow-host-exec
spec:
  execs:
  - local:
      workDir: ${JSON.stringify(workDir)}
      envs:
      - name: KDFLOW_ROOT_PREFIX
        value: ${JSON.stringify(podRoot)}
`;
}

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  children: Map<string, ChildProcess>,
  logs: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    for (const [name, child] of children) {
      if (child.exitCode !== null)
        throw new Error(
          `${name} exited with ${child.exitCode} while waiting for ${what}; see ${path.join(logs, `${name}.log`)}`,
        );
    }
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${lastError}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function startKubeHarness(
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<KubeHarness> {
  const bins = ensureKubeBinaries(log);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kdflow-k8s-'));
  const logs = path.join(dir, 'logs');
  const podRoot = path.join(dir, 'pods');
  for (const d of [logs, podRoot, path.join(dir, 'kwok-work')]) mkdirSync(d, { recursive: true });
  const certs = makeCerts(dir);
  const [etcdClient, etcdPeer, apiPort, cmPort, schedPort, kwokPort] = await Promise.all(
    Array.from({ length: 6 }, freePort),
  );
  const children = new Map<string, ChildProcess>();
  const run = (name: string, bin: string, args: string[]) => {
    const out = openSync(path.join(logs, `${name}.log`), 'a');
    const child = spawn(bin, args, { stdio: ['ignore', out, out] });
    children.set(name, child);
  };
  const exited = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
    });
  const stop = async () => {
    for (const child of [...children.values()].reverse()) child.kill('SIGTERM');
    await Promise.all(
      [...children.values()].map(async (child) => {
        const force = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited(child);
        clearTimeout(force);
      }),
    );
    binder?.stop();
    if (!process.env.KDFLOW_KEEP_K8S) rmSync(dir, { recursive: true, force: true });
  };
  let binder: { stop(): void } | undefined;
  let restartApiServer: KubeHarness['restartApiServer'];

  try {
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    run('etcd', bins.etcd, [
      '--data-dir',
      path.join(dir, 'etcd'),
      '--listen-client-urls',
      etcdUrl,
      '--advertise-client-urls',
      etcdUrl,
      '--listen-peer-urls',
      `http://127.0.0.1:${etcdPeer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster',
      `default=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync',
      '--log-level',
      'warn',
    ]);
    const apiserverArgs = [
      '--etcd-servers',
      etcdUrl,
      '--bind-address',
      '127.0.0.1',
      '--advertise-address',
      '127.0.0.1',
      `--secure-port=${apiPort}`,
      '--tls-cert-file',
      certs.adminCert,
      '--tls-private-key-file',
      certs.adminKey,
      '--client-ca-file',
      certs.caCert,
      '--service-account-key-file',
      certs.saPub,
      '--service-account-signing-key-file',
      certs.saKey,
      '--service-account-issuer',
      'https://kubernetes.default.svc.cluster.local',
      '--service-cluster-ip-range',
      '10.96.0.0/16',
      '--authorization-mode',
      'Node,RBAC',
      '--allow-privileged',
      '--enable-priority-and-fairness=false',
      '--kubelet-preferred-address-types',
      'InternalIP',
      '--cert-dir',
      path.join(dir, 'apiserver-certs'),
      '--v',
      '1',
    ];
    run('kube-apiserver', bins.kubeApiserver, apiserverArgs);
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfig = path.join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml(server, certs.caCert, certs.adminCert, certs.adminKey), { mode: 0o600 });
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    log(`[k8s] starting etcd and kube-apiserver on ${server}…`);
    const apiserverAnswers = () =>
      until(
        'kube-apiserver /readyz',
        120_000,
        async () => ((await core.listNamespace()).items.length > 0 ? true : undefined),
        children,
        logs,
      );
    await apiserverAnswers();
    restartApiServer = async (signal, down) => {
      const apiserver = children.get('kube-apiserver');
      if (apiserver) {
        apiserver.kill(signal);
        await exited(apiserver);
      }
      await down();
      run('kube-apiserver', bins.kubeApiserver, apiserverArgs);
      await apiserverAnswers();
    };

    run('kube-controller-manager', bins.kubeControllerManager, [
      '--kubeconfig',
      kubeconfig,
      '--leader-elect=false',
      '--bind-address',
      '127.0.0.1',
      `--secure-port=${cmPort}`,
      '--service-account-private-key-file',
      certs.saKey,
      '--root-ca-file',
      certs.caCert,
      '--use-service-account-credentials=false',
      '--controllers',
      '*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route',
      '--v',
      '1',
    ]);
    run('kube-scheduler', bins.kubeScheduler, [
      '--kubeconfig',
      kubeconfig,
      '--leader-elect=false',
      '--bind-address',
      '127.0.0.1',
      `--secure-port=${schedPort}`,
      '--v',
      '1',
    ]);
    const kwokYaml = path.join(dir, 'kwok.yaml');
    writeFileSync(kwokYaml, kwokConfig(podRoot, path.join(dir, 'kwok-work')));
    run('kwok', bins.kwok, [
      '--kubeconfig',
      kubeconfig,
      '--config',
      kwokYaml,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--node-ip',
      '127.0.0.1',
      `--node-port=${kwokPort}`,
      `--server-address=127.0.0.1:${kwokPort}`,
      '--tls-cert-file',
      certs.adminCert,
      '--tls-private-key-file',
      certs.adminKey,
    ]);

    await core.createNode({
      body: {
        metadata: {
          name: NODE_NAME,
          annotations: { 'kwok.x-k8s.io/node': 'fake' },
          labels: { 'kubernetes.io/hostname': NODE_NAME, type: 'kwok' },
        },
        status: {
          capacity: { cpu: '16', memory: '64Gi', pods: '110' },
          allocatable: { cpu: '16', memory: '64Gi', pods: '110' },
        },
      },
    });
    await kc.makeApiClient(StorageV1Api).createStorageClass({
      body: {
        metadata: { name: STORAGE_CLASS, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
        provisioner: 'kdflow.dev/test-hostpath',
        volumeBindingMode: 'Immediate',
        reclaimPolicy: 'Delete',
      },
    });
    binder = startVolumeBinder(kc, path.join(dir, 'volumes'));
    log('[k8s] waiting for the kwok node to be Ready and the default service account…');
    // Ready, and the node lifecycle controller has lifted the not-ready taint, so pods can schedule.
    await until(
      'node Ready and untainted',
      120_000,
      async () => {
        const node = await core.readNode({ name: NODE_NAME });
        const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        return ready && !(node.spec?.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/'))
          ? true
          : undefined;
      },
      children,
      logs,
    );
    await until(
      'default service account',
      60_000,
      async () =>
        (await core.readNamespacedServiceAccount({ namespace: 'default', name: 'default' })).metadata
          ? true
          : undefined,
      children,
      logs,
    );
    log(`[k8s] ready: KUBECONFIG=${kubeconfig}`);
    return { kubeconfig, kc, podRoot, dir, restartApiServer, stop };
  } catch (error) {
    process.env.KDFLOW_KEEP_K8S = '1';
    await stop();
    throw new Error(`${(error as Error).message} (harness files kept in ${dir})`, { cause: error });
  }
}

/**
 * Real kubectl against the harness, as its admin. Asynchronous on purpose: the worker and the shim
 * share the test's process, and a synchronous `kubectl wait` would freeze them while it waits.
 */
export async function kubectl(kube: Pick<KubeHarness, 'kubeconfig'>, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', kube.kubeconfig, ...args],
      { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
    child.stdin?.end(input ?? '');
  });
}

/** A kubeconfig that authenticates as a ServiceAccount (a TokenRequest token), so RBAC is what a deployment gets. */
export async function serviceAccountKubeConfig(
  kube: Pick<KubeHarness, 'kubeconfig' | 'kc'>,
  namespace: string,
  name: string,
): Promise<KubeConfig> {
  const token = (await kubectl(kube, ['create', 'token', name, '-n', namespace, '--duration', '2h'])).trim();
  const cluster = kube.kc.getCurrentCluster();
  if (!cluster) throw new Error('the harness kubeconfig has no cluster');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name, token }],
    contexts: [{ name, cluster: cluster.name, user: name }],
    currentContext: name,
  });
  return kc;
}

/** Polls until the probe answers (a hang guard for convergence, not a timing assertion). */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
