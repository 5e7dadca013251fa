import { describe, expect, it } from 'vitest';
import { activityTimings, eventMs, kindOf, lastCompletionMs, lastTaskCompletedMs, signalToActivityStartMs, workflowTaskTimings, type HistoryEvent } from '../../scripts/bench/history.ts';
import { compareHotspots, headline, markdown, plots, type BenchReport } from '../../scripts/bench/report.ts';
import { median, percentile, round, spread } from '../../scripts/bench/stats.ts';
import { barChart, escapeXml, lineChart, niceTicks } from '../../scripts/bench/svg.ts';

describe('bench statistics', () => {
  it('takes nearest-rank percentiles and a median that averages the middle pair', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(spread([1.2345, 3, 2], 2)).toEqual({ median: 2, min: 1.23, max: 3, runs: [1.23, 3, 2] });
    expect(round(1 / 3, 3)).toBe(0.333);
  });
});

describe('the SVG writer', () => {
  it('picks round ticks that cover the maximum', () => {
    expect(niceTicks(9.3)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(1234)).toEqual([0, 500, 1000, 1500]);
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(0.07).at(-1)).toBeGreaterThanOrEqual(0.07);
  });

  it('draws a line chart with one polyline per series, whiskers, and escaped text', () => {
    const svg = lineChart({
      title: 'kdflow <vs> bare & co',
      xLabel: 'members',
      yLabel: 'ms',
      logX: true,
      series: [
        { name: 'kdflow', points: [{ x: 1, y: 10, min: 8, max: 12 }, { x: 100, y: 200 }] },
        { name: 'bare', points: [{ x: 1, y: 5 }, { x: 100, y: 50 }] },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('kdflow &lt;vs&gt; bare &amp; co');
    expect(svg).not.toContain('NaN');
    expect(escapeXml(`"'`)).toBe('&quot;&apos;');
  });

  it('draws a bar per value, grouped, with a reference line', () => {
    const svg = barChart({
      title: 'fan-out',
      yLabel: 'ms',
      groups: [
        { label: 'a', bars: [{ name: 'before', value: 3 }, { name: 'after', value: 1, min: 0.5, max: 1.5 }] },
        { label: 'b', bars: [{ name: 'before', value: 2 }, { name: 'after', value: 0 }] },
      ],
      reference: { value: 2.5, label: 'target' },
    });
    expect(svg.match(/<rect x=/g)?.length).toBe(4 + 2); // bars plus two legend swatches
    expect(svg).toContain('stroke-dasharray');
    expect(svg).not.toContain('NaN');
  });
});

const at = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });
let id = 0;
const ev = (ms: number, kind: string, attrs: Record<string, unknown> = {}): HistoryEvent => ({ eventId: ++id, eventTime: at(ms), [`${kind}EventAttributes`]: attrs });

describe('history timings', () => {
  id = 0;
  const events: HistoryEvent[] = [
    ev(1000, 'workflowExecutionStarted'),
    ev(1000, 'workflowTaskScheduled'),
    ev(1010, 'workflowTaskStarted'),
    ev(1030, 'workflowTaskCompleted'),
    ev(1030, 'activityTaskScheduled', { activityType: { name: 'awaitReady' } }), // id 5
    ev(1040, 'activityTaskStarted', { scheduledEventId: 5 }),
    ev(1100, 'activityTaskCompleted', { scheduledEventId: 5 }),
    ev(1100, 'workflowTaskScheduled'),
    ev(1105, 'workflowTaskStarted'),
    ev(1120, 'workflowTaskCompleted'),
    ev(2000, 'workflowExecutionSignaled'),
    ev(2000, 'workflowTaskScheduled'),
    ev(2003, 'workflowTaskStarted'),
    ev(2010, 'workflowTaskCompleted'),
    ev(2010, 'activityTaskScheduled', { activityType: { name: 'runScript' } }), // id 15
    ev(2050, 'activityTaskStarted', { scheduledEventId: 15 }),
    ev(2250, 'activityTaskCompleted', { scheduledEventId: 15 }),
    ev(2250, 'workflowTaskScheduled'),
    ev(2260, 'workflowTaskStarted'),
    ev(2290, 'workflowTaskCompleted'),
  ];

  it('reads times, kinds and the moments that matter', () => {
    expect(eventMs(events[0] as HistoryEvent)).toBe(1000);
    expect(eventMs({ eventTime: { seconds: { toNumber: () => 3 }, nanos: 5e6 } })).toBe(3005);
    expect(kindOf(events[3] as HistoryEvent)).toBe('workflowTaskCompleted');
    expect(lastTaskCompletedMs(events)).toBe(2290);
    expect(lastCompletionMs(events, 'awaitReady')).toBe(1100);
    expect(lastCompletionMs(events, 'nothing')).toBeUndefined();
    expect(signalToActivityStartMs(events)).toEqual([50]);
  });

  it('sums queue and run time per activity type and for workflow tasks', () => {
    expect(activityTimings(events)).toEqual([
      { type: 'awaitReady', count: 1, queuedMs: 10, runMs: 60 },
      { type: 'runScript', count: 1, queuedMs: 40, runMs: 200 },
    ]);
    expect(workflowTaskTimings(events)).toEqual({ count: 4, queuedMs: 10 + 5 + 3 + 10, runMs: 20 + 15 + 7 + 30 });
  });
});

describe('the bench report', () => {
  const base = (ratio: number): BenchReport => ({
    generatedAt: 'now',
    commit: 'abc',
    machine: { cpuModel: 'cpu', cores: 2, memoryGiB: 4, kernel: 'Linux', node: 'v24', temporalCli: 't', temporalSdk: 's', loadAverageAtStart: [0, 0, 0] },
    conditions: { loadAverageAtEnd: [0, 0, 0], sqlite: '', guestMounts: '', note: '' },
    durationSeconds: 1,
    p2: { members: 20, scriptMs: 500, parallelMs: spread([600]), serialMs: spread([10_000]), ratio: spread([ratio]) },
    p3: { error: 'boom' },
    headline: [],
  });

  it('reads the targets, compares with a before report, and renders plots and Markdown', () => {
    const before = { ...base(0.2) };
    before.headline = headline(before);
    const after = { ...base(0.06) };
    after.headline = headline(after);
    const fanout = after.headline.find((h) => h.metric.startsWith('P2'));
    expect(fanout).toMatchObject({ value: 0.06, met: true });
    expect(after.headline.find((h) => h.metric.startsWith('P3'))).toMatchObject({ value: null, met: null });
    after.hotspots = compareHotspots(before, [after]);
    expect(after.hotspots.rows.find((r) => r.metric.startsWith('P2'))).toMatchObject({ before: 0.2, after: 0.06 });
    const svgs = plots(after);
    expect(Object.keys(svgs)).toEqual(['p2-fanout.svg', 'hotspots.svg']);
    expect(svgs['hotspots.svg']).toContain('P2 ratio after: 30');
    const md = markdown(after);
    expect(md).toContain('| P2 fan-out ratio, 20 × 500 ms | 0.06 × | ≤ 0.1 | yes |');
    expect(md).toContain('p3 failed: boom');
  });
});
