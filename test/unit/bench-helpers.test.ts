import { describe, expect, it } from 'vitest';
import {
  activityTimings,
  bytesByKind,
  eventMs,
  kindOf,
  lastCompletionMs,
  lastTaskCompletedMs,
  settledAtMs,
  signalToActivityStartMs,
  startInputBytes,
  workflowTaskTimings,
  type HistoryEvent,
} from '../../testing/bench/history.ts';
import { plots } from '../../testing/bench/report-plots.ts';
import { compareHotspots, growthWithN, headline, markdown, type BenchReport } from '../../testing/bench/report.ts';
import { median, percentile, round, spread } from '../../testing/bench/stats.ts';
import { barChart, escapeXml, lineChart, niceTicks } from '../../testing/bench/svg.ts';

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
        {
          name: 'kdflow',
          points: [
            { x: 1, y: 10, min: 8, max: 12 },
            { x: 100, y: 200 },
          ],
        },
        {
          name: 'bare',
          points: [
            { x: 1, y: 5 },
            { x: 100, y: 50 },
          ],
        },
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
        {
          label: 'a',
          bars: [
            { name: 'before', value: 3 },
            { name: 'after', value: 1, min: 0.5, max: 1.5 },
          ],
        },
        {
          label: 'b',
          bars: [
            { name: 'before', value: 2 },
            { name: 'after', value: 0 },
          ],
        },
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
const ev = (ms: number, kind: string, attrs: Record<string, unknown> = {}): HistoryEvent => ({
  eventId: ++id,
  eventTime: at(ms),
  [`${kind}EventAttributes`]: attrs,
});

describe('history timings', () => {
  id = 0;
  const events: HistoryEvent[] = [
    ev(1000, 'workflowExecutionStarted'),
    ev(1000, 'workflowTaskScheduled'),
    ev(1010, 'workflowTaskStarted'),
    ev(1030, 'workflowTaskCompleted'),
    ev(1030, 'activityTaskScheduled', { activityType: { name: 'launchMembers' } }), // id 5
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
    expect(lastCompletionMs(events, 'launchMembers')).toBe(1100);
    expect(lastCompletionMs(events, 'nothing')).toBeUndefined();
    expect(signalToActivityStartMs(events)).toEqual([50]);
  });

  it('sums queue and run time per activity type and for workflow tasks', () => {
    expect(activityTimings(events)).toEqual([
      { type: 'launchMembers', count: 1, queuedMs: 10, runMs: 60 },
      { type: 'runScript', count: 1, queuedMs: 40, runMs: 200 },
    ]);
    expect(workflowTaskTimings(events)).toEqual({ count: 4, queuedMs: 10 + 5 + 3 + 10, runMs: 20 + 15 + 7 + 30 });
  });

  it('settles at the task after the last activity, even when the idle run went on as new', () => {
    expect(settledAtMs(events)).toBe(2290);
    const next: HistoryEvent[] = [
      {
        eventId: 1,
        eventTime: at(2400),
        workflowExecutionStartedEventAttributes: {
          continuedExecutionRunId: 'r1',
          input: {
            payloads: [
              { data: new Uint8Array(100), metadata: { encoding: new Uint8Array(16) } },
              { data: new Uint8Array(30) },
            ],
          },
        },
      },
      ev(2400, 'workflowTaskScheduled'),
      ev(2410, 'workflowTaskStarted'),
      ev(2420, 'workflowTaskCompleted'),
    ];
    expect(lastTaskCompletedMs([...events, ...next])).toBe(2420);
    expect(settledAtMs([...events, ...next])).toBe(2290);
    expect(startInputBytes(next)).toEqual({
      continued: true,
      bytes: 100 + 'encoding'.length + 16 + 30,
      perArgument: [124, 30],
    });
    expect(startInputBytes(events).continued).toBe(false);
    expect(() => settledAtMs(events.slice(0, 17))).toThrow(/no completed workflow task/);
  });

  it('sizes each kind of event as protobuf, largest first', () => {
    const sized = bytesByKind(events);
    expect(Object.keys(sized)).toEqual(
      expect.arrayContaining(['activityTaskScheduled', 'workflowTaskCompleted', 'workflowExecutionSignaled']),
    );
    expect(Object.values(sized).every((b) => b > 0)).toBe(true);
    expect(Object.values(sized)).toEqual([...Object.values(sized)].sort((a, b) => b - a));
    const bigger = bytesByKind([ev(1, 'activityTaskScheduled', { activityType: { name: 'x'.repeat(500) } })]);
    expect(bigger.activityTaskScheduled).toBeGreaterThan(500);
  });
});

describe('P4 growth with N', () => {
  const row = (members: number, create: number, grow: number, shrink: number) => ({
    members,
    created: members / 2,
    runs: 1,
    continueAsNewInputBytes: [],
    kinds: {},
    bytesByKind: {},
    phases: (
      [
        ['create', create],
        ['grow', grow],
        ['shrink', shrink],
        ['delete', 99_999],
      ] as const
    ).map(([phase, bytes]) => ({
      phase,
      events: 0,
      bytes: 0,
      memberEvents: 1,
      perMemberEvent: 1,
      bytesPerMemberEvent: bytes,
    })),
  });

  it('is the worst ratio of a larger size to a smaller one, delete left out', () => {
    // Falling with N (fixed costs spread out) is not growth; 100 → 1000 in grow is.
    const costs = [row(10, 3000, 2500, 2600), row(1000, 1500, 1800, 1300), row(100, 1600, 1200, 1300)];
    expect(growthWithN(costs, (p) => p.bytesPerMemberEvent)).toBe(1.5);
    expect(growthWithN([row(10, 3000, 2500, 2600), row(100, 1600, 1200, 1300)], (p) => p.bytesPerMemberEvent)).toBe(
      0.53,
    );
    expect(growthWithN([row(10, 1, 1, 1)], (p) => p.bytesPerMemberEvent)).toBeUndefined();
  });
});

