/** The shape of reports/chaos.json, and the Markdown summary made from it. */

export interface Summary {
  count: number;
  median: number;
  p90: number;
  max: number;
  min: number;
}

export function summarize(values: number[]): Summary | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
  const mid = sorted.length / 2;
  const median =
    sorted.length % 2 === 1
      ? (sorted[Math.floor(mid)] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return {
    count: sorted.length,
    median: Math.round(median),
    p90: Math.round(at(0.9)),
    max: Math.round(sorted.at(-1) as number),
    min: Math.round(sorted[0] as number),
  };
}

export interface TrialResult {
  /** A short id of the trial, such as "grow#3" or "name with $(…)". */
  id: string;
  passed: boolean;
  /** Why it failed: each broken invariant, one line each. */
  problems: string[];
  /** Milliseconds to converge, where the part measures it. */
  convergenceMs?: number;
  details?: Record<string, unknown>;
}

export interface PartReport {
  name: string;
  title: string;
  trials: number;
  passes: number;
  durationMs: number;
  /** Figures that say more than pass/fail: convergence summaries, counts. */
  figures: Record<string, unknown>;
  failures: { id: string; problems: string[] }[];
  results: TrialResult[];
}

export interface ChaosReport {
  tool: 'kdflow chaos';
  seed: number;
  profile: 'full' | 'quick';
  /** Where the members lived; local when absent (reports made before there was a choice). */
  runtime?: 'local' | 'kubernetes';
  startedAt: string;
  durationMs: number;
  machine: { cpus: number; node: string; platform: string };
  totals: { trials: number; passes: number };
  parts: PartReport[];
  /** The runs the parts come from, when `--only` re-ran some parts of an earlier report. */
  runs?: ChaosRun[];
}

/**
 * reports/chaos.json: the local runtime's report at the top (as before there were runtimes), and
 * each other runtime's report under `runtimes`, so a run on one runtime keeps the other's figures.
 */
export type ChaosFile = Partial<ChaosReport> & { runtimes?: { kubernetes?: ChaosReport } };

/** The report of one runtime in the file, if it has one. */
export function reportOf(file: ChaosFile | undefined, runtime: 'local' | 'kubernetes'): ChaosReport | undefined {
  if (runtime === 'kubernetes') return file?.runtimes?.kubernetes;
  const { runtimes: _runtimes, ...local } = file ?? {};
  return local.parts ? (local as ChaosReport) : undefined;
}

/** The file with one runtime's report put in place. */
export function withReport(file: ChaosFile | undefined, report: ChaosReport): ChaosFile {
  const runtimes = file?.runtimes;
  if (report.runtime === 'kubernetes') return { ...file, runtimes: { ...runtimes, kubernetes: report } };
  return { ...report, ...(runtimes ? { runtimes } : {}) };
}

/** One `npm run chaos` run: when, which parts, and how busy the machine was (1-minute load average). */
export interface ChaosRun {
  startedAt: string;
  durationMs: number;
  parts: string[];
  loadAverage?: { start: number; end: number };
}

/**
 * The earlier report with the parts of `fresh` put in place of its parts of the same name (in
 * `order`), so re-running one part keeps the others' results. Only a report of the same seed and
 * profile is merged into; otherwise `fresh` stands alone.
 */
export function mergeReports(
  previous: ChaosReport | undefined,
  fresh: ChaosReport,
  freshRun: ChaosRun,
  order: readonly string[],
): ChaosReport {
  const alone = { ...fresh, runs: [freshRun] };
  if (
    !previous ||
    previous.seed !== fresh.seed ||
    previous.profile !== fresh.profile ||
    (previous.runtime ?? 'local') !== (fresh.runtime ?? 'local')
  )
    return alone;
  const replaced = new Set(fresh.parts.map((p) => p.name));
  const kept = previous.parts.filter((p) => !replaced.has(p.name));
  if (kept.length === 0) return alone;
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  const parts = [...kept, ...fresh.parts].sort((a, b) => rank(a.name) - rank(b.name));
  const earlier = (
    previous.runs ?? [
      { startedAt: previous.startedAt, durationMs: previous.durationMs, parts: previous.parts.map((p) => p.name) },
    ]
  )
    .map((run) => ({ ...run, parts: run.parts.filter((name) => !replaced.has(name)) }))
    .filter((run) => run.parts.length > 0);
  return {
    ...fresh,
    startedAt: previous.startedAt,
    durationMs: parts.reduce((sum, p) => sum + p.durationMs, 0),
    totals: { trials: parts.reduce((n, p) => n + p.trials, 0), passes: parts.reduce((n, p) => n + p.passes, 0) },
    parts,
    runs: [...earlier, freshRun],
  };
}

/** Says each trial's result on `log`, then makes the part's report (`started`: when the part began, as Date.now()). */
export function finishPart(
  log: (line: string) => void,
  part: { name: string; title: string; started: number },
  results: TrialResult[],
  figures: Record<string, unknown> = {},
): PartReport {
  for (const r of results) {
    const convergence = r.convergenceMs === undefined ? '' : ` (${r.convergenceMs}ms)`;
    log(`[chaos] ${part.name} ${r.id}: ${r.passed ? 'pass' : `FAIL ${r.problems.join('; ')}`}${convergence}`);
  }
  return partReport(part.name, part.title, results, Date.now() - part.started, figures);
}

