/**
 * testing/chaos/report.ts: re-running some parts (`--only`) keeps the other parts of the report, and a
 * run on one runtime keeps the other runtime's report.
 */
import { describe, expect, it } from 'vitest';
import {
  mergeReports,
  partReport,
  renderMarkdown,
  reportOf,
  withReport,
  type ChaosReport,
  type ChaosRun,
} from '../../testing/chaos/report.ts';

const ORDER = ['worker-crash', 'server-restart', 'signal-flood'];
const part = (name: string, convergenceMs: number[], passed = true) =>
  partReport(
    name,
    `Part ${name}`,
    convergenceMs.map((ms, i) => ({
      id: `${name}#${i}`,
      passed,
      problems: passed ? [] : ['broken'],
      convergenceMs: ms,
    })),
    1000 * convergenceMs.length,
  );
const report = (parts: ReturnType<typeof part>[], startedAt: string, seed = 7): ChaosReport => ({
  tool: 'kdflow chaos',
  seed,
  profile: 'full',
  startedAt,
  durationMs: 99_000,
  machine: { cpus: 2, node: 'v24', platform: 'linux' },
  totals: { trials: parts.reduce((n, p) => n + p.trials, 0), passes: parts.reduce((n, p) => n + p.passes, 0) },
  parts,
});
const earlier = report(
  [part('worker-crash', [31_000, 32_000]), part('server-restart', [9_000]), part('signal-flood', [2_000], false)],
  '2026-11-23T17:45:10.000Z',
);
const run: ChaosRun = {
  startedAt: '2026-12-01T10:00:00.000Z',
  durationMs: 2000,
  parts: ['worker-crash'],
  loadAverage: { start: 3.2, end: 4.1 },
};

describe('merging a re-run part into the committed chaos report', () => {
  it('replaces that part, keeps the others in suite order, and recounts the totals', () => {
    const fresh = report([part('worker-crash', [5_000, 6_000, 7_000])], run.startedAt);
    const merged = mergeReports(earlier, fresh, run, ORDER);
    expect(merged.parts.map((p) => [p.name, p.trials])).toEqual([
      ['worker-crash', 3],
      ['server-restart', 1],
      ['signal-flood', 1],
    ]);
    expect(merged.parts[0]?.figures.convergenceMs).toMatchObject({ median: 6_000 });
    expect(merged.totals).toEqual({ trials: 5, passes: 4 });
    expect(merged.runs).toEqual([
      { startedAt: earlier.startedAt, durationMs: earlier.durationMs, parts: ['server-restart', 'signal-flood'] },
      run,
    ]);
    const markdown = renderMarkdown(merged);
    expect(markdown).toContain('the parts come from 2 runs');
    expect(markdown).toContain('- 2026-12-01T10:00:00.000Z, 2.0s, load average 3.2 → 4.1: worker-crash');
    expect(markdown).toMatch(/\| Part worker-crash \| 3 \| 3 \| 6\.0s \|/);
    expect(markdown).toMatch(/\| Part server-restart \| 1 \| 1 \| 9\.0s \|/);
  });

  it('keeps a fresh report alone when the earlier one used another seed, or every part was re-run', () => {
    const other = report([part('worker-crash', [5_000])], run.startedAt, 8);
    expect(mergeReports(earlier, other, run, ORDER).parts.map((p) => p.name)).toEqual(['worker-crash']);
    const all = report(
      [part('worker-crash', [5_000]), part('server-restart', [4_000]), part('signal-flood', [1_000])],
      run.startedAt,
    );
    expect(mergeReports(earlier, all, run, ORDER).runs).toEqual([run]);
    expect(mergeReports(undefined, other, run, ORDER).parts).toHaveLength(1);
  });
});

describe('one chaos.json for both runtimes', () => {
  const kube = { ...report([part('pod-delete', [20_000])], run.startedAt), runtime: 'kubernetes' as const };

  it('puts a Kubernetes report beside the local one and the local one back beside it', () => {
    const both = withReport(earlier, kube);
    expect(reportOf(both, 'local')?.parts.map((p) => p.name)).toEqual([
      'worker-crash',
      'server-restart',
      'signal-flood',
    ]);
    expect(reportOf(both, 'kubernetes')?.parts.map((p) => p.name)).toEqual(['pod-delete']);
    const fresh = report([part('worker-crash', [5_000])], run.startedAt);
    const again = withReport(both, fresh);
    expect(reportOf(again, 'local')?.parts.map((p) => p.name)).toEqual(['worker-crash']);
    expect(reportOf(again, 'kubernetes')).toEqual(kube);
    const markdown = renderMarkdown(again);
    expect(markdown).toMatch(/## On Kubernetes[\s\S]*\| Part pod-delete \| 1 \| 1 \| 20\.0s \|/);
    expect(markdown.indexOf('| Part worker-crash |')).toBeLessThan(markdown.indexOf('## On Kubernetes'));
  });

  it("never merges one runtime's parts into the other's report", () => {
    expect(mergeReports(earlier, kube, run, ORDER).parts.map((p) => p.name)).toEqual(['pod-delete']);
  });
});
