/**
 * P6, a thousand members end to end on the local runtime: one cluster of one role created at 900
 * members, grown to 1,000 (the member cap), shrunk back to 900 and deleted, with an instant
 * startscript, on a worker process of its own. Per phase: the time (from history), the history it
 * wrote (bytes and events, per member-event), CPU, the worker's RSS and the status query's size
 * (the default page, the largest page and every page joined); and the input of any continue-as-new.
 */
import type { WorkflowHandle } from '@temporalio/client';
import path from 'node:path';
import { STATUS_PAGE_MAX, deleteSignal, resizeUpdate, statusQuery } from '../../api/index.ts';
import { fullStatus } from '../../lib/cluster-status.ts';
import { ROLE, benchApp, chainSize, runChain, startCluster, waitSettled, writeScriptPackage } from './clusters.ts';
import {
  cpuSeconds,
  maxRssSampler,
  peakRssMiB,
  processesUnder,
  steadyRssMiB,
  type BenchEnv,
  type WorkerProcess,
} from './env.ts';
import { bytesByKind, eventMs, settledAtMs, startInputBytes } from './history.ts';
import { round } from './stats.ts';

export interface StatusSize {
  members: number;
  /** The status query with no argument: the first page (100 members) and the per-role counts. */
  defaultPageBytes: number;
  /** The largest single answer when paging at the maximum (250 members). */
  largestPageBytes: number;
  pages: number;
  /** Every page joined into one status (lib/cluster-status.ts, as `kdflow get NAME` does). */
  fullBytes: number;
}

export interface ThousandPhase {
  phase: 'create' | 'grow' | 'shrink' | 'delete';
  membersBefore: number;
  membersAfter: number;
  seconds: number;
  /** Script runs (create: configure; grow: configure on the new + addnodes on the old; shrink: delnodes on the survivors) or, for delete, the members torn down. */
  memberEvents: number;
  events: number;
  bytes: number;
  eventsPerMemberEvent: number;
  bytesPerMemberEvent: number;
  cpu: { workerSeconds: number; spawnerSeconds: number; serverSeconds: number };
  /** The worker process's RSS when the phase ended, right after a full GC then, and its V8 heap then. */
  workerRssMiB: number;
  workerRssAfterGcMiB: number | null;
  workerHeapUsedMiB: number;
  /** The phase's history bytes by event kind, largest first (protobuf sizes: history.ts bytesByKind). */
  bytesByKind: Record<string, number>;
  status?: StatusSize;
}

export interface ThousandResult {
  created: number;
  peak: number;
  phases: ThousandPhase[];
  runs: number;
  /** Each continued run: after which phase it started, its whole input and the carried state alone. */
  continueAsNew: { afterPhase: string; inputBytes: number; carriedStateBytes: number }[];
  /** Once steady, before the cluster (env.ts steadyRssMiB). */
  workerRssAtStartMiB: number;
  /** VmHWM: the process's peak, its start-up (≈450 MiB while bundling) included. */
  workerPeakRssMiB: number;
  /** The largest RSS sampled every second from the steady start to the end of delete. */
  workerMaxRssMiB: number;
  /** Member processes (keep-alives, scripts) still running under the cluster's directory after delete. */
  leftoverProcesses: number;
  note: string;
}

const TASK_QUEUE = 'kdflow-bench-p6';
const bytesOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

async function statusSize(handle: WorkflowHandle): Promise<StatusSize> {
  const first = await handle.query(statusQuery);
  let largestPageBytes = 0;
  let pages = 0;
  for (let offset = 0; pages === 0 || offset < first.page.total; offset += STATUS_PAGE_MAX) {
    largestPageBytes = Math.max(
      largestPageBytes,
      bytesOf(await handle.query(statusQuery, { offset, limit: STATUS_PAGE_MAX })),
    );
    pages += 1;
  }
  return {
    members: first.page.total,
    defaultPageBytes: bytesOf(first),
    largestPageBytes,
    pages,
    fullBytes: bytesOf(await fullStatus(handle)),
  };
}

