/** The bench's SVG plots, drawn from a report with testing/bench/svg.ts. Pure: report in, SVG text out. */
import type { HistoryCostRow } from './p4-history.ts';
import { ok, type BenchReport } from './report.ts';
import { barChart, lineChart } from './svg.ts';

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
        {
          name: 'kdflow',
          points: p1.rows.map((x) => ({
            x: x.members,
            y: x.kdflowMs.median,
            min: x.kdflowMs.min,
            max: x.kdflowMs.max,
          })),
        },
        {
          name: 'bare Node loop',
          points: p1.rows.map((x) => ({ x: x.members, y: x.bareMs.median, min: x.bareMs.min, max: x.bareMs.max })),
        },
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
        {
          label: `maxParallel ${p2.members}`,
          bars: [{ name: 'wall', value: p2.parallelMs.median, min: p2.parallelMs.min, max: p2.parallelMs.max }],
        },
        {
          label: 'maxParallel 1',
          bars: [{ name: 'wall', value: p2.serialMs.median, min: p2.serialMs.min, max: p2.serialMs.max }],
        },
      ],
      note: `ratio ${p2.ratio.median} (target ≤ 0.1)`,
    });
  }
  const p4 = ok(r.p4);
  if (p4) {
    const byPhase = (value: (p: HistoryCostRow['phases'][number]) => number) =>
      ['create', 'grow', 'shrink', 'delete'].map((phase) => ({
        label: phase,
        bars: p4.costs.map((c) => ({
          name: `${c.members} members`,
          value: ((p) => (p ? value(p) : 0))(c.phases.find((p) => p.phase === phase)),
        })),
      }));
    const members =
      'at N members: create N/2 configure, grow N/2 configure + N/2 addnodes, shrink N/2 delnodes; delete per member';
    out['p4-history.svg'] = barChart({
      title: 'P4: history events per member-event',
      yLabel: 'events',
      groups: byPhase((p) => p.perMemberEvent),
      reference: { value: 10, label: 'target 10' },
      note: members,
    });
    out['p4-bytes.svg'] = barChart({
      title: 'P4: history bytes per member-event (target: constant in N)',
      yLabel: 'bytes',
      groups: byPhase((p) => p.bytesPerMemberEvent),
      note: members,
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
    const cpu = p5.storm.cpuPerResizeMs;
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
      note: `worker RSS at most ${p5.workerMaxRssMiB ?? p5.workerPeakRssMiB} MiB; idle: server ${p5.idle.serverCpuPercent}% CPU, worker ${p5.idle.workerCpuPercent}% CPU`,
    });
    if (cpu) {
      out['p5-cpu.svg'] = barChart({
        title: 'P5: CPU per resize in the storm',
        yLabel: 'CPU ms per resize',
        groups: [
          { label: 'worker', bars: [{ name: 'ms', value: cpu.worker }] },
          { label: 'spawner', bars: [{ name: 'ms', value: cpu.spawner }] },
          { label: 'dev server', bars: [{ name: 'ms', value: cpu.server }] },
          { label: 'sum', bars: [{ name: 'ms', value: cpu.sumMs }] },
        ],
        reference: { value: 60, label: 'target 60 ms' },
        note: `${p5.clusters} resizes; ${p5.storm.benchQueries} status queries from the bench counted in`,
      });
    }
    if (p5.memory) {
      out['p5-memory.svg'] = lineChart({
        title: 'P5: worker process memory vs cached one-member clusters',
        xLabel: 'clusters created (all idle, all cached)',
        yLabel: 'MiB',
        series: [
          { name: 'RSS', points: p5.memory.map((m) => ({ x: m.clusters, y: m.rssMiB })) },
          { name: 'main-thread V8 heap', points: p5.memory.map((m) => ({ x: m.clusters, y: m.heapUsedMiB })) },
        ],
        reference: { value: 512, label: 'target 512 MiB' },
        note: `${p5.perCachedClusterMiB} MiB per cached cluster over the steady empty worker (target 0.3); ${p5.marginalPerCachedClusterMiB} from the first quarter on`,
      });
    }
  }
  const p6 = ok(r.p6);
  if (p6) {
    out['p6-phases.svg'] = barChart({
      title: `P6: one cluster, ${p6.created} → ${p6.peak} → ${p6.created} → deleted`,
      yLabel: 'seconds',
      groups: p6.phases.map((p) => ({
        label: `${p.phase} ${p.membersBefore}→${p.membersAfter}`,
        bars: [{ name: 's', value: p.seconds }],
      })),
      note: `history bytes per member-event: ${p6.phases.map((p) => `${p.phase} ${p.bytesPerMemberEvent}`).join(', ')}; worker RSS at most ${p6.workerMaxRssMiB} MiB`,
    });
    const kib = (b: number) => Math.round((b / 1024) * 10) / 10;
    out['p6-status.svg'] = barChart({
      title: `P6: status query size at ${p6.created}–${p6.peak} members`,
      yLabel: 'KiB',
      groups: p6.phases.flatMap((p) =>
        p.status
          ? [
              {
                label: `after ${p.phase} (${p.status.members})`,
                bars: [
                  { name: 'default page', value: kib(p.status.defaultPageBytes) },
                  { name: 'largest page (250)', value: kib(p.status.largestPageBytes) },
                  { name: 'all pages joined', value: kib(p.status.fullBytes) },
                ],
              },
            ]
          : [],
      ),
      reference: { value: 256, label: 'page bound 256 KiB' },
      note:
        p6.continueAsNew.length > 0
          ? `continue-as-new carried state ${p6.continueAsNew.map((c) => `${kib(c.carriedStateBytes)} KiB`).join(', ')} (bound 512 KiB)`
          : 'no continue-as-new in this run',
    });
  }
  // Every metric on one scale: after as a share of before (time, memory, events: lower is better).
  const compared = r.hotspots?.rows.filter((x) => x.before !== null && x.after !== null && x.before > 0) ?? [];
  if (r.hotspots && compared.length > 0) {
    out['hotspots.svg'] = barChart({
      title: 'Hot spots: after as % of before (lower is better)',
      yLabel: '% of before',
      groups: compared.map((x) => ({
        label: x.short,
        bars: [{ name: 'after', value: Math.round(((x.after as number) / (x.before as number)) * 1000) / 10 }],
      })),
      reference: { value: 100, label: 'before' },
      slantLabels: true,
      note: `before ${r.hotspots.before}, after ${r.hotspots.after}; P5 at the before run's size`,
    });
  }
  return out;
}
