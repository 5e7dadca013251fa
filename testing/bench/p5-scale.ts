/**
 * P5, scale: many live one-member clusters on one worker process. Its RSS as the clusters are cached
 * (per cached cluster), worker and server CPU while idle, then a resize storm (one resize signal per
 * cluster): signal → first activity start and the time until every cluster converged, both from
 * history timestamps, and the CPU each resize cost the worker, its spawner and the dev server.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { memberName, resizeSignal, statusQuery } from '../../api/index.ts';
import { ROLE, benchApp, historyOf, inPool, isSettled, startCluster, writeScriptPackage } from './clusters.ts';
import { killAll } from '../processes.ts';
import { cpuSeconds, maxRssSampler, peakRssMiB, processesUnder, rssMiB, steadyRssMiB, type BenchEnv } from './env.ts';
import { kindOf, lastTaskCompletedMs, signalToActivityStartMs } from './history.ts';
import { percentile, round } from './stats.ts';

export interface MemorySample {
  /** Clusters created and settled so far. */
  clusters: number;
  cachedWorkflows: number;
  /** RSS as it was; then after a full GC of the main thread (the workflows' own isolate, in the SDK's workflow thread, is not collected), and the main thread's V8 heap then. */
  rssMiB: number;
  rssAfterGcMiB: number | null;
  heapUsedMiB: number;
  /** The workflow thread's V8 heap (where the cached workflows live), and after a full GC of it (KDFLOW_BENCH_WORKFLOW_GC=1). */
  workflowHeapUsedMiB?: number | null;
  workflowHeapAfterGcMiB?: number | null;
}

