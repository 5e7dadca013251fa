/** The bench report: its shape, the headline figures against the targets, the plots and a Markdown summary. Pure. */
import type { Machine } from './env.ts';
import type { OverheadResult } from './p1-overhead.ts';
import type { FanoutResult } from './p2-fanout.ts';
import type { LatencyResult, RuntimeLatency } from './p3-latency.ts';
import type { HistoryCostRow, LongRunResult } from './p4-history.ts';
import type { ScaleResult } from './p5-scale.ts';
import { barChart, lineChart } from './svg.ts';

export type Outcome<T> = T | { error: string };

export interface BenchReport {
  generatedAt: string;
  commit: string;
  machine: Machine;
  conditions: { loadAverageAtEnd: number[]; sqlite: string; guestMounts: string; note: string };
  durationSeconds: number;
  p1?: Outcome<OverheadResult>;
  p2?: Outcome<FanoutResult>;
  p3?: Outcome<LatencyResult>;
  p4?: Outcome<{ costs: HistoryCostRow[]; longRun: LongRunResult }>;
  p5?: Outcome<ScaleResult>;
  headline: Headline[];
  hotspots?: { before: string; after: string; rows: { metric: string; short: string; unit: string; before: number | null; after: number | null }[] };
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

const ok = <T>(o: Outcome<T> | undefined): T | undefined => (o && typeof o === 'object' && !('error' in o) ? (o as T) : undefined);
/** P3 on Kubernetes when it ran (older reports hold a note, as text or object, instead). */
const measured = (k: unknown) => (k && typeof k === 'object' && 'readyToConfiguredMs' in k ? (k as RuntimeLatency) : undefined);

export function headline(r: Pick<BenchReport, 'p1' | 'p2' | 'p3' | 'p4' | 'p5'>): Headline[] {
  const p1 = ok(r.p1);
  const p2 = ok(r.p2);
  const p3 = ok(r.p3);
  const p4 = ok(r.p4);
  const p5 = ok(r.p5);
  const row100 = p1?.rows.find((x) => x.members === 100);
  const cost100 = p4?.costs.find((x) => x.members === 100);
  const n = p5?.clusters ?? 1000;
  const worstPerEvent = cost100 ? Math.max(...cost100.phases.filter((p) => p.phase !== 'delete').map((p) => p.perMemberEvent)) : undefined;
  const h = (metric: string, short: string, unit: string, value: number | undefined, target: string, test?: (v: number) => boolean): Headline => ({
    metric,
    short,
    unit,
    value: value !== undefined && Number.isFinite(value) ? value : null,
    target,
    met: value === undefined || !test ? null : test(value),
  });
  return [
    h('P1 overhead ratio, 100 members', 'P1 ratio', '×', row100?.ratio.median, '≤ 1.3', (v) => v <= 1.3),
    h('P1 overhead per member, 100 members', 'P1 ms/member', 'ms', row100?.overheadPerMemberMs.median, ''),
    h('P2 fan-out ratio, 20 × 500 ms', 'P2 ratio', '×', p2?.ratio.median, '≤ 0.1', (v) => v <= 0.1),
    h('P3 ready → configured, local runtime', 'P3 local', 'ms', p3?.readyToConfiguredMs.median, '≤ 1000', (v) => v <= 1000),
    h('P3 ready → configured, Kubernetes runtime (harness)', 'P3 k8s', 'ms', measured(p3?.kubernetes)?.readyToConfiguredMs.median, '≤ 1000', (v) => v <= 1000),
    h('P4 events per member-event, 100 members (worst phase)', 'P4 events', 'events', worstPerEvent, '≤ 10', (v) => v <= 10),
    h('P4 history bytes per member-event, 100 members (worst phase)', 'P4 bytes', 'bytes', cost100 ? Math.max(...cost100.phases.filter((p) => p.phase !== 'delete').map((p) => p.bytesPerMemberEvent)) : undefined, ''),
    h(`P4 longest run over ${p4?.longRun.resizes ?? 500} resizes`, 'P4 longest run', 'events', p4?.longRun.maxEventsPerRun, 'bounded'),
    h(`P5 ${n} clusters: created and configured`, 'P5 create', 's', p5?.createSeconds, ''),
    h(`P5 ${n} clusters: settled in config error`, 'P5 failed', 'clusters', p5?.failed ? p5.failed.create.length + p5.failed.storm.length : undefined, '0', (v) => v === 0),
    h(`P5 ${n} clusters: worker RSS (peak)`, 'P5 RSS', 'MiB', p5?.workerPeakRssMiB, '< 1024', (v) => v < 1024),
    h(`P5 ${n} clusters: idle server CPU`, 'P5 idle CPU', '% of a core', p5?.idle.serverCpuPercent, ''),
    h(`P5 ${n} clusters: storm signal → first activity p50`, 'P5 signal p50', 'ms', p5?.storm.signalToActivityStartMs.p50, ''),
    h(`P5 ${n} clusters: storm signal → first activity p99`, 'P5 signal p99', 'ms', p5?.storm.signalToActivityStartMs.p99, '≤ 2000', (v) => v <= 2000),
    h(`P5 ${n} clusters: storm, all converged`, 'P5 converged', 's', p5?.storm.convergeSeconds, ''),
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

export function plots(r: BenchReport): Record<string, string> {
  const out: Record<string, string> = {};
  const p1 = ok(r.p1);
  if (p1) {
    out['p1-overhead.svg'] = lineChart({
      title: 'P1: apply → all members configured vs bare processes',
      xLabel: 'members (no-op startscript, log scale)',
      yLabel: 'wall time (ms)',
      logX: true,
      series: [
        { name: 'kdflow', points: p1.rows.map((x) => ({ x: x.members, y: x.kdflowMs.median, min: x.kdflowMs.min, max: x.kdflowMs.max })) },
        { name: 'bare Node loop', points: p1.rows.map((x) => ({ x: x.members, y: x.bareMs.median, min: x.bareMs.min, max: x.bareMs.max })) },
      ],
      note: `median of runs, whiskers min–max; maxParallel ${p1.maxParallel}`,
    });
  }
  const p2 = ok(r.p2);
  if (p2) {
    out['p2-fanout.svg'] = barChart({
      title: `P2: ${p2.members} members × ${p2.scriptMs} ms script`,
      yLabel: 'apply → configured (ms)',
      groups: [
        { label: `maxParallel ${p2.members}`, bars: [{ name: 'wall', value: p2.parallelMs.median, min: p2.parallelMs.min, max: p2.parallelMs.max }] },
        { label: 'maxParallel 1', bars: [{ name: 'wall', value: p2.serialMs.median, min: p2.serialMs.min, max: p2.serialMs.max }] },
      ],
      note: `ratio ${p2.ratio.median} (target ≤ 0.1)`,
    });
  }
  const p4 = ok(r.p4);
  if (p4) {
    out['p4-history.svg'] = barChart({
      title: 'P4: history events per member per lifecycle event',
      yLabel: 'events',
      groups: ['create', 'grow', 'shrink', 'delete'].map((phase) => ({
        label: phase,
        bars: p4.costs.map((c) => ({ name: `${c.members} members`, value: c.phases.find((p) => p.phase === phase)?.perMemberEvent ?? 0 })),
      })),
      reference: { value: 10, label: 'target 10' },
      note: 'member-events: create N configure, grow N configure + N addnodes, shrink N delnodes; delete per member',
    });
    out['p4-long-run.svg'] = barChart({
      title: `P4: events per run over ${p4.longRun.resizes} resizes (continue-as-new)`,
      yLabel: 'history events',
      groups: p4.longRun.eventsPerRun.map((n, i) => ({ label: `run ${i + 1}`, bars: [{ name: 'events', value: n }] })),
      reference: { value: 4096, label: 'server suggests continue-as-new' },
      note: `${p4.longRun.totalEvents} events in ${p4.longRun.runs} runs`,
    });
  }
  const p5 = ok(r.p5);
  if (p5) {
    out['p5-scale.svg'] = barChart({
      title: `P5: resize storm over ${p5.clusters} one-member clusters`,
      yLabel: 'ms',
      groups: [
        { label: 'signal → activity p50', bars: [{ name: 'ms', value: p5.storm.signalToActivityStartMs.p50 }] },
        { label: 'signal → activity p99', bars: [{ name: 'ms', value: p5.storm.signalToActivityStartMs.p99 }] },
        { label: 'cluster settled p50', bars: [{ name: 'ms', value: p5.storm.perClusterSettleMs.p50 }] },
        { label: 'cluster settled p99', bars: [{ name: 'ms', value: p5.storm.perClusterSettleMs.p99 }] },
      ],
      reference: { value: 2000, label: 'p99 target 2 s' },
      note: `worker peak RSS ${p5.workerPeakRssMiB} MiB; idle: server ${p5.idle.serverCpuPercent}% CPU, worker ${p5.idle.workerCpuPercent}% CPU`,
    });
  }
  // Every metric on one scale: after as a share of before (time, memory, events: lower is better).
  const compared = r.hotspots?.rows.filter((x) => x.before !== null && x.after !== null && x.before > 0) ?? [];
  if (r.hotspots && compared.length > 0) {
    out['hotspots.svg'] = barChart({
      title: 'Hot spots: after as % of before (lower is better)',
      yLabel: '% of before',
      groups: compared.map((x) => ({ label: x.short, bars: [{ name: 'after', value: Math.round(((x.after as number) / (x.before as number)) * 1000) / 10 }] })),
      reference: { value: 100, label: 'before' },
      slantLabels: true,
      note: `before ${r.hotspots.before}, after ${r.hotspots.after}; P5 at the before run's size`,
    });
  }
  return out;
}

const fmt = (v: number | null) => (v === null ? '—' : String(v));

export function markdown(r: BenchReport): string {
  const lines = [
    `# kdflow bench (${r.generatedAt}, ${r.commit})`,
    '',
    `${r.machine.cores} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, ${r.machine.kernel}; Node ${r.machine.node}; Temporal CLI ${r.machine.temporalCli}, SDK ${r.machine.temporalSdk}.`,
    `Load average at start ${r.machine.loadAverageAtStart.join(' ')}, at end ${r.conditions.loadAverageAtEnd.join(' ')}; ${r.durationSeconds} s in all. ${r.conditions.note}`,
    '',
    '| metric | value | target | met |',
    '|---|---|---|---|',
    ...r.headline.map((x) => `| ${x.metric} | ${fmt(x.value)} ${x.unit} | ${x.target || '—'} | ${x.met === null ? '—' : x.met ? 'yes' : 'no'} |`),
  ];
  const p1 = ok(r.p1);
  if (p1) {
    lines.push('', '| members | kdflow ms (min–max) | bare ms (min–max) | ratio | overhead ms/member |', '|---|---|---|---|---|');
    for (const x of p1.rows) lines.push(`| ${x.members} | ${x.kdflowMs.median} (${x.kdflowMs.min}–${x.kdflowMs.max}) | ${x.bareMs.median} (${x.bareMs.min}–${x.bareMs.max}) | ${x.ratio.median} (${x.ratio.min}–${x.ratio.max}) | ${x.overheadPerMemberMs.median} |`);
  }
  const p4 = ok(r.p4);
  if (p4) {
    lines.push('', '| members | phase | events | per member-event | bytes per member-event |', '|---|---|---|---|---|');
    for (const c of p4.costs) for (const p of c.phases) lines.push(`| ${c.members} | ${p.phase} | ${p.events} | ${p.perMemberEvent} | ${p.bytesPerMemberEvent} |`);
    lines.push('', `Long run: ${p4.longRun.resizes} resizes in ${p4.longRun.seconds} s, ${p4.longRun.runs} runs of ${p4.longRun.eventsPerRun.join(', ')} events.`);
  }
  if (r.hotspots) {
    lines.push('', `Hot spots: before ${r.hotspots.before}, after ${r.hotspots.after}`, '', '| metric | before | after |', '|---|---|---|');
    for (const x of r.hotspots.rows) lines.push(`| ${x.metric} | ${fmt(x.before)} ${x.unit} | ${fmt(x.after)} ${x.unit} |`);
  }
  const p3 = ok(r.p3);
  if (p3 && !measured(p3.kubernetes)) lines.push('', `P3 on Kubernetes: ${(p3.kubernetes as { note?: string }).note ?? String(p3.kubernetes)}`);
  for (const [name, o] of Object.entries({ p1: r.p1, p2: r.p2, p3: r.p3, p4: r.p4, p5: r.p5 })) if (o && 'error' in (o as object)) lines.push('', `${name} failed: ${(o as { error: string }).error}`);
  return `${lines.join('\n')}\n`;
}
