/**
 * `npm run chaos`: every chaos part at full size, then reports/chaos.json and reports/chaos.md.
 *   --seed N        another seed (default 20261123, so two runs make the same choices)
 *   --quick         the small profile that `npm test` runs
 *   --only a,b      only these parts (worker-crash, server-restart, signal-flood, script-faults, daemons, runner-kill,
 *                   dead-member, bad-input, hostile-packages, security)
 *   --out DIR       where the reports go (default reports/)
 *   --keep          keep the temp directory with the server, worker and member files
 * Exits 1 when any trial failed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO } from './env.ts';
import { renderMarkdown } from './report.ts';
import { DEFAULT_SEED, PARTS, runChaos, type PartName } from './suite.ts';

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
const report = await runChaos({
  seed: values.seed ? Number(values.seed) : DEFAULT_SEED,
  profile: values.quick ? 'quick' : 'full',
  ...(only ? { parts: only } : {}),
  keep: values.keep ?? false,
  log: (line) => process.stdout.write(`${stamp()} ${line}\n`),
});
const out = path.resolve(REPO, values.out ?? 'reports');
await mkdir(out, { recursive: true });
await writeFile(path.join(out, 'chaos.json'), `${JSON.stringify(report, null, 2)}\n`);
await writeFile(path.join(out, 'chaos.md'), renderMarkdown(report));
process.stdout.write(`\n[chaos] ${report.totals.passes}/${report.totals.trials} trials passed in ${(report.durationMs / 1000).toFixed(0)}s; wrote ${path.join(out, 'chaos.json')} and chaos.md\n`);
process.exit(report.totals.passes === report.totals.trials ? 0 : 1);
