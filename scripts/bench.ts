/**
 * `npm run bench`: every benchmark point on a dev server of its own and the local runtime, with an
 * in-process worker (P1–P4) or a worker process of its own (P5, P6, whose worker memory and CPU are
 * measured); writes reports/bench.json, reports/bench.md and SVG plots. Nothing here asserts a time:
 * the targets are read, not enforced.
 *   --quick          tiny sizes, for a smoke run (written to reports/quick/)
 *   --only p1,p3     a subset of points (p1 … p6, cli, dev)
 *   --out DIR        where to write (default reports/)
 *   --before FILE    an earlier bench.json to compare with (the hot-spot table), and
 *   --also FILE      another later run to take figures from for it (e.g. a smaller P5 to match the before run's)
 *   --clusters N     P5's cluster count (default 1000)
 *   --resizes N      P4's long run (default 500)
 *   --p4-sizes A,B   P4's peak member counts (default 10,100,1000)
 *   --p6-sizes C,P   P6's created and peak member counts (default 900,1000)
 *   --p1-reps N      runs of each P1 size (default 3, 2 at 200 members)
 *   --render FILE    run nothing: write bench.md and the plots again from a bench.json (into --out, or beside FILE)
 * Environment: KDFLOW_BENCH_SERVER_ARGS (more dev server arguments), KDFLOW_BENCH_WORKER_ARGS (more Node
 * arguments for P5's and P6's worker process, e.g. a heap limit), KDFLOW_BENCH_MAX_CACHED (its sticky
 * cache size), KDFLOW_BENCH_LOG (a pino level for the bench's workers).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { guestMountSupport, guestMountMode } from '../runtimes/guest-mounts.ts';
import { ensureTemporalCli } from '../lib/temporal-server.ts';
import { cliMarkdown, cliPoint, type CliBenchReport } from '../testing/bench/cli-speed.ts';
import { devLoopPoint, devMarkdown, type DevBenchReport } from '../testing/bench/dev-loop.ts';
import { machineInfo, startBenchEnv, type BenchEnv } from '../testing/bench/env.ts';
import { overheadPoint } from '../testing/bench/p1-overhead.ts';
import { fanoutPoint } from '../testing/bench/p2-fanout.ts';
import { latencyPoint } from '../testing/bench/p3-latency.ts';
import { historyCostPoint, longRunPoint } from '../testing/bench/p4-history.ts';
import { scalePoint } from '../testing/bench/p5-scale.ts';
import { thousandPoint } from '../testing/bench/p6-thousand.ts';
import { compareHotspots, headline, markdown, type BenchReport, type Outcome } from '../testing/bench/report.ts';
import { plots } from '../testing/bench/report-plots.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    out: { type: 'string' },
    before: { type: 'string' },
    clusters: { type: 'string' },
    resizes: { type: 'string' },
    'p4-sizes': { type: 'string' },
    'p6-sizes': { type: 'string' },
    'p1-reps': { type: 'string' },
    render: { type: 'string' },
    also: { type: 'string', multiple: true },
  },
});
const quick = values.quick ?? false;
const only = values.only ? new Set(values.only.split(',')) : undefined;
// A smoke run never overwrites the committed report.
const outDir = path.resolve(
  values.out ?? (values.render ? path.dirname(values.render) : path.join(ROOT, 'reports', ...(quick ? ['quick'] : []))),
);
const wanted = (point: string) => !only || only.has(point);
type FullReport = BenchReport & CliBenchReport & DevBenchReport;
const readReport = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as FullReport;
const fullMarkdown = (r: FullReport) => markdown(r) + cliMarkdown(r.cli) + devMarkdown(r.dev);

/** The headline again from the measurements, then the Markdown and the plots (the JSON is saved already). */
async function render(report: FullReport): Promise<void> {
  report.headline = headline(report);
  await writeFile(path.join(outDir, 'bench.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(path.join(outDir, 'bench.md'), fullMarkdown(report));
  for (const [file, svg] of Object.entries(plots(report))) await writeFile(path.join(outDir, file), svg);
}

if (values.render) {
  const report = readReport(values.render);
  await mkdir(outDir, { recursive: true });
  await render(report);
  process.stdout.write(
    `wrote ${path.relative(process.cwd(), outDir) || '.'}/bench.json, bench.md and plots from ${values.render}\n`,
  );
  process.exit(0);
}

const sizes = quick
  ? {
      p1: [1, 10].map((members) => ({ members, reps: 1 })),
      p2: 1,
      p3: 2,
      p4: [10],
      long: 20,
      p5: 20,
      p6: { created: 90, peak: 100 },
    }
  : {
      p1: [
        { members: 1, reps: 3 },
        { members: 10, reps: 3 },
        { members: 50, reps: 3 },
        { members: 100, reps: 3 },
        { members: 200, reps: 2 },
      ],
      p2: 3,
      p3: 5,
      p4: [10, 100, 1000],
      long: 500,
      p5: 1000,
      p6: { created: 900, peak: 1000 },
    };
if (values.clusters) sizes.p5 = Number(values.clusters);
if (values.resizes) sizes.long = Number(values.resizes);
const counts = (option: string, flag: string) => {
  const list = option.split(',').map(Number);
  if (list.some((n) => !Number.isInteger(n) || n < 2 || n > 1000)) {
    process.stderr.write(`--${flag}: "${option}" is not a comma-separated list of member counts between 2 and 1000\n`);
    process.exit(2);
  }
  return list;
};
if (values['p4-sizes']) sizes.p4 = counts(values['p4-sizes'], 'p4-sizes');
if (values['p1-reps']) {
  const reps = Number(values['p1-reps']);
  if (!Number.isInteger(reps) || reps < 1 || reps > 50) {
    process.stderr.write(`--p1-reps: "${values['p1-reps']}" is not a whole number from 1 to 50\n`);
    process.exit(2);
  }
  sizes.p1 = sizes.p1.map((s) => ({ ...s, reps }));
}
if (values['p6-sizes']) {
  const [created, peak] = counts(values['p6-sizes'], 'p6-sizes');
  if (created === undefined || peak === undefined || created >= peak) {
    process.stderr.write(`--p6-sizes: "${values['p6-sizes']}" must be CREATED,PEAK with CREATED < PEAK\n`);
    process.exit(2);
  }
  sizes.p6 = { created, peak };
}

const started = performance.now();
const log = (line: string) =>
  process.stdout.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);

function git(...args: string[]): string {
  return spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
}

const pointSeconds: Record<string, number> = {};
async function point<T>(name: string, run: () => Promise<T>): Promise<Outcome<T> | undefined> {
  if (!wanted(name)) return undefined;
  log(`${name} …`);
  const t0 = performance.now();
  try {
    return await run();
  } catch (error) {
    log(`${name} failed: ${error instanceof Error ? error.stack : String(error)}`);
    return { error: error instanceof Error ? error.message : String(error) };
  } finally {
    pointSeconds[name] = Math.round((performance.now() - t0) / 1000);
  }
}

// The one-minute load average every 30 s: how busy the shared machine was while the bench ran.
const loadSamples: number[] = [];
const loadSampler = setInterval(() => loadSamples.push(Math.round((os.loadavg()[0] ?? 0) * 100) / 100), 30_000);
loadSampler.unref();

const temporal = ensureTemporalCli();
const temporalVersion = spawnSync(temporal, ['--version'], { encoding: 'utf8' }).stdout.trim();
const sdk = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/@temporalio/worker/package.json'), 'utf8'))
  .version as string;
const machine = machineInfo(temporalVersion, sdk);
const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
const commit = `${git('rev-parse', '--short', 'HEAD')}${dirty ? '+uncommitted' : ''}`;
log(
  `${machine.cores} × ${machine.cpuModel}, ${machine.memoryGiB} GiB; Node ${machine.node}; ${temporalVersion}; SDK ${sdk}; load ${machine.loadAverageAtStart.join(' ')}; ${commit}`,
);

let env: BenchEnv | undefined;
const stop = async (signal: string) => {
  log(`${signal}: cleaning up`);
  // The points' calls in flight fail as the connections close: expected now, and no reason to skip the cleanup.
  process.on('unhandledRejection', () => {});
  process.on('uncaughtException', () => {});
  await env?.close().catch(() => {});
  process.exit(130);
};
process.once('SIGINT', () => void stop('SIGINT'));
process.once('SIGTERM', () => void stop('SIGTERM'));

env = await startBenchEnv(log);
const report: FullReport = {
  generatedAt: new Date().toISOString(),
  commit,
  machine,
  conditions: {
    loadAverageAtEnd: [],
    loadAverageDuring: { samples: 0, mean: 0, max: 0 },
    sqlite: '',
    guestMounts: '',
    note: '',
  },
  pointSeconds,
  durationSeconds: 0,
  headline: [],
};
try {
  const e = env;
  const mounts =
    guestMountMode() === 'off' ? 'off' : guestMountSupport().available ? 'on' : `off (${guestMountSupport().reason})`;
  report.conditions.sqlite = "the dev server's SQLite file in the bench's temp home on the local disk";
  report.conditions.guestMounts = `guest mounts ${mounts}: every script run is exec → start → runner → perl${mounts === 'on' ? ' → unshare → guest-mount.sh' : ''} → startscript`;
  report.p3 = await point('p3', () => latencyPoint(e, sizes.p3, log));
  report.p1 = await point('p1', () => overheadPoint(e, sizes.p1, log));
  report.p2 = await point('p2', () => fanoutPoint(e, sizes.p2, log));
  report.p4 = await point('p4', async () => ({
    costs: await historyCostPoint(e, sizes.p4, log),
    longRun: await longRunPoint(e, sizes.long, log),
  }));
  // The CLI commands against one small cluster of their own, on the same server.
  report.cli = await point('cli', () => cliPoint(e, quick ? 3 : 9, log));
  // The app author's loop: `kdflow dev` in a terminal, with a worker of its own on the same server.
  // Before P6 and P5: a worker of its own would serve what they leave (P5's thousand clusters until
  // their workflows end), and the loop would wait behind them.
  report.dev = await point('dev', () => devLoopPoint(e, quick ? 2 : 7, log));
  // P6 before P5: P5 leaves a thousand clusters behind until it ends them, P6 deletes its own.
  report.p6 = await point('p6', () => thousandPoint(e, sizes.p6, log));
  report.p5 = await point('p5', () => scalePoint(e, sizes.p5, log));
} finally {
  log('cleaning up');
  await env.close();
}

report.durationSeconds = Math.round((performance.now() - started) / 1000);
report.conditions.loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
clearInterval(loadSampler);
if (loadSamples.length > 0)
  report.conditions.loadAverageDuring = {
    samples: loadSamples.length,
    mean: Math.round((loadSamples.reduce((a, b) => a + b, 0) / loadSamples.length) * 100) / 100,
    max: Math.max(...loadSamples),
  };
const busy =
  Math.max(
    ...machine.loadAverageAtStart.slice(0, 1),
    ...report.conditions.loadAverageAtEnd.slice(0, 1),
    report.conditions.loadAverageDuring?.max ?? 0,
  ) >
  machine.cores * 0.5;
report.conditions.note = busy
  ? 'Other work was running on the machine (load average above half the cores): absolute times are inflated; ratios less so.'
  : 'The machine was otherwise quiet.';
await mkdir(outDir, { recursive: true });
const save = () => writeFile(path.join(outDir, 'bench.json'), `${JSON.stringify(report, null, 2)}\n`);
// The measurements first: nothing computed from them may lose them.
await save();
try {
  if (values.before)
    report.hotspots = compareHotspots(readReport(values.before), [report, ...(values.also ?? []).map(readReport)]);
} catch (error) {
  log(`no hot-spot comparison: ${(error as Error).message}`);
}
await render(report);
process.stdout.write(`\n${fullMarkdown(report)}`);
log(`wrote ${path.relative(process.cwd(), outDir) || '.'}/bench.json, bench.md and plots`);
