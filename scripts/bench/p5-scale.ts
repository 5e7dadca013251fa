/**
 * P5, scale: many live one-member clusters on one worker. Worker RSS and server CPU while idle, then
 * a resize storm (one resize signal per cluster): signal → first activity start, and the time until
 * every cluster converged, both from history timestamps.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { memberName, resizeSignal, statusQuery } from '../../api/index.ts';
import { ROLE, benchApp, historyOf, inPool, isSettled, startCluster, writeScriptPackage } from './clusters.ts';
import { cpuSeconds, peakRssMiB, processesUnder, rssMiB, type BenchEnv } from './env.ts';
import { kindOf, lastTaskCompletedMs, signalToActivityStartMs } from './history.ts';
import { percentile, round } from './stats.ts';
import { spawnerPid } from '../../runtimes/spawner.ts';

export interface ScaleResult {
  clusters: number;
  createSeconds: number;
  /** Clusters that settled in `config error` (a script's activity gave up), at creation and in the storm. */
  failed: { create: string[]; storm: string[] };
  keepAliveProcesses: number;
  idle: { seconds: number; workerCpuPercent: number; serverCpuPercent: number; workerRssMiB: number; serverRssMiB: number };
  storm: {
    signalToActivityStartMs: { p50: number; p99: number; max: number };
    convergeSeconds: number;
    perClusterSettleMs: { p50: number; p99: number };
    /** CPU used from the first signal until every cluster settled (the worker's includes the bench's polling). */
    cpu: { workerSeconds: number; serverSeconds: number };
  };
  /** Peak RSS (VmHWM) of the worker process over the whole point, and the server's RSS after the storm. */
  workerPeakRssMiB: number;
  /** The local runtime's spawner process (runtimes/spawner.ts), when it runs. */
  spawnerRssMiB: number | null;
  serverRssAfterMiB: number;
  note: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Wait until every cluster settled at `generation`; returns the ones that settled in `config error`.
 * A marker file (the script's status file) says when a cluster is worth asking, so a thousand
 * clusters are not queried over and over; every few seconds the rest are asked anyway, in case a
 * failure means the marker never comes.
 */
async function waitAll(handles: WorkflowHandle[], generation: number, marker: (i: number) => string, log: (line: string) => void, timeoutMs = 480_000): Promise<string[]> {
  let pending = handles.map((h, i) => ({ h, i }));
  const failed: string[] = [];
  const deadline = Date.now() + timeoutMs;
  let lastLog = Date.now();
  let lastSweep = Date.now();
  while (pending.length > 0) {
    if (Date.now() > deadline) {
      const stuck = await Promise.all(
        pending.slice(0, 3).map(async ({ h, i }) => {
          const status = await h.query(statusQuery).catch((error: Error) => ({ error: error.message }));
          const events = await historyOf(h).catch(() => []);
          return { workflowId: h.workflowId, marker: existsSync(marker(i)), status, lastEvents: events.slice(-6).map((e) => kindOf(e)) };
        }),
      );
      throw new Error(`${pending.length} clusters did not settle at generation ${generation}: ${JSON.stringify(stuck)}`);
    }
    const sweep = Date.now() - lastSweep > 5_000;
    if (sweep) lastSweep = Date.now();
    const ask = sweep ? pending : pending.filter(({ i }) => existsSync(marker(i)));
    const settled = new Set<number>();
    await inPool(ask, 16, async ({ h, i }) => {
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

export async function scalePoint(env: BenchEnv, clusters: number, log: (line: string) => void, idleSeconds = 10): Promise<ScaleResult> {
  const pkg = await writeScriptPackage(path.join(env.home, 'p5'));
  const app = benchApp(pkg.url);
  const names = Array.from({ length: clusters }, (_, i) => `p5-c${i}`);
  const statusFile = (i: number, event: string) =>
    path.join(env.runtime.memberRoot({ namespace: 'default', cluster: names[i] as string, name: memberName(names[i] as string, ROLE, 0) }), 'opt', 'guestconfig', `${event}.status`);

  const t0 = Date.now();
  const handles = await inPool(names, 32, (name) => startCluster(env, name, app, 1));
  const createFailed = await waitAll(handles, 1, (i) => statusFile(i, 'configure'), log);
  const createSeconds = round((Date.now() - t0) / 1000, 1);
  log(`  P5: ${clusters} clusters configured in ${createSeconds} s`);

  // Idle: let the last tasks drain, then measure a quiet window.
  await sleep(5_000);
  const server = env.serverPid;
  const cpu0 = { worker: cpuSeconds(process.pid), server: server ? cpuSeconds(server) : 0 };
  await sleep(idleSeconds * 1000);
  const cpu1 = { worker: cpuSeconds(process.pid), server: server ? cpuSeconds(server) : 0 };
  const idle = {
    seconds: idleSeconds,
    workerCpuPercent: round(((cpu1.worker - cpu0.worker) / idleSeconds) * 100, 1),
    serverCpuPercent: round(((cpu1.server - cpu0.server) / idleSeconds) * 100, 1),
    workerRssMiB: rssMiB(process.pid),
    serverRssMiB: server ? rssMiB(server) : 0,
  };
  const keepAliveProcesses = processesUnder(path.join(env.home, 'members')).length;
  log(`  P5 idle: worker ${idle.workerCpuPercent}% CPU ${idle.workerRssMiB} MiB, server ${idle.serverCpuPercent}% CPU ${idle.serverRssMiB} MiB, ${keepAliveProcesses} member processes`);

  // The storm: one resize signal per cluster, as fast as the client sends them.
  const stormCpu0 = { worker: cpuSeconds(process.pid), server: server ? cpuSeconds(server) : 0 };
  const stormStart = Date.now();
  await inPool(handles, 32, (h) => h.signal(resizeSignal, { roles: { [ROLE]: 2 } }));
  const stormFailed = await waitAll(handles, 2, (i) => statusFile(i, 'addnodes'), log);
  log(`  P5: storm settled after ${round((Date.now() - stormStart) / 1000, 1)} s (client view)`);
  const stormCpu = { workerSeconds: round(cpuSeconds(process.pid) - stormCpu0.worker, 1), serverSeconds: round((server ? cpuSeconds(server) : 0) - stormCpu0.server, 1) };
  const spawner = spawnerPid();
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
    idle,
    storm: {
      signalToActivityStartMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies) },
      convergeSeconds: round(Math.max(...settleMs) / 1000, 1),
      perClusterSettleMs: { p50: percentile(settleMs, 50), p99: percentile(settleMs, 99) },
      cpu: stormCpu,
    },
    workerPeakRssMiB: peakRssMiB(process.pid),
    spawnerRssMiB: spawner ? rssMiB(spawner) : null,
    serverRssAfterMiB: server ? rssMiB(server) : 0,
    note: 'the worker runs in the bench process, so its RSS and CPU include the bench driver and client (small next to the worker)',
  };
}
