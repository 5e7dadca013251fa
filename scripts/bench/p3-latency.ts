/**
 * P3, event latency: a member is ready (its awaitReady activity completed) → it is `configured` in the
 * workflow (the workflow task that folded its script's result in), with an instant startscript.
 */
import path from 'node:path';
import { benchApp, deleteCluster, historyOf, startCluster, waitSettled, writeScriptPackage } from './clusters.ts';
import type { BenchEnv } from './env.ts';
import { activityTimings, lastCompletionMs, lastTaskCompletedMs, type ActivityTiming } from './history.ts';
import { spread, type Spread } from './stats.ts';

export interface LatencyResult {
  readyToConfiguredMs: Spread;
  /** The activities between ready and configured, in the median run. */
  steps: ActivityTiming[];
  kubedirector: string;
  kubernetes: string;
}

export async function latencyPoint(env: BenchEnv, reps: number, log: (line: string) => void): Promise<LatencyResult> {
  const pkg = await writeScriptPackage(path.join(env.home, 'p3'));
  const runs: { ms: number; steps: ActivityTiming[] }[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const handle = await startCluster(env, `p3-r${rep}`, benchApp(pkg.url), 1);
    await waitSettled(handle, 1);
    const events = await historyOf(handle);
    const ready = lastCompletionMs(events, 'awaitReady');
    if (ready === undefined) throw new Error('no awaitReady in the history');
    runs.push({ ms: lastTaskCompletedMs(events) - ready, steps: activityTimings(events).filter((a) => !['ensureMembers', 'awaitReady'].includes(a.type)) });
    await deleteCluster(handle);
    log(`  P3 rep ${rep + 1}/${reps}: ready → configured ${runs.at(-1)?.ms} ms`);
  }
  const sorted = [...runs].sort((a, b) => a.ms - b.ms);
  return {
    readyToConfiguredMs: spread(runs.map((r) => r.ms), 0),
    steps: (sorted[(sorted.length - 1) >> 1] as (typeof runs)[number]).steps,
    kubedirector: 'KubeDirector re-checks on a 30 s reconcile period, so the same transition waits up to 30 s there (by design, not measured here)',
    kubernetes: 'not measured: no k8s harness',
  };
}
