/** The bench report: its shape, the headline figures against the targets and a Markdown summary (plots: report-plots.ts). Pure. */
import type { Machine } from './env.ts';
import type { OverheadResult } from './p1-overhead.ts';
import type { FanoutResult } from './p2-fanout.ts';
import type { LatencyResult, RuntimeLatency } from './p3-latency.ts';
import type { HistoryCostRow, LongRunResult } from './p4-history.ts';
import type { ScaleResult } from './p5-scale.ts';
import type { ThousandResult } from './p6-thousand.ts';

export type Outcome<T> = T | { error: string };

export interface BenchReport {
  generatedAt: string;
  commit: string;
  machine: Machine;
  conditions: {
    loadAverageAtEnd: number[];
    loadAverageDuring?: { samples: number; mean: number; max: number };
    sqlite: string;
    guestMounts: string;
    note: string;
  };
  durationSeconds: number;
  /** Wall time of each point. */
  pointSeconds?: Record<string, number>;
  p1?: Outcome<OverheadResult>;
  p2?: Outcome<FanoutResult>;
  p3?: Outcome<LatencyResult>;
  p4?: Outcome<{ costs: HistoryCostRow[]; longRun: LongRunResult }>;
  p5?: Outcome<ScaleResult>;
  p6?: Outcome<ThousandResult>;
  headline: Headline[];
  hotspots?: {
    before: string;
    after: string;
    rows: { metric: string; short: string; unit: string; before: number | null; after: number | null }[];
  };
}

export interface Headline {
  metric: string;
  /** A few words for a chart label. */
  short: string;
  unit: string;
  value: number | null;
  target: string;
  met: boolean | null;
}

export const ok = <T>(o: Outcome<T> | undefined): T | undefined =>
  o && typeof o === 'object' && !('error' in o) ? (o as T) : undefined;
/** P3 on Kubernetes when it ran (older reports hold a note, as text or object, instead). */
export const measured = (k: unknown) =>
  k && typeof k === 'object' && 'readyToConfiguredMs' in k ? (k as RuntimeLatency) : undefined;

/** Phases whose per-member-event cost should not grow with N (delete is one teardown, whatever N). */
const SCALED_PHASES = ['create', 'grow', 'shrink'] as const;

/**
 * How much a per-member-event cost grows with the cluster: the largest ratio of a bigger size's value
 * to a smaller size's, over every pair of sizes and every scaled phase. 1 or less: it does not grow.
 */
export function growthWithN(
  costs: HistoryCostRow[],
  value: (p: HistoryCostRow['phases'][number]) => number,
): number | undefined {
  const sorted = [...costs].sort((a, b) => a.members - b.members);
  if (sorted.length < 2) return undefined;
  let worst = 0;
  for (const phase of SCALED_PHASES) {
    const values = sorted.map((c) => c.phases.find((p) => p.phase === phase)).map((p) => (p ? value(p) : Number.NaN));
    for (let i = 0; i < values.length; i++)
      for (let j = i + 1; j < values.length; j++)
        worst = Math.max(worst, (values[j] as number) / (values[i] as number));
  }
  return Math.round(worst * 100) / 100;
}

const KiB = 1024;

/** The fastest kdflow run over the fastest bare run: the least disturbed of each, on a busy machine. */
export const fastestRatio = (x: OverheadResult['rows'][number]) =>
  Math.round((x.kdflowMs.min / x.bareMs.min) * 100) / 100;

