/**
 * `npm run chaos`: every chaos part at full size, then reports/chaos.json and reports/chaos.md.
 *   --seed N        another seed (default 20261123, so two runs make the same choices)
 *   --quick         the small profile that `npm test` runs
 *   --only a,b      only these parts (worker-crash, server-restart, signal-flood, script-faults, daemons, runner-kill,
 *                   dead-member, member-kill, bad-input, hostile-packages, security)
 *   --out DIR       where the reports go (default reports/)
 *   --keep          keep the temp directory with the server, worker and member files
 * With --only, the parts run replace their namesakes in an existing report of the same seed and
 * profile, and the other parts' results stay (each part names the run it comes from).
 * Exits 1 when any trial failed.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO } from '../testing/chaos/env.ts';
import { mergeReports, renderMarkdown, type ChaosReport } from '../testing/chaos/report.ts';
import { DEFAULT_SEED, PARTS, runChaos, type PartName } from '../testing/chaos/suite.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    quick: { type: 'boolean' },
    only: { type: 'string' },
    out: { type: 'string' },
    keep: { type: 'boolean' },
  },
});
const only = values.only?.split(',').map((p) => p.trim()) as PartName[] | undefined;
const unknown = only?.filter((p) => !(PARTS as readonly string[]).includes(p)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(`chaos: unknown part(s) ${unknown.join(', ')}; choose from ${PARTS.join(', ')}\n`);
  process.exit(2);
}
const stamp = () => new Date().toISOString().slice(11, 19);
const loadAtStart = os.loadavg()[0] as number;
const fresh = await runChaos({
  seed: values.seed ? Number(values.seed) : DEFAULT_SEED,
  profile: values.quick ? 'quick' : 'full',
  ...(only ? { parts: only } : {}),
  keep: values.keep ?? false,
  log: (line) => process.stdout.write(`${stamp()} ${line}\n`),
});
const out = path.resolve(REPO, values.out ?? 'reports');
await mkdir(out, { recursive: true });
const run = {
  startedAt: fresh.startedAt,
  durationMs: fresh.durationMs,
  parts: fresh.parts.map((p) => p.name),
  loadAverage: { start: loadAtStart, end: os.loadavg()[0] as number },
};
const previous = only
  ? ((await readFile(path.join(out, 'chaos.json'), 'utf8').then(JSON.parse, () => undefined)) as
      ChaosReport | undefined)
  : undefined;
const report = mergeReports(previous, fresh, run, PARTS);
await writeFile(path.join(out, 'chaos.json'), `${JSON.stringify(report, null, 2)}\n`);
await writeFile(path.join(out, 'chaos.md'), renderMarkdown(report));
const kept = report.parts.length - fresh.parts.length;
process.stdout.write(
  `\n[chaos] ${fresh.totals.passes}/${fresh.totals.trials} trials passed in ${(fresh.durationMs / 1000).toFixed(0)}s; wrote ${path.join(out, 'chaos.json')} and chaos.md${kept > 0 ? ` (with ${kept} part(s) kept from the earlier report)` : ''}\n`,
);
process.exit(fresh.totals.passes === fresh.totals.trials ? 0 : 1);