export interface ScaleResult {
  clusters: number;
  createSeconds: number;
  /** Clusters that settled in `config error` (a script's activity gave up), at creation and in the storm. */
  failed: { create: string[]; storm: string[] };
  keepAliveProcesses: number;
  /** The worker process's memory with no cluster, then after each quarter of the clusters settled (idle a moment), then after the idle window. */
  memory: MemorySample[];
  /** `workerRssMiB` as the process had it after the idle window; `workerRssAfterGcMiB` right after a full GC. */
  idle: {
    seconds: number;
    workerCpuPercent: number;
    serverCpuPercent: number;
    workerRssMiB: number;
    workerRssAfterGcMiB: number | null;
    serverRssMiB: number;
    cachedWorkflows: number;
  };
  /**
   * RSS after a main-thread GC, idle with every cluster cached, less the same for the empty worker once its
   * RSS is steady (steadyRssMiB), per cached workflow; and the slope from the first quarter on,
   * which leaves out one-time costs of the first workflows.
   */
  perCachedClusterMiB: number;
  marginalPerCachedClusterMiB: number;
  storm: {
    signalToActivityStartMs: { p50: number; p99: number; max: number };
    convergeSeconds: number;
    perClusterSettleMs: { p50: number; p99: number };
    /** CPU from the first signal until every cluster settled: the worker process, its spawner, the dev server. */
    cpu: { workerSeconds: number; spawnerSeconds: number; serverSeconds: number };
    /** The same per resize, in ms; `sumMs` is worker + spawner + server. */
    cpuPerResizeMs: { worker: number; spawner: number; server: number; sumMs: number };
    /** Status queries the bench itself sent while the storm ran (they cost worker and server CPU too). */
    benchQueries: number;
  };
  /** Peak RSS (VmHWM) of the worker process over the whole point (its start-up included), and the server's RSS after the storm. */
  workerPeakRssMiB: number;
  /** The largest RSS sampled every second from the steady empty worker to the end of the storm. */
  workerMaxRssMiB?: number;
  /** The local runtime's spawner process (runtimes/spawner.ts), when it runs. */
  spawnerRssMiB: number | null;
  serverRssAfterMiB: number;
  note: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Wait until every cluster settled at `generation`; returns the ones that settled in `config error`.
 * A marker file (the script's status file) says when a cluster is worth asking, so a thousand
 * clusters are not queried over and over; every `sweepMs` the rest are asked anyway, in case a
 * failure means the marker never comes. `queries` counts what was asked.
 */
async function waitAll(
  handles: WorkflowHandle[],
  generation: number,
  marker: (i: number) => string,
  log: (line: string) => void,
  check: () => void,
  queries = { count: 0 },
  timeoutMs = 900_000,
  sweepMs = 30_000,
): Promise<string[]> {
  let pending = handles.map((h, i) => ({ h, i }));
  const failed: string[] = [];
  const deadline = Date.now() + timeoutMs;
  let lastLog = Date.now();
  let lastSweep = Date.now();
  while (pending.length > 0) {
    check();
    if (Date.now() > deadline) {
      const stuck = await Promise.all(
        pending.slice(0, 3).map(async ({ h, i }) => {
          const status = await h.query(statusQuery).catch((error: Error) => ({ error: error.message }));
          const events = await historyOf(h).catch(() => []);
          return {
            workflowId: h.workflowId,
            marker: existsSync(marker(i)),
            status,
            lastEvents: events.slice(-6).map((e) => kindOf(e)),
          };
        }),
      );
      throw new Error(
        `${pending.length} clusters did not settle at generation ${generation}: ${JSON.stringify(stuck)}`,
      );
    }
    const sweep = Date.now() - lastSweep > sweepMs;
    if (sweep) lastSweep = Date.now();
    const ask = sweep ? pending : pending.filter(({ i }) => existsSync(marker(i)));
    const settled = new Set<number>();
    await inPool(ask, 16, async ({ h, i }) => {
      queries.count += 1;
      // A worker busy with the storm may let a query time out: ask again next round.
      const status = await h.query(statusQuery).catch(() => undefined);
      if (!status || !isSettled(generation)(status)) return;
      if (status.phase !== 'configured') failed.push(h.workflowId);
      settled.add(i);
    });
    pending = pending.filter(({ i }) => !settled.has(i));
    if (Date.now() - lastLog > 10_000) {
      log(`  P5: ${handles.length - pending.length}/${handles.length} settled at generation ${generation}`);
      lastLog = Date.now();
    }
    if (pending.length > 0) await sleep(250);
  }
  return failed;
}

const TASK_QUEUE = 'kdflow-bench-p5';

/** One-member clusters on a worker process of their own (its RSS and CPU are the worker's alone). */
export async function scalePoint(
  env: BenchEnv,
  clusters: number,
  log: (line: string) => void,
  idleSeconds = 10,
): Promise<ScaleResult> {
  const pkg = await writeScriptPackage(path.join(env.home, 'p5'));
  const app = benchApp(pkg.url);
  const names = Array.from({ length: clusters }, (_, i) => `p5-c${i}`);
  const statusFile = (i: number, event: string) =>
    path.join(
      env.runtime.memberRoot({
        namespace: 'default',
        cluster: names[i] as string,
        name: memberName(names[i] as string, ROLE, 0),
      }),
      'opt',
      'guestconfig',
      `${event}.status`,
    );
  const worker = await env.startWorkerProcess(TASK_QUEUE);
  const handles: WorkflowHandle[] = [];
  try {
    return await measure();
  } finally {
    // Nothing of P5 stays for the points after it: the workflows end, their members' processes go.
    await worker.stop();
    await inPool(handles, 32, (h) => h.terminate('bench point finished').catch(() => {}));
    killAll(await processesUnder(path.join(env.home, 'members', 'default')));
  }

  async function measure(): Promise<ScaleResult> {
    const server = env.serverPid;
    const serverCpu = () => (server ? cpuSeconds(server) : 0);
    const spawnerCpu = (pid: number | null) => (pid ? cpuSeconds(pid) : 0);
    const sample = async (settled: number): Promise<MemorySample> => {
      const s = await worker.sample(true);
      return {
        clusters: settled,
        cachedWorkflows: s.cachedWorkflows,
        rssMiB: s.rssMiB,
        rssAfterGcMiB: s.rssAfterGcMiB,
        heapUsedMiB: s.heapUsedMiB,
        workflowHeapUsedMiB: s.workflowHeapUsedMiB,
        workflowHeapAfterGcMiB: s.workflowHeapAfterGcMiB,
      };
    };
    await steadyRssMiB(worker);
    const memory: MemorySample[] = [await sample(0)];
    const rssMax = maxRssSampler(worker.pid);

    // Created a quarter at a time, with the worker's memory read while idle after each.
    const createFailed: string[] = [];
    let createMs = 0;
    const quarters = 4;
    for (let q = 0; q < quarters; q++) {
      const from = Math.floor((q * clusters) / quarters);
      const to = Math.floor(((q + 1) * clusters) / quarters);
      const t0 = Date.now();
      const started = await inPool(names.slice(from, to), 32, (name) =>
        startCluster(env, name, app, 1, {}, { namespace: 'default', taskQueue: TASK_QUEUE }),
      );
      handles.push(...started);
      createFailed.push(
        ...(await waitAll(
          started,
          1,
          (i) => statusFile(from + i, 'configure'),
          log,
          () => worker.assertRunning(),
        )),
      );
      createMs += Date.now() - t0;
      await sleep(2_000);
      memory.push(await sample(to));
      log(
        `  P5: ${to}/${clusters} clusters configured; worker RSS ${memory.at(-1)?.rssMiB} MiB (${memory.at(-1)?.rssAfterGcMiB} after GC), ${memory.at(-1)?.cachedWorkflows} cached`,
      );
    }
    const createSeconds = round(createMs / 1000, 1);

    // Idle: let the last tasks drain, then measure a quiet window.
    await sleep(5_000);
    const cpu0 = { worker: cpuSeconds(worker.pid), server: serverCpu() };
    await sleep(idleSeconds * 1000);
    const cpu1 = { worker: cpuSeconds(worker.pid), server: serverCpu() };
    const idleSample = await sample(clusters);
    memory.push(idleSample);
    const idle = {
      seconds: idleSeconds,
      workerCpuPercent: round(((cpu1.worker - cpu0.worker) / idleSeconds) * 100, 1),
      serverCpuPercent: round(((cpu1.server - cpu0.server) / idleSeconds) * 100, 1),
      workerRssMiB: idleSample.rssMiB,
      workerRssAfterGcMiB: idleSample.rssAfterGcMiB,
      serverRssMiB: server ? rssMiB(server) : 0,
      cachedWorkflows: idleSample.cachedWorkflows,
    };
    const retained = (m: MemorySample) => m.rssAfterGcMiB ?? m.rssMiB;
    const empty = memory[0] as MemorySample;
    const firstQuarter = memory[1] as MemorySample;
    const perCachedClusterMiB = round((retained(idleSample) - retained(empty)) / Math.max(idle.cachedWorkflows, 1), 3);
    const marginalPerCachedClusterMiB = round(
      (retained(idleSample) - retained(firstQuarter)) /
        Math.max(idle.cachedWorkflows - firstQuarter.cachedWorkflows, 1),
      3,
    );
    const keepAliveProcesses = (await processesUnder(path.join(env.home, 'members'))).length;
    log(
      `  P5 idle: worker ${idle.workerCpuPercent}% CPU ${idle.workerRssMiB} MiB (${idle.workerRssAfterGcMiB} after GC; ${perCachedClusterMiB} MiB per cached cluster), server ${idle.serverCpuPercent}% CPU ${idle.serverRssMiB} MiB, ${keepAliveProcesses} member processes`,
    );

    // The storm: one resize signal per cluster, as fast as the client sends them.
    const spawner = (await worker.sample()).spawnerPid;
    const stormCpu0 = { worker: cpuSeconds(worker.pid), spawner: spawnerCpu(spawner), server: serverCpu() };
    const queries = { count: 0 };
    const stormStart = Date.now();
    await inPool(handles, 32, (h) => h.signal(resizeSignal, { roles: { [ROLE]: 2 } }));
    const stormFailed = await waitAll(
      handles,
      2,
      (i) => statusFile(i, 'addnodes'),
      log,
      () => worker.assertRunning(),
      queries,
    );
    log(`  P5: storm settled after ${round((Date.now() - stormStart) / 1000, 1)} s (client view)`);
    const cpu = {
      workerSeconds: round(cpuSeconds(worker.pid) - stormCpu0.worker, 2),
      spawnerSeconds: round(spawnerCpu(spawner) - stormCpu0.spawner, 2),
      serverSeconds: round(serverCpu() - stormCpu0.server, 2),
    };
    const perResize = (seconds: number) => round((seconds * 1000) / clusters, 1);
    const cpuPerResizeMs = {
      worker: perResize(cpu.workerSeconds),
      spawner: perResize(cpu.spawnerSeconds),
      server: perResize(cpu.serverSeconds),
      sumMs: perResize(cpu.workerSeconds + cpu.spawnerSeconds + cpu.serverSeconds),
    };
    log(
      `  P5 storm CPU per resize: worker ${cpuPerResizeMs.worker} ms, spawner ${cpuPerResizeMs.spawner} ms, server ${cpuPerResizeMs.server} ms`,
    );
    const latencies: number[] = [];
    const settleMs: number[] = [];
    await inPool(handles, 16, async (h) => {
      const events = await historyOf(h);
      latencies.push(...signalToActivityStartMs(events));
      settleMs.push(lastTaskCompletedMs(events) - stormStart);
    });
    return {
      clusters,
      createSeconds,
      failed: { create: createFailed, storm: stormFailed },
      keepAliveProcesses,
      memory,
      idle,
      perCachedClusterMiB,
      marginalPerCachedClusterMiB,
      storm: {
        signalToActivityStartMs: {
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          max: Math.max(...latencies),
        },
        convergeSeconds: round(Math.max(...settleMs) / 1000, 1),
        perClusterSettleMs: { p50: percentile(settleMs, 50), p99: percentile(settleMs, 99) },
        cpu,
        cpuPerResizeMs,
        benchQueries: queries.count,
      },
      workerPeakRssMiB: peakRssMiB(worker.pid),
      workerMaxRssMiB: rssMax.stop(),
      spawnerRssMiB: spawner ? rssMiB(spawner) : null,
      serverRssAfterMiB: server ? rssMiB(server) : 0,
      note: 'the worker runs in a process of its own (testing/bench/worker-process.ts) on its own task queue; the bench process only drives and polls',
    };
  }
}