export function headline(r: Pick<BenchReport, 'p1' | 'p2' | 'p3' | 'p4' | 'p5' | 'p6'>): Headline[] {
  const p1 = ok(r.p1);
  const p2 = ok(r.p2);
  const p3 = ok(r.p3);
  const p4 = ok(r.p4);
  const p5 = ok(r.p5);
  const p6 = ok(r.p6);
  const row100 = p1?.rows.find((x) => x.members === 100);
  const largest = p4?.costs.reduce<HistoryCostRow | undefined>(
    (a, c) => (!a || c.members > a.members ? c : a),
    undefined,
  );
  const sizes = p4?.costs.map((c) => c.members).sort((a, b) => a - b) ?? [];
  const worst = (row: HistoryCostRow | undefined, value: (p: HistoryCostRow['phases'][number]) => number) =>
    row ? Math.max(...row.phases.filter((p) => p.phase !== 'delete').map(value)) : undefined;
  const n = p5?.clusters ?? 1000;
  const h = (
    metric: string,
    short: string,
    unit: string,
    value: number | undefined,
    target: string,
    test?: (v: number) => boolean,
  ): Headline => ({
    metric,
    short,
    unit,
    value: value !== undefined && Number.isFinite(value) ? value : null,
    target,
    met: value === undefined || !Number.isFinite(value) || !test ? null : test(value),
  });
  const phase6 = (name: string) => p6?.phases.find((p) => p.phase === name);
  const largestCarried =
    p6 && p6.continueAsNew.length > 0 ? Math.max(...p6.continueAsNew.map((c) => c.carriedStateBytes)) : undefined;
  const largestInput =
    p6 && p6.continueAsNew.length > 0 ? Math.max(...p6.continueAsNew.map((c) => c.inputBytes)) : undefined;
  const statusAt = (pick: (s: NonNullable<ThousandResult['phases'][number]['status']>) => number) =>
    p6 ? Math.max(...p6.phases.flatMap((p) => (p.status ? [pick(p.status)] : []))) : undefined;
  const p6Worst = p6
    ? Math.max(...p6.phases.filter((p) => p.phase !== 'delete').map((p) => p.bytesPerMemberEvent))
    : undefined;
  const cpu = p5?.storm.cpuPerResizeMs;
  return [
    h('P1 overhead ratio, 100 members', 'P1 ratio', '×', row100?.ratio.median, '≤ 1.15', (v) => v <= 1.15),
    h(
      'P1 fastest kdflow run over fastest bare run, 100 members',
      'P1 fastest ratio',
      '×',
      row100 ? fastestRatio(row100) : undefined,
      '',
    ),
    h('P1 overhead per member, 100 members', 'P1 ms/member', 'ms', row100?.overheadPerMemberMs.median, ''),
    h('P2 fan-out ratio, 20 × 500 ms', 'P2 ratio', '×', p2?.ratio.median, '≤ 0.1', (v) => v <= 0.1),
    h(
      'P3 ready (launchMembers done) → configured, local runtime',
      'P3 local',
      'ms',
      p3?.readyToConfiguredMs.median,
      '≤ 1000',
      (v) => v <= 1000,
    ),
    h(
      'P3 ready (launchMembers done) → configured, Kubernetes runtime (harness)',
      'P3 k8s',
      'ms',
      measured(p3?.kubernetes)?.readyToConfiguredMs.median,
      '≤ 1000',
      (v) => v <= 1000,
    ),
    h(
      `P4 events per member-event, ${largest?.members ?? '?'} members (worst phase)`,
      'P4 events',
      'events',
      worst(largest, (p) => p.perMemberEvent),
      '≤ 10',
      (v) => v <= 10,
    ),
    h(
      `P4 history bytes per member-event, ${largest?.members ?? '?'} members (worst phase)`,
      'P4 bytes',
      'bytes',
      worst(largest, (p) => p.bytesPerMemberEvent),
      '',
    ),
    h(
      `P4 bytes per member-event, growth over ${sizes.join(', ')} members (worst phase and pair)`,
      'P4 bytes growth',
      '×',
      p4 ? growthWithN(p4.costs, (p) => p.bytesPerMemberEvent) : undefined,
      '≤ 1.2 (constant in N)',
      (v) => v <= 1.2,
    ),
    h(
      `P4 events per member-event, growth over ${sizes.join(', ')} members (worst phase and pair)`,
      'P4 events growth',
      '×',
      p4 ? growthWithN(p4.costs, (p) => p.perMemberEvent) : undefined,
      '≤ 1.2 (constant in N)',
      (v) => v <= 1.2,
    ),
    h(
      `P4 longest run over ${p4?.longRun.resizes ?? 500} resizes`,
      'P4 longest run',
      'events',
      p4?.longRun.maxEventsPerRun,
      "≤ 4352 (the server's 4,096 suggestion + one resize)",
      (v) => v <= 4096 + 256,
    ),
    h(`P5 ${n} clusters: created and configured`, 'P5 create', 's', p5?.createSeconds, ''),
    h(
      `P5 ${n} clusters: settled in config error`,
      'P5 failed',
      'clusters',
      p5?.failed ? p5.failed.create.length + p5.failed.storm.length : undefined,
      '0',
      (v) => v === 0,
    ),
    h(`P5 ${n} idle clusters: worker RSS`, 'P5 RSS', 'MiB', p5?.idle?.workerRssMiB, '≤ 512', (v) => v <= 512),
    h(
      `P5 ${n} idle clusters: worker RSS per cached cluster (over the steady empty worker)`,
      'P5 MiB/cluster',
      'MiB',
      p5?.perCachedClusterMiB,
      '≤ 0.3',
      (v) => v <= 0.3,
    ),
    h(
      `P5 ${n} clusters: worker RSS, largest sampled (creation and storm)`,
      'P5 max RSS',
      'MiB',
      p5?.workerMaxRssMiB,
      '',
    ),
    h(`P5 ${n} clusters: idle server CPU`, 'P5 idle CPU', '% of a core', p5?.idle.serverCpuPercent, ''),
    h(
      `P5 ${n} clusters: worker CPU per resize (worker process + spawner)`,
      'P5 worker CPU',
      'ms',
      cpu ? Math.round((cpu.worker + cpu.spawner) * 10) / 10 : undefined,
      '',
    ),
    h(`P5 ${n} clusters: server CPU per resize`, 'P5 server CPU', 'ms', cpu?.server, ''),
    h(`P5 ${n} clusters: CPU per resize, worker + server`, 'P5 CPU/resize', 'ms', cpu?.sumMs, '≤ 60', (v) => v <= 60),
    h(
      `P5 ${n} clusters: storm signal → first activity p50`,
      'P5 signal p50',
      'ms',
      p5?.storm.signalToActivityStartMs.p50,
      '',
    ),
    h(
      `P5 ${n} clusters: storm signal → first activity p99`,
      'P5 signal p99',
      'ms',
      p5?.storm.signalToActivityStartMs.p99,
      '≤ 2000',
      (v) => v <= 2000,
    ),
    h(`P5 ${n} clusters: storm, all converged`, 'P5 converged', 's', p5?.storm.convergeSeconds, ''),
    h(`P6 create ${p6?.created ?? '?'} members`, 'P6 create', 's', phase6('create')?.seconds, ''),
    h(`P6 grow ${p6?.created ?? '?'} → ${p6?.peak ?? '?'}`, 'P6 grow', 's', phase6('grow')?.seconds, ''),
    h(`P6 shrink ${p6?.peak ?? '?'} → ${p6?.created ?? '?'}`, 'P6 shrink', 's', phase6('shrink')?.seconds, ''),
    h(`P6 delete ${p6?.created ?? '?'} members`, 'P6 delete', 's', phase6('delete')?.seconds, ''),
    h('P6 history bytes per member-event (worst of create, grow, shrink)', 'P6 bytes', 'bytes', p6Worst, ''),
    h(
      'P6 status query, default page (first 100 members and counts), largest seen',
      'P6 status page',
      'bytes',
      statusAt((s) => s.defaultPageBytes),
      '',
    ),
    h(
      'P6 status query, largest page (250 members)',
      'P6 largest page',
      'bytes',
      statusAt((s) => s.largestPageBytes),
      '≤ 262144 (256 KiB, ADR 0013)',
      (v) => v <= 256 * KiB,
    ),
    h(
      'P6 status, every page joined (largest seen)',
      'P6 full status',
      'bytes',
      statusAt((s) => s.fullBytes),
      '',
    ),
    h(
      'P6 continue-as-new: carried state (largest)',
      'P6 carried',
      'bytes',
      largestCarried,
      '≤ 524288 (512 KiB, ADR 0013)',
      (v) => v <= 512 * KiB,
    ),
    h('P6 continue-as-new: whole input (largest)', 'P6 CAN input', 'bytes', largestInput, ''),
    h(`P6 ${p6?.peak ?? '?'} members: worker RSS, largest sampled`, 'P6 max RSS', 'MiB', p6?.workerMaxRssMiB, ''),
    h('P6 member processes left after delete', 'P6 leftovers', 'processes', p6?.leftoverProcesses, '0', (v) => v === 0),
  ];
}

