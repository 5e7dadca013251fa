/**
 * The app author's loop (issue 20): from saving a startscript to every member's new output on the
 * terminal of `kdflow dev`, for a 3-member cluster with an instant script; and to the settle line
 * (every run summed up). `kdflow dev` runs as an author runs it, in a terminal of its own
 * (testing/dev-loop.ts), with its own worker on the bench's server and home. Target: 2 s.
 */
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { DevTerminal, writeDevLoopApp, writeStartscript } from '../dev-loop.ts';
import type { BenchEnv } from './env.ts';
import type { Outcome } from './report.ts';
import { spread, type Spread } from './stats.ts';

const MEMBERS = 3;
const TARGET_MS = 2000;

export interface DevLoopResult {
  members: number;
  reps: number;
  /** Save → the last member's first line of the new run on the terminal. */
  saveToOutputMs: Spread;
  /** Save → the line that says the cluster is configured again. */
  saveToSettledMs: Spread;
  targetMs: number;
}

export interface DevBenchReport {
  dev?: Outcome<DevLoopResult>;
}

export async function devLoopPoint(env: BenchEnv, reps: number, log: (line: string) => void): Promise<DevLoopResult> {
  const dir = await mkdtemp(path.join(env.home, 'dev-loop-'));
  const files = await writeDevLoopApp(dir, MEMBERS, 'MARK-0');
  const term = DevTerminal.start(['-f', files.app, '-f', files.cluster], {
    TEMPORAL_ADDRESS: env.address,
    KDFLOW_HOME: env.home,
  });
  const configured = new RegExp(`configured: ${MEMBERS}/${MEMBERS} members configured`);
  const toOutput: number[] = [];
  const toSettled: number[] = [];
  try {
    let at = await term.waitFor(0, configured);
    for (let rep = 1; rep <= reps; rep++) {
      const from = at;
      const t0 = performance.now();
      await writeStartscript(files.startscript, `MARK-${rep}`);
      const lines = Array.from({ length: MEMBERS }, (_, i) => new RegExp(`loop-node-${i} +│ MARK-${rep} --configure`));
      at = await term.waitFor(from, ...lines);
      toOutput.push(performance.now() - t0);
      at = await term.waitFor(at, configured);
      toSettled.push(performance.now() - t0);
      log(
        `dev: save ${rep}: output ${Math.round(toOutput.at(-1) ?? 0)} ms, settled ${Math.round(toSettled.at(-1) ?? 0)} ms`,
      );
    }
    term.type('q');
    const code = await term.exited;
    if (code !== 0) throw new Error(`kdflow dev exited ${code}: ${term.text.slice(-500)}`);
  } catch (error) {
    term.kill();
    throw error;
  }
  return {
    members: MEMBERS,
    reps,
    saveToOutputMs: spread(toOutput, 0),
    saveToSettledMs: spread(toSettled, 0),
    targetMs: TARGET_MS,
  };
}

export function devMarkdown(outcome: Outcome<DevLoopResult> | undefined): string {
  if (!outcome) return '';
  if ('error' in outcome) return `\n## kdflow dev\n\nfailed: ${outcome.error}\n`;
  const r = outcome;
  const met = r.saveToOutputMs.median <= r.targetMs ? 'met' : 'not met';
  return [
    '',
    '## kdflow dev (save → output)',
    '',
    `${r.members} members, instant startscript, ${r.reps} saves. Target: every member's new output within ${r.targetMs} ms of the save: ${met}.`,
    '',
    '| span | median ms | min–max ms |',
    '|---|---|---|',
    `| save → every member's new output | ${r.saveToOutputMs.median} | ${r.saveToOutputMs.min}–${r.saveToOutputMs.max} |`,
    `| save → configured again (summary lines) | ${r.saveToSettledMs.median} | ${r.saveToSettledMs.min}–${r.saveToSettledMs.max} |`,
    '',
  ].join('\n');
}
