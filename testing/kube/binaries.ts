/**
 * The Kubernetes test harness binaries, built from the Go module proxy (no binary download works
 * here) into a version-keyed cache outside the repo. Only the wrapper modules in tools/ are committed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toolCache } from '../../lib/temporal-server.ts';

export const KUBE_VERSION = 'v1.33.13';
export const ETCD_VERSION = 'v3.5.35';
export const KWOK_VERSION = 'v0.7.0';

const TOOLS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'tools');

export interface KubeBinaries {
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  etcd: string;
  kwok: string;
}

interface Target {
  name: string;
  cache: string;
  /** Builds into `out`; returns the go exit status. */
  build(out: string): number | null;
}

function go(args: string[], cwd: string, env: Record<string, string> = {}): number | null {
  // -v prints every package as it compiles: the progress a user sees during the long first build.
  const result = spawnSync('go', args, {
    cwd,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, CGO_ENABLED: '0', ...env },
  });
  return result.status;
}

function kubeLdflags(): string {
  const [major, minor] = KUBE_VERSION.slice(1).split('.');
  const vars: Record<string, string> = {
    gitVersion: KUBE_VERSION,
    gitMajor: major ?? '',
    gitMinor: minor ?? '',
    gitTreeState: 'clean',
    buildDate: '1970-01-01T00:00:00Z',
  };
  const pkgs = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'];
  return pkgs.flatMap((pkg) => Object.entries(vars).map(([k, v]) => `-X ${pkg}.${k}=${v}`)).join(' ');
}

function targets(): Target[] {
  const kubeCache = toolCache('kube', KUBE_VERSION);
  const kube = (cmd: string): Target => ({
    name: cmd,
    cache: kubeCache,
    build: (out) =>
      go(
        ['build', '-v', '-trimpath', '-ldflags', kubeLdflags(), '-o', out, `k8s.io/kubernetes/cmd/${cmd}`],
        path.join(TOOLS_DIR, 'kube'),
      ),
  });
  return [
    {
      name: 'etcd',
      cache: toolCache('etcd', ETCD_VERSION),
      build: (out) =>
        go(['build', '-v', '-trimpath', '-o', out, 'go.etcd.io/etcd/server/v3'], path.join(TOOLS_DIR, 'etcd')),
    },
    {
      name: 'kwok',
      cache: toolCache('kwok', KWOK_VERSION),
      build: (out) =>
        go(['install', '-v', `sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}`], TOOLS_DIR, {
          GOBIN: path.dirname(out),
          GOFLAGS: '-mod=mod',
        }),
    },
    kube('kube-apiserver'),
    kube('kube-controller-manager'),
    kube('kube-scheduler'),
  ];
}

function binPath(target: Target): string {
  return path.join(target.cache, 'bin', target.name);
}

/** Every harness binary, building the missing ones (cold: many minutes; warm: instant). */
export function ensureKubeBinaries(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): KubeBinaries {
  for (const target of targets()) {
    const out = binPath(target);
    if (existsSync(out)) continue;
    log(`[k8s] building ${target.name} into ${path.dirname(out)} (first time only)…`);
    const started = Date.now();
    mkdirSync(path.dirname(out), { recursive: true });
    // Build beside the final name, then rename, so an interrupted build never looks finished.
    const partial = target.name === 'kwok' ? out : `${out}.partial`;
    const status = target.build(partial);
    if (status !== 0 || !existsSync(partial)) throw new Error(`building ${target.name} failed (go exited ${status})`);
    if (partial !== out) renameSync(partial, out);
    log(`[k8s] built ${target.name} in ${Math.round((Date.now() - started) / 1000)}s`);
  }
  const [etcd, kwok, kubeApiserver, kubeControllerManager, kubeScheduler] = targets().map(binPath) as [
    string,
    string,
    string,
    string,
    string,
  ];
  return { etcd, kwok, kubeApiserver, kubeControllerManager, kubeScheduler };
}

/** True when every binary is already cached, so the suite can start without a build. */
export function kubeBinariesCached(): boolean {
  return targets().every((t) => existsSync(binPath(t)));
}
