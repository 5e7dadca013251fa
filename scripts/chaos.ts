/**
 * `npm run chaos`: every chaos part at full size, then reports/chaos.json and reports/chaos.md.
 *   --runtime R     local (default) or kubernetes: members as pods on the Kubernetes harness
 *                   (testing/kube/; parts worker-crash, apiserver-restart, pod-delete). Each runtime's
 *                   report has its own place in chaos.json, so a run on one keeps the other's.
 *   --seed N        another seed (default 20261123, so two runs make the same choices)
 *   --quick         the small profile that `npm test` runs
 *   --only a,b      only these parts (local: worker-crash, server-restart, signal-flood, script-faults, daemons,
 *                   runner-kill, dead-member, bad-input, hostile-packages, security)
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
import { RUNTIMES, type ChaosRuntime } from '../testing/chaos/env.ts';
import { mergeReports, renderMarkdown, reportOf, withReport, type ChaosFile } from '../testing/chaos/report.ts';
import { DEFAULT_SEED, partsOf, runChaos, type PartName } from '../testing/chaos/suite.ts';

const { values } = parseArgs({
  options: {
    runtime: { type: 'string', default: 'local' },
    seed: { type: 'string' },
    quick: { type: 'boolean' },
    only: { type: 'string' },
    out: { type: 'string' },
    keep: { type: 'boolean' },
  },
});
if (!(RUNTIMES as readonly string[]).includes(values.runtime)) {
  process.stderr.write(`chaos: --runtime ${values.runtime} is not a runtime; choose from ${RUNTIMES.join(', ')}\n`);
  process.exit(2);
}
const runtime = values.runtime as ChaosRuntime;
const parts = partsOf(runtime);
const only = values.only?.split(',').map((p) => p.trim()) as PartName[] | undefined;
const unknown = only?.filter((p) => !parts.includes(p)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(
    `chaos: unknown part(s) ${unknown.join(', ')} on the ${runtime} runtime; choose from ${parts.join(', ')}\n`,
  );
  process.exit(2);
}
const stamp = () => new Date().toISOString().slice(11, 19);
const loadAtStart = os.loadavg()[0] as number;
const fresh = await runChaos({
  seed: values.seed ? Number(values.seed) : DEFAULT_SEED,
  profile: values.quick ? 'quick' : 'full',
  runtime,
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
// The other runtime's report stays; this runtime's earlier parts stay only under --only.
const file = (await readFile(path.join(out, 'chaos.json'), 'utf8').then(JSON.parse, () => undefined)) as
  ChaosFile | undefined;
const report = mergeReports(only ? reportOf(file, runtime) : undefined, fresh, run, parts);
const written = withReport(file, report);
await writeFile(path.join(out, 'chaos.json'), `${JSON.stringify(written, null, 2)}\n`);
await writeFile(path.join(out, 'chaos.md'), renderMarkdown(written));
const kept = report.parts.length - fresh.parts.length;
process.stdout.write(
  `\n[chaos] ${fresh.totals.passes}/${fresh.totals.trials} trials passed in ${(fresh.durationMs / 1000).toFixed(0)}s; wrote ${path.join(out, 'chaos.json')} and chaos.md${kept > 0 ? ` (with ${kept} part(s) kept from the earlier report)` : ''}\n`,
);
process.exit(fresh.totals.passes === fresh.totals.trials ? 0 : 1);