/**
 * Before and after, metric by metric. Headlines are recomputed from each report's data, so the
 * labels match; a P5 label names its cluster count, so only runs of the same size are compared.
 * `afters` are searched in order (the full run first, then smaller runs made for the comparison).
 */
export function compareHotspots(before: BenchReport, afters: BenchReport[]): NonNullable<BenchReport['hotspots']> {
  const afterHeadlines = afters.map((a) => headline(a));
  return {
    before: before.commit,
    after: [...new Set(afters.map((a) => a.commit))].join(', '),
    rows: headline(before).flatMap((b) => {
      const after = afterHeadlines.map((hs) => hs.find((h) => h.metric === b.metric && h.value !== null)).find(Boolean);
      // A metric no later run measured at the same size is not a comparison.
      return after ? [{ metric: b.metric, short: b.short, unit: b.unit, before: b.value, after: after.value }] : [];
    }),
  };
}

const fmt = (v: number | null) => (v === null ? '—' : String(v));

const kib = (bytes: number) => `${Math.round((bytes / 1024) * 10) / 10} KiB`;

export function markdown(r: BenchReport): string {
  const during = r.conditions.loadAverageDuring;
  const lines = [
    `# kdflow bench (${r.generatedAt}, ${r.commit})`,
    '',
    `${r.machine.cores} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, ${r.machine.kernel}; Node ${r.machine.node}; Temporal CLI ${r.machine.temporalCli}, SDK ${r.machine.temporalSdk}.`,
    `Load average at start ${r.machine.loadAverageAtStart.join(' ')}, at end ${r.conditions.loadAverageAtEnd.join(' ')}${during && during.samples > 0 ? `; during the run (1-minute, every 30 s) mean ${during.mean}, max ${during.max}` : ''}; ${r.durationSeconds} s in all${
      r.pointSeconds
        ? ` (${Object.entries(r.pointSeconds)
            .map(([k, v]) => `${k} ${v} s`)
            .join(', ')})`
        : ''
    }. ${r.conditions.note}`,
    '',
    '| metric | value | target | met |',
    '|---|---|---|---|',
    ...r.headline.map(
      (x) =>
        `| ${x.metric} | ${fmt(x.value)} ${x.unit} | ${x.target || '—'} | ${x.met === null ? '—' : x.met ? 'yes' : 'no'} |`,
    ),
  ];
  const p1 = ok(r.p1);
  if (p1) {
    lines.push(
      '',
      '| members | runs | kdflow ms (min–max) | bare ms (min–max) | ratio, paired (min–max) | fastest / fastest | overhead ms/member |',
      '|---|---|---|---|---|---|---|',
    );
    for (const x of p1.rows)
      lines.push(
        `| ${x.members} | ${x.kdflowMs.runs.length} | ${x.kdflowMs.median} (${x.kdflowMs.min}–${x.kdflowMs.max}) | ${x.bareMs.median} (${x.bareMs.min}–${x.bareMs.max}) | ${x.ratio.median} (${x.ratio.min}–${x.ratio.max}) | ${fastestRatio(x)} | ${x.overheadPerMemberMs.median} |`,
      );
  }
  const p4 = ok(r.p4);
  if (p4) {
    lines.push(
      '',
      'P4: at N members, created at N/2, grown to N, shrunk to N/2, deleted.',
      '',
      '| members | phase | events | per member-event | bytes | bytes per member-event |',
      '|---|---|---|---|---|---|',
    );
    for (const c of p4.costs)
      for (const p of c.phases)
        lines.push(
          `| ${c.members} | ${p.phase} | ${p.events} | ${p.perMemberEvent} | ${p.bytes} | ${p.bytesPerMemberEvent} |`,
        );
    for (const c of p4.costs)
      if (c.runs > 1)
        lines.push(
          '',
          `${c.members} members: ${c.runs} runs; continue-as-new inputs ${c.continueAsNewInputBytes.map(kib).join(', ')}.`,
        );
    lines.push(
      '',
      `Long run: ${p4.longRun.resizes} resizes in ${p4.longRun.seconds} s, ${p4.longRun.runs} runs of ${p4.longRun.eventsPerRun.join(', ')} events${p4.longRun.continueAsNewInputBytes?.length ? `; continue-as-new inputs ${p4.longRun.continueAsNewInputBytes.map(kib).join(', ')}` : ''}.`,
    );
  }
  const p5 = ok(r.p5);
  if (p5?.memory) {
    lines.push(
      '',
      `P5 worker process memory (${p5.clusters} one-member clusters; idle a moment after each quarter, the last row after the idle window):`,
      '',
      '| clusters | cached workflows | RSS MiB | RSS after a main-thread GC MiB | main-thread V8 heap used MiB | workflow-thread V8 heap used MiB | … after its full GC MiB |',
      '|---|---|---|---|---|---|---|',
    );
    for (const m of p5.memory)
      lines.push(
        `| ${m.clusters} | ${m.cachedWorkflows} | ${m.rssMiB} | ${m.rssAfterGcMiB ?? '—'} | ${m.heapUsedMiB} | ${m.workflowHeapUsedMiB ?? '—'} | ${m.workflowHeapAfterGcMiB ?? '—'} |`,
      );
    const first = p5.memory[0];
    const last = p5.memory.at(-1);
    if (first?.workflowHeapAfterGcMiB != null && last?.workflowHeapAfterGcMiB != null && last.cachedWorkflows > 0)
      lines.push(
        '',
        `Live workflow-thread heap per cached workflow (after a full GC of that thread): ${Math.round(((last.workflowHeapAfterGcMiB - first.workflowHeapAfterGcMiB) / last.cachedWorkflows) * 1000) / 1000} MiB.`,
      );
    const c = p5.storm.cpu;
    lines.push(
      '',
      "The workflows run in the SDK's workflow thread, a V8 isolate the main-thread GC does not reach: the main-thread heap is the driver and the activities.",
      '',
      `Per cached cluster: ${p5.perCachedClusterMiB} MiB over the empty worker, ${p5.marginalPerCachedClusterMiB} MiB from the first quarter on. Storm CPU: worker ${c.workerSeconds} s, spawner ${c.spawnerSeconds} s, server ${c.serverSeconds} s (${p5.storm.benchQueries} status queries from the bench meanwhile).`,
    );
  }
  const p6 = ok(r.p6);
  if (p6) {
    lines.push(
      '',
      `P6: ${p6.created} → ${p6.peak} → ${p6.created} → deleted, one cluster, instant script.`,
      '',
      '| phase | members | s | member-events | events | per member-event | bytes | bytes per member-event | CPU s worker / spawner / server | worker RSS MiB (after a main-thread GC; main-thread heap) | status: default page / largest page / full |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const p of p6.phases)
      lines.push(
        `| ${p.phase} | ${p.membersBefore} → ${p.membersAfter} | ${p.seconds} | ${p.memberEvents} | ${p.events} | ${p.eventsPerMemberEvent} | ${p.bytes} | ${p.bytesPerMemberEvent} | ${p.cpu.workerSeconds} / ${p.cpu.spawnerSeconds} / ${p.cpu.serverSeconds} | ${p.workerRssMiB} (${p.workerRssAfterGcMiB ?? '—'}; heap ${p.workerHeapUsedMiB ?? '—'}) | ${p.status ? `${kib(p.status.defaultPageBytes)} / ${kib(p.status.largestPageBytes)} / ${kib(p.status.fullBytes)} (${p.status.pages} pages)` : '—'} |`,
      );
    for (const p of p6.phases)
      if (p.bytesByKind)
        lines.push(
          '',
          `${p.phase}: bytes per member-event by event kind: ${Object.entries(p.bytesByKind)
            .slice(0, 6)
            .map(([k, b]) => `${k} ${Math.round(b / p.memberEvents)}`)
            .join(', ')}.`,
        );
    lines.push(
      '',
      `${p6.runs} run(s); ${p6.continueAsNew.length > 0 ? p6.continueAsNew.map((c) => `continued as new after ${c.afterPhase}: input ${kib(c.inputBytes)}, carried state ${kib(c.carriedStateBytes)}`).join('; ') : 'no continue-as-new'}. Worker RSS ${p6.workerRssAtStartMiB} MiB at start (steady), at most ${p6.workerMaxRssMiB} MiB while it ran (sampled every second; the process's own peak, start-up bundling included, ${p6.workerPeakRssMiB} MiB); ${p6.leftoverProcesses} member processes left after delete.`,
    );
  }
  if (r.hotspots) {
    lines.push(
      '',
      `Hot spots: before ${r.hotspots.before}, after ${r.hotspots.after}`,
      '',
      '| metric | before | after |',
      '|---|---|---|',
    );
    for (const x of r.hotspots.rows)
      lines.push(`| ${x.metric} | ${fmt(x.before)} ${x.unit} | ${fmt(x.after)} ${x.unit} |`);
  }
  const p3 = ok(r.p3);
  if (p3 && !measured(p3.kubernetes))
    lines.push('', `P3 on Kubernetes: ${(p3.kubernetes as { note?: string }).note ?? String(p3.kubernetes)}`);
  for (const [name, o] of Object.entries({ p1: r.p1, p2: r.p2, p3: r.p3, p4: r.p4, p5: r.p5, p6: r.p6 }))
    if (o && 'error' in (o as object)) lines.push('', `${name} failed: ${(o as { error: string }).error}`);
  return `${lines.join('\n')}\n`;
}
