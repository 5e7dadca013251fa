/**
 * P4, history cost: events and bytes per member per lifecycle event (create N/2, grow to N, shrink to
 * N/2, delete), which should not grow with N, and the length of each run of one cluster across many
 * resizes (continue-as-new bounds it).
 */
import path from 'node:path';
import { resizeUpdate } from '../../api/index.ts';
import {
  ROLE,
  benchApp,
  chainSize,
  deleteCluster,
  runChain,
  startCluster,
  waitSettled,
  writeScriptPackage,
} from './clusters.ts';
import type { BenchEnv } from './env.ts';
import { bytesByKind, countKinds, startInputBytes } from './history.ts';
import { round } from './stats.ts';

export interface PhaseCost {
  phase: 'create' | 'grow' | 'shrink' | 'delete';
  events: number;
  /** History bytes the phase added (the server's count, continued runs included), and per member-event. */
  bytes: number;
  bytesPerMemberEvent: number;
  /** Script runs (create: N/2 configure; grow: N/2 configure + N/2 addnodes; shrink: N/2 delnodes) or, for delete, members removed. */
  memberEvents: number;
  perMemberEvent: number;
}

export interface HistoryCostRow {
  /** The peak: created at `created` (N/2), grown to N, shrunk back. */
  members: number;
  created: number;
  phases: PhaseCost[];
  /** Workflow runs over the lifecycle, and the input bytes of each continued run (the carried state). */
  runs: number;
  continueAsNewInputBytes: number[];
  /** Event kinds over the whole lifecycle, to see where the events go, and their bytes (history.ts bytesByKind). */
  kinds: Record<string, number>;
  bytesByKind: Record<string, number>;
}

export interface LongRunResult {
  resizes: number;
  runs: number;
  eventsPerRun: number[];
  maxEventsPerRun: number;
  /** Input bytes of each continued run: the carried state of a 1–2 member cluster. */
  continueAsNewInputBytes: number[];
  totalEvents: number;
  seconds: number;
  note: string;
}

/**
 * At N members: create N/2, grow to N, shrink to N/2, delete. N is the peak, so the largest size is
 * the member cap (1,000) itself. Member-events: create N/2 configure; grow N/2 configure + N/2
 * addnodes; shrink N/2 delnodes (on the survivors); delete, the members torn down.
 */
export async function historyCostPoint(
  env: BenchEnv,
  sizes: number[],
  log: (line: string) => void,
): Promise<HistoryCostRow[]> {
  const pkg = await writeScriptPackage(path.join(env.home, 'p4'));
  const rows: HistoryCostRow[] = [];
  for (const n of sizes) {
    const half = Math.ceil(n / 2);
    const poll = { pollMs: n >= 500 ? 250 : 50 };
    const handle = await startCluster(env, `p4-n${n}`, benchApp(pkg.url), half);
    const marks: { events: number; bytes: number }[] = [];
    await waitSettled(handle, 1, poll);
    marks.push(await chainSize(env.client, handle.workflowId));
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { [ROLE]: n } }] });
    await waitSettled(handle, 2, poll);
    marks.push(await chainSize(env.client, handle.workflowId));
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { [ROLE]: half } }] });
    await waitSettled(handle, 3, poll);
    marks.push(await chainSize(env.client, handle.workflowId));
    await deleteCluster(handle);
    marks.push(await chainSize(env.client, handle.workflowId));
    const runs = await runChain(env.client, handle.workflowId);
    const phaseNames = ['create', 'grow', 'shrink', 'delete'] as const;
    const memberEvents = [half, 2 * (n - half), n - half, half];
    const phases = phaseNames.map((phase, i) => {
      const previous = i === 0 ? { events: 0, bytes: 0 } : (marks[i - 1] as { events: number; bytes: number });
      const events = (marks[i] as { events: number }).events - previous.events;
      const bytes = (marks[i] as { bytes: number }).bytes - previous.bytes;
      const per = memberEvents[i] as number;
      return {
        phase,
        events,
        bytes,
        memberEvents: per,
        perMemberEvent: round(events / per, 2),
        bytesPerMemberEvent: Math.round(bytes / per),
      };
    });
    const continued = runs.slice(1).map((r) => startInputBytes(r.events).bytes);
    rows.push({
      members: n,
      created: half,
      phases,
      runs: runs.length,
      continueAsNewInputBytes: continued,
      kinds: countKinds(runs.flatMap((r) => r.events)),
      bytesByKind: bytesByKind(runs.flatMap((r) => r.events)),
    });
    log(
      `  P4 N=${n}: ${phases.map((p) => `${p.phase} ${p.perMemberEvent} events ${p.bytesPerMemberEvent} B`).join(', ')} per member-event; ${runs.length} run(s)`,
    );
  }
  return rows;
}

/** One cluster resized `resizes` times (1 ↔ 2 members, each resize settled before the next), with the server's own continue-as-new suggestion. */
export async function longRunPoint(
  env: BenchEnv,
  resizes: number,
  log: (line: string) => void,
): Promise<LongRunResult> {
  // No config package: members come and go without scripts, so the time goes to history, not processes.
  const handle = await startCluster(env, 'p4-long', benchApp(null), 1);
  await waitSettled(handle, 1, { pollMs: 10 });
  const t0 = performance.now();
  for (let i = 1; i <= resizes; i++) {
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { [ROLE]: 1 + (i % 2) } }] });
    await waitSettled(handle, i + 1, { pollMs: 10 });
    if (i % 100 === 0) log(`  P4 long run: ${i}/${resizes} resizes`);
  }
  const seconds = round((performance.now() - t0) / 1000, 1);
  const runs = await runChain(env.client, handle.workflowId);
  await deleteCluster(handle);
  const eventsPerRun = runs.map((r) => r.events.length);
  return {
    resizes,
    runs: runs.length,
    eventsPerRun,
    maxEventsPerRun: Math.max(...eventsPerRun),
    continueAsNewInputBytes: runs.slice(1).map((r) => startInputBytes(r.events).bytes),
    totalEvents: eventsPerRun.reduce((a, b) => a + b, 0),
    seconds,
    note: 'no maxHistoryEvents option: the run continues as new when the server suggests it (4,096 events by default), once the cluster is idle',
  };
}
