/**
 * P3, event latency: a member is ready → it is `configured` in the workflow (the workflow task that
 * folded its script's result in), with an instant startscript. "Ready" is the completion of the
 * `launchMembers` activity, which creates the member, waits until it is ready, writes its configmeta
 * and installs its package in one go (docs/adr/0013): so the span is the configure run and the
 * workflow's turns around it, where it used to include the configmeta and package activities. On
 * the local runtime, and on the Kubernetes runtime against the test harness's real control plane
 * (testing/kube/harness.ts: API server, scheduler, controller manager, a kwok node) when it is built.
 */
import path from 'node:path';
import { KubernetesRuntime } from '../../runtimes/kubernetes/runtime.ts';
import { kubeBinariesCached } from '../kube/binaries.ts';
import { kubectl, startKubeHarness } from '../kube/harness.ts';
import {
  benchApp,
  deleteCluster,
  historyOf,
  startCluster,
  waitSettled,
  writeScriptPackage,
  type Placement,
} from './clusters.ts';
import type { BenchEnv } from './env.ts';
import { activityTimings, lastCompletionMs, lastTaskCompletedMs, type ActivityTiming } from './history.ts';
import { spread, type Spread } from './stats.ts';

export interface RuntimeLatency {
  /** launchMembers completed (created, ready, configmeta, package) → configured. */
  readyToConfiguredMs: Spread;
  /** The activities between ready and configured, in the median run. */
  steps: ActivityTiming[];
}

export interface LatencyResult extends RuntimeLatency {
  kubernetes: RuntimeLatency | { note: string };
  kubedirector: string;
}

async function readyToConfigured(
  env: BenchEnv,
  reps: number,
  label: string,
  log: (line: string) => void,
  at?: Placement,
): Promise<RuntimeLatency> {
  const pkg = await writeScriptPackage(path.join(env.home, `p3-${label}`));
  const runs: { ms: number; steps: ActivityTiming[] }[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const handle = await startCluster(env, `p3-${label}-r${rep}`, benchApp(pkg.url), 1, {}, at);
    await waitSettled(handle, 1);
    const events = await historyOf(handle);
    const ready = lastCompletionMs(events, 'launchMembers');
    if (ready === undefined) throw new Error('no launchMembers completion in the history');
    runs.push({
      ms: lastTaskCompletedMs(events) - ready,
      steps: activityTimings(events).filter((a) => a.type !== 'launchMembers'),
    });
    await deleteCluster(handle);
    log(`  P3 ${label} rep ${rep + 1}/${reps}: ready → configured ${runs.at(-1)?.ms} ms`);
  }
  const sorted = [...runs].sort((a, b) => a.ms - b.ms);
  return {
    readyToConfiguredMs: spread(
      runs.map((r) => r.ms),
      0,
    ),
    steps: (sorted[(sorted.length - 1) >> 1] as (typeof runs)[number]).steps,
  };
}

async function onKubernetes(
  env: BenchEnv,
  reps: number,
  log: (line: string) => void,
): Promise<RuntimeLatency | { note: string }> {
  if (!kubeBinariesCached())
    return { note: 'not measured: the Kubernetes harness binaries are not built (npm run k8s:build)' };
  const kube = await startKubeHarness((line) => log(`  ${line}`));
  let stopWorker: (() => Promise<void>) | undefined;
  try {
    await kubectl(kube, ['create', 'namespace', 'bench']);
    stopWorker = await env.startWorker(new KubernetesRuntime(kube.kc, { problemGraceSeconds: 30 }), 'kdflow-bench-k8s');
    return await readyToConfigured(env, reps, 'k8s', log, { namespace: 'bench', taskQueue: 'kdflow-bench-k8s' });
  } finally {
    await stopWorker?.();
    await kube.stop();
  }
}

export async function latencyPoint(env: BenchEnv, reps: number, log: (line: string) => void): Promise<LatencyResult> {
  const local = await readyToConfigured(env, reps, 'local', log);
  const kubernetes = await onKubernetes(env, reps, log).catch((error: Error) => ({
    note: `not measured: the Kubernetes harness failed: ${error.message}`,
  }));
  return {
    ...local,
    kubernetes,
    kubedirector:
      'KubeDirector re-checks on a 30 s reconcile period, so the same transition can wait up to 30 s there (from the issue; not measured here)',
  };
}
