/**
 * P1, overhead: apply → every member `configured` (member creation included) against the same N
 * no-op script runs done by a plain Node loop with the same parallelism and directory set-up.
 */
import path from 'node:path';
import { bareRun } from './baseline.ts';
import { benchApp, deleteCluster, historyOf, startCluster, waitSettled, writeScriptPackage } from './clusters.ts';
import { cpuSeconds, type BenchEnv } from './env.ts';
const cpuNow = (env: BenchEnv) => ({
  server: env.serverPid ? cpuSeconds(env.serverPid) : 0,
  worker: cpuSeconds(process.pid),
});
import { activityTimings, lastTaskCompletedMs, type ActivityTiming } from './history.ts';
import { round, spread, type Spread } from './stats.ts';

export interface OverheadRow {
  members: number;
  kdflowMs: Spread;
  bareMs: Spread;
  /** Paired ratios: each kdflow run over the bare run next to it. */
  ratio: Spread;
  overheadPerMemberMs: Spread;
  /** CPU per member while kdflow ran: the worker process and the dev server (script processes not included). */
  workerCpuPerMemberMs: Spread;
  serverCpuPerMemberMs: Spread;
  /** Where one kdflow run's time went, per activity type (the median run). */
  activities: ActivityTiming[];
}

export interface OverheadResult {
  maxParallel: number;
  rows: OverheadRow[];
}

export interface CreateTiming {
  ms: number;
  activities: ActivityTiming[];
  /** CPU the bench process (the worker, mostly) and the dev server used meanwhile. */
  workerCpuMs: number;
  serverCpuMs: number;
}

/** One apply → configured, timed from the client's start call to the workflow task that settled it. */
export async function timeCreate(
  env: BenchEnv,
  name: string,
  members: number,
  packageURL: string,
  maxParallel: number,
): Promise<CreateTiming> {
  const cpu0 = cpuNow(env);
  const t0 = Date.now();
  const handle = await startCluster(env, name, benchApp(packageURL, maxParallel), members);
  await waitSettled(handle, 1);
  const events = await historyOf(handle);
  const ms = lastTaskCompletedMs(events) - t0;
  const cpu1 = cpuNow(env);
  await deleteCluster(handle);
  return {
    ms,
    activities: activityTimings(events),
    workerCpuMs: (cpu1.worker - cpu0.worker) * 1000,
    serverCpuMs: (cpu1.server - cpu0.server) * 1000,
  };
}

export async function overheadPoint(
  env: BenchEnv,
  sizes: { members: number; reps: number }[],
  log: (line: string) => void,
  maxParallel = 16,
): Promise<OverheadResult> {
  const work = path.join(env.home, 'p1');
  const pkg = await writeScriptPackage(work);
  // Warm-up: JIT, the package cache, the sticky cache; not reported.
  await timeCreate(env, 'p1-warmup', 10, pkg.url, maxParallel);
  await bareRun(path.join(work, 'bare-warmup'), 10, maxParallel, pkg.script);

  const rows: OverheadRow[] = [];
  for (const { members, reps } of sizes) {
    const kd: CreateTiming[] = [];
    const bare: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      // Alternate which goes first, so a drift in machine load does not favour one side.
      const runKd = async () => kd.push(await timeCreate(env, `p1-n${members}-r${rep}`, members, pkg.url, maxParallel));
      const runBare = async () =>
        bare.push(await bareRun(path.join(work, `bare-${members}-${rep}`), members, maxParallel, pkg.script));
      if (rep % 2 === 0) {
        await runKd();
        await runBare();
      } else {
        await runBare();
        await runKd();
      }
      log(
        `  P1 N=${members} rep ${rep + 1}/${reps}: kdflow ${Math.round(kd.at(-1)?.ms ?? 0)} ms, bare ${Math.round(bare.at(-1) ?? 0)} ms`,
      );
    }
    const kdMs = kd.map((k) => k.ms);
    const ratios = kdMs.map((k, i) => k / (bare[i] as number));
    const sortedByMs = [...kd].sort((a, b) => a.ms - b.ms);
    const medianRun = sortedByMs[(sortedByMs.length - 1) >> 1] as (typeof kd)[number];
    rows.push({
      members,
      kdflowMs: spread(kdMs, 1),
      bareMs: spread(bare, 1),
      ratio: spread(ratios, 2),
      overheadPerMemberMs: spread(
        kdMs.map((k, i) => (k - (bare[i] as number)) / members),
        2,
      ),
      workerCpuPerMemberMs: spread(
        kd.map((k) => k.workerCpuMs / members),
        1,
      ),
      serverCpuPerMemberMs: spread(
        kd.map((k) => k.serverCpuMs / members),
        1,
      ),
      activities: medianRun.activities.map((a) => ({ ...a, queuedMs: round(a.queuedMs, 0), runMs: round(a.runMs, 0) })),
    });
  }
  return { maxParallel, rows };
}