export async function thousandPoint(
  env: BenchEnv,
  sizes: { created: number; peak: number },
  log: (line: string) => void,
): Promise<ThousandResult> {
  const { created, peak } = sizes;
  const pkg = await writeScriptPackage(path.join(env.home, 'p6'));
  const name = `p6-n${peak}`;
  const worker = await env.startWorkerProcess(TASK_QUEUE);
  try {
    return await measure(worker);
  } finally {
    await worker.stop();
  }

  async function measure(w: WorkerProcess): Promise<ThousandResult> {
    const server = env.serverPid;
    const spawnerCpu = async () => {
      const pid = (await w.sample()).spawnerPid;
      return pid ? cpuSeconds(pid) : 0;
    };
    const cpuNow = async () => ({
      worker: cpuSeconds(w.pid),
      spawner: await spawnerCpu(),
      server: server ? cpuSeconds(server) : 0,
    });
    const workerRssAtStartMiB = await steadyRssMiB(w);
    const rssMax = maxRssSampler(w.pid);
    const settle = { pollMs: 500, timeoutMs: 1_800_000, check: () => w.assertRunning() };
    const phases: ThousandPhase[] = [];
    const phaseEnds: { phase: string; at: number }[] = [];
    let handle: WorkflowHandle | undefined;
    let previous = { events: 0, bytes: 0 };

    const phase = async (
      which: ThousandPhase['phase'],
      membersBefore: number,
      membersAfter: number,
      memberEvents: number,
      run: () => Promise<void>,
    ) => {
      const cpu0 = await cpuNow();
      const t0 = Date.now();
      await run();
      const h = handle as WorkflowHandle;
      const chain = (await runChain(env.client, h.workflowId)).flatMap((r) => r.events);
      const phaseEvents = chain.slice(previous.events);
      const end = which === 'delete' ? eventMs(chain.at(-1) ?? {}) : settledAtMs(chain);
      const cpu1 = await cpuNow();
      const memory = await w.sample(true);
      const size = await chainSize(env.client, h.workflowId);
      const events = size.events - previous.events;
      const bytes = size.bytes - previous.bytes;
      previous = size;
      phaseEnds.push({ phase: which, at: end });
      const entry: ThousandPhase = {
        phase: which,
        membersBefore,
        membersAfter,
        seconds: round((end - t0) / 1000, 1),
        memberEvents,
        events,
        bytes,
        eventsPerMemberEvent: round(events / memberEvents, 2),
        bytesPerMemberEvent: Math.round(bytes / memberEvents),
        cpu: {
          workerSeconds: round(cpu1.worker - cpu0.worker, 2),
          spawnerSeconds: round(cpu1.spawner - cpu0.spawner, 2),
          serverSeconds: round(cpu1.server - cpu0.server, 2),
        },
        workerRssMiB: memory.rssMiB,
        workerRssAfterGcMiB: memory.rssAfterGcMiB,
        workerHeapUsedMiB: memory.heapUsedMiB,
        bytesByKind: bytesByKind(phaseEvents),
        ...(which === 'delete' ? {} : { status: await statusSize(h) }),
      };
      phases.push(entry);
      log(
        `  P6 ${which} ${membersBefore} → ${membersAfter}: ${entry.seconds} s, ${entry.eventsPerMemberEvent} events and ${entry.bytesPerMemberEvent} B per member-event, worker RSS ${entry.workerRssMiB} MiB (${entry.workerRssAfterGcMiB} after GC)${entry.status ? `, status page ${entry.status.defaultPageBytes} B, full ${entry.status.fullBytes} B` : ''}`,
      );
    };

    await phase('create', 0, created, created, async () => {
      handle = await startCluster(
        env,
        name,
        benchApp(pkg.url),
        created,
        {},
        { namespace: 'default', taskQueue: TASK_QUEUE },
      );
      await waitSettled(handle, 1, settle);
    });
    const h = handle as WorkflowHandle;
    await phase('grow', created, peak, peak, async () => {
      await h.executeUpdate(resizeUpdate, { args: [{ roles: { [ROLE]: peak } }] });
      await waitSettled(h, 2, settle);
    });
    await phase('shrink', peak, created, created, async () => {
      await h.executeUpdate(resizeUpdate, { args: [{ roles: { [ROLE]: created } }] });
      await waitSettled(h, 3, settle);
    });
    await phase('delete', created, 0, created, async () => {
      await h.signal(deleteSignal);
      await h.result();
    });

    const runs = await runChain(env.client, h.workflowId);
    const continueAsNew = runs.slice(1).map((r) => {
      const input = startInputBytes(r.events);
      const at = eventMs(r.events[0] ?? {});
      return {
        afterPhase: phaseEnds.findLast((p) => p.at <= at)?.phase ?? 'create',
        inputBytes: input.bytes,
        carriedStateBytes: input.perArgument[1] ?? 0,
      };
    });
    return {
      created,
      peak,
      phases,
      runs: runs.length,
      continueAsNew,
      workerRssAtStartMiB,
      workerPeakRssMiB: peakRssMiB(w.pid),
      workerMaxRssMiB: rssMax.stop(),
      leftoverProcesses: (await processesUnder(path.join(env.home, 'members', 'default', name))).length,
      note: 'one role; the worker in a process of its own (testing/bench/worker-process.ts); phase times from the client call to the workflow task that settled it (delete: to the workflow closing)',
    };
  }
}