export function partReport(
  name: string,
  title: string,
  results: TrialResult[],
  durationMs: number,
  figures: Record<string, unknown> = {},
): PartReport {
  const times = results.flatMap((r) => (r.convergenceMs === undefined ? [] : [r.convergenceMs]));
  const convergence = summarize(times);
  return {
    name,
    title,
    trials: results.length,
    passes: results.filter((r) => r.passed).length,
    durationMs: Math.round(durationMs),
    figures: { ...(convergence ? { convergenceMs: convergence } : {}), ...figures },
    failures: results.filter((r) => !r.passed).map((r) => ({ id: r.id, problems: r.problems })),
    results,
  };
}

/** One line per part for the terminal. */
export function partLine(part: PartReport): string {
  const c = part.figures.convergenceMs as Summary | undefined;
  const conv = c ? `, converged in median ${seconds(c.median)} / max ${seconds(c.max)}` : '';
  return `[chaos] ${part.name}: ${part.passes}/${part.trials} passed${conv} (${seconds(part.durationMs)})`;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** reports/chaos.md: the local runtime's report, then each other runtime's under a heading of its own. */
export function renderMarkdown(file: ChaosFile): string {
  const lines = [
    '# kdflow chaos report',
    '',
    `Made by \`npm run chaos\` (testing/chaos/); every trial is in \`reports/chaos.json\`. What the suite found and what was fixed: docs/security.md; how it works: docs/adr/0011-chaos-and-security.md.`,
    '',
  ];
  const local = reportOf(file, 'local');
  if (local) lines.push(...renderReport(local, '##'));
  const kube = reportOf(file, 'kubernetes');
  if (kube)
    lines.push(
      '',
      '## On Kubernetes',
      '',
      '`npm run chaos -- --runtime kubernetes`: the members are pods on the test control plane (testing/kube/: etcd, kube-apiserver, controller manager, scheduler, a kwok node), the worker is the worker binary with KDFLOW_RUNTIME=kubernetes as the least-privilege ServiceAccount. How it works: docs/adr/0043-chaos-on-kubernetes.md.',
      '',
      ...renderReport(kube, '###'),
    );
  return `${lines.join('\n')}\n`;
}

function renderReport(report: ChaosReport, heading: string): string[] {
  const lines = [
    ...runLines(report),
    '',
    `**${report.totals.passes}/${report.totals.trials} trials passed.**`,
    '',
    '| part | trials | passes | convergence median | convergence p90 | convergence max | took |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const part of report.parts) {
    const c = part.figures.convergenceMs as Summary | undefined;
    lines.push(
      `| ${part.title} | ${part.trials} | ${part.passes} | ${c ? seconds(c.median) : '–'} | ${c ? seconds(c.p90) : '–'} | ${c ? seconds(c.max) : '–'} | ${seconds(part.durationMs)} |`,
    );
  }
  for (const part of report.parts) {
    lines.push('', `${heading} ${part.title}`, '');
    const notes = part.figures.notes as string[] | undefined;
    for (const note of notes ?? []) lines.push(`- ${note}`);
    const rest = Object.entries(part.figures).filter(([k]) => k !== 'notes' && k !== 'convergenceMs');
    for (const [key, value] of rest) lines.push(`- ${key}: ${formatFigure(value)}`);
    if (part.failures.length === 0) lines.push('- every trial passed');
    for (const failure of part.failures)
      lines.push(`- **failed ${failure.id}**: ${failure.problems.slice(0, 3).join('; ')}`);
  }
  return lines;
}

function runLines(report: ChaosReport): string[] {
  const head = `Seed ${report.seed}, profile ${report.profile}, on ${report.machine.cpus} CPU(s), Node ${report.machine.node}`;
  const load = (run: ChaosRun) =>
    run.loadAverage ? `, load average ${run.loadAverage.start.toFixed(1)} → ${run.loadAverage.end.toFixed(1)}` : '';
  const runs = report.runs ?? [];
  if (runs.length <= 1)
    return [`${head}: started ${report.startedAt}, took ${seconds(report.durationMs)}${runs[0] ? load(runs[0]) : ''}.`];
  return [
    `${head}; the parts come from ${runs.length} runs:`,
    '',
    ...runs.map((run) => `- ${run.startedAt}, ${seconds(run.durationMs)}${load(run)}: ${run.parts.join(', ')}`),
    '',
  ];
}

const isSummary = (v: unknown): v is Summary => Boolean(v && typeof v === 'object' && 'median' in v && 'max' in v);

function formatFigure(value: unknown): string {
  if (isSummary(value)) return `median ${value.median}, p90 ${value.p90}, max ${value.max} (n=${value.count})`;
  // { create: Summary, grow: Summary, … } reads better as one line per key.
  if (
    value &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => v === undefined || isSummary(v))
  ) {
    return Object.entries(value)
      .map(([k, v]) => `${k}: ${v ? formatFigure(v) : 'none'}`)
      .join('; ');
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}