describe('the bench report', () => {
  const base = (ratio: number): BenchReport => ({
    generatedAt: 'now',
    commit: 'abc',
    machine: {
      cpuModel: 'cpu',
      cores: 2,
      memoryGiB: 4,
      kernel: 'Linux',
      node: 'v24',
      temporalCli: 't',
      temporalSdk: 's',
      loadAverageAtStart: [0, 0, 0],
    },
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

  it('holds P5 and P6 to their targets and bounds', () => {
    const r = base(0.06);
    r.p5 = {
      clusters: 1000,
      createSeconds: 100,
      failed: { create: [], storm: [] },
      keepAliveProcesses: 1000,
      memory: [
        { clusters: 0, cachedWorkflows: 0, rssMiB: 400, rssAfterGcMiB: 200, heapUsedMiB: 50 },
        { clusters: 1000, cachedWorkflows: 1000, rssMiB: 600, rssAfterGcMiB: 580, heapUsedMiB: 300 },
      ],
      idle: {
        seconds: 10,
        workerCpuPercent: 0,
        serverCpuPercent: 2,
        workerRssMiB: 600,
        workerRssAfterGcMiB: 580,
        serverRssMiB: 300,
        cachedWorkflows: 1000,
      },
      perCachedClusterMiB: 0.4,
      marginalPerCachedClusterMiB: 0.35,
      storm: {
        signalToActivityStartMs: { p50: 500, p99: 1900, max: 2500 },
        convergeSeconds: 50,
        perClusterSettleMs: { p50: 1, p99: 2 },
        cpu: { workerSeconds: 30, spawnerSeconds: 5, serverSeconds: 20 },
        cpuPerResizeMs: { worker: 30, spawner: 5, server: 20, sumMs: 55 },
        benchQueries: 1000,
      },
      workerPeakRssMiB: 700,
      spawnerRssMiB: 40,
      serverRssAfterMiB: 300,
      note: '',
    };
    const status = { members: 1000, defaultPageBytes: 50_000, largestPageBytes: 300_000, pages: 4, fullBytes: 900_000 };
    const phase = (name: 'create' | 'grow' | 'shrink' | 'delete', withStatus: boolean) => ({
      phase: name,
      membersBefore: 0,
      membersAfter: 0,
      seconds: 10,
      memberEvents: 10,
      events: 40,
      bytes: 10_000,
      eventsPerMemberEvent: 4,
      bytesPerMemberEvent: 1000,
      cpu: { workerSeconds: 1, spawnerSeconds: 1, serverSeconds: 1 },
      workerRssMiB: 300,
      workerRssAfterGcMiB: 250,
      workerHeapUsedMiB: 100,
      bytesByKind: { activityTaskScheduled: 5000, workflowTaskCompleted: 1000 },
      ...(withStatus ? { status } : {}),
    });
    r.p6 = {
      created: 900,
      peak: 1000,
      phases: [phase('create', true), phase('grow', true), phase('shrink', true), phase('delete', false)],
      runs: 2,
      continueAsNew: [{ afterPhase: 'grow', inputBytes: 200_000, carriedStateBytes: 190_000 }],
      workerRssAtStartMiB: 150,
      workerPeakRssMiB: 460,
      workerMaxRssMiB: 400,
      leftoverProcesses: 0,
      note: '',
    };
    const lines = headline(r);
    const find = (short: string) => lines.find((h) => h.short === short);
    expect(find('P5 RSS')).toMatchObject({ value: 600, met: false });
    expect(find('P5 MiB/cluster')).toMatchObject({ value: 0.4, met: false });
    expect(find('P5 CPU/resize')).toMatchObject({ value: 55, met: true });
    expect(find('P5 worker CPU')).toMatchObject({ value: 35 });
    expect(find('P5 signal p99')).toMatchObject({ value: 1900, met: true });
    expect(find('P6 largest page')).toMatchObject({ value: 300_000, met: false });
    expect(find('P6 carried')).toMatchObject({ value: 190_000, met: true });
    expect(find('P6 leftovers')).toMatchObject({ value: 0, met: true });
    r.headline = lines;
    const md = markdown(r);
    expect(md).toContain('continued as new after grow');
    expect(md).toContain(
      'create: bytes per member-event by event kind: activityTaskScheduled 500, workflowTaskCompleted 100.',
    );
    expect(md).toContain('| 1000 | 1000 | 600 | 580 | 300 |');
    expect(Object.keys(plots(r))).toEqual(
      expect.arrayContaining(['p5-memory.svg', 'p5-cpu.svg', 'p6-phases.svg', 'p6-status.svg']),
    );
    for (const svg of Object.values(plots(r))) expect(svg).not.toContain('NaN');
  });
});
