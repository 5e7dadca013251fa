/**
 * The Kubernetes test harness binaries, built from the Go module proxy (no binary download works
 * here) into a version-keyed cache outside the repo. Only the wrapper modules in tools/ are committed.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWithProgress } from '../../lib/build-progress.ts';
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
  /** Builds into `out`, logging to `logFile`; returns the go exit status. */
  build(out: string, logFile: string): number | null;
}

/** One `go` build with one progress line on the terminal; its output (-v: every package) goes to `logFile`. */
function go(
  label: string,
  args: string[],
  cwd: string,
  logFile: string,
  env: Record<string, string> = {},
): number | null {
  return runWithProgress({
    label,
    command: 'go',
    args,
    cwd,
    env: { ...process.env, CGO_ENABLED: '0', ...env },
    logFile,
    unit: 'packages',
  });
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
    build: (out, logFile) =>
      go(
        cmd,
        ['build', '-v', '-trimpath', '-ldflags', kubeLdflags(), '-o', out, `k8s.io/kubernetes/cmd/${cmd}`],
        path.join(TOOLS_DIR, 'kube'),
        logFile,
      ),
  });
  return [
    {
      name: 'etcd',
      cache: toolCache('etcd', ETCD_VERSION),
      build: (out, logFile) =>
        go(
          'etcd',
          ['build', '-v', '-trimpath', '-o', out, 'go.etcd.io/etcd/server/v3'],
          path.join(TOOLS_DIR, 'etcd'),
          logFile,
        ),
    },
    {
      name: 'kwok',
      cache: toolCache('kwok', KWOK_VERSION),
      build: (out, logFile) =>
        go('kwok', ['install', '-v', `sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}`], TOOLS_DIR, logFile, {
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
    const logFile = path.join(target.cache, `build-${target.name}.log`);
    const status = target.build(partial, logFile);
    if (status !== 0 || !existsSync(partial))
      throw new Error(`building ${target.name} failed (go exited ${status}); see ${logFile}`);
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
