/**
 * The CLI point: how long a kdflow command takes, end to end as a user runs it, beside the Temporal
 * CLI's `temporal workflow describe -w ID` on the same workflow (issue 19: within 3×). `kdflow` is the
 * PATH command as `npm link` installs it (a symlink to cli/bin.js, found on a PATH whose `node` is the
 * system's), and `npx kdflow` from the repository. Each command runs `reps` times, the commands taking
 * turns so that load on the machine falls on all of them alike; the median wall time is the figure,
 * and the CPU time the command's processes used (less sensitive to a busy machine) is beside it.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { ensureTemporalCli } from '../../lib/temporal-server.ts';
import { ROLE, benchApp, deleteCluster, startCluster, waitSettled, writeScriptPackage } from './clusters.ts';
import type { BenchEnv } from './env.ts';
import type { Outcome } from './report.ts';
import { round, spread, type Spread } from './stats.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const TARGET_RATIO = 3;

export interface CliRow {
  command: string;
  wallMs: Spread;
  /** User + system CPU of the command's processes, median; undefined where /proc is not there to read. */
  cpuMs?: number;
  /** Median wall time over the Temporal CLI's describe. */
  ratio: number;
}

export interface CliResult {
  reps: number;
  describe: CliRow;
  rows: CliRow[];
  targetRatio: number;
  compileCache: string;
  /** Which Temporal client the kdflow rows use unless a row says otherwise. */
  client: string;
}

export interface CliBenchReport {
  cli?: Outcome<CliResult>;
}

/** CPU time of this process's waited-for children so far, in ms (utime + stime of /proc/self/stat, in clock ticks of 10 ms). */
function childCpuMs(): number | undefined {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
    // After "pid (comm) ": state is field 3, cutime field 16 and cstime field 17 (1-based), so 13 and 14 here.
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return undefined;
  }
}

interface Probe {
  label: string;
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Spawned, not spawnSync: the bench's worker runs in this process and must answer the command's queries meanwhile. */
async function runOnce(probe: Probe): Promise<{ ms: number; cpu: number | undefined }> {
  const cpu0 = childCpuMs();
  const t0 = performance.now();
  const child = spawn(probe.file, probe.args, { cwd: probe.cwd, env: probe.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const status = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const ms = performance.now() - t0;
  const cpu1 = childCpuMs();
  if (status !== 0) throw new Error(`${probe.label} exited ${status}: ${(stderr || stdout).slice(0, 500)}`);
  // The CLI must say nothing on stderr: no npm warning, no Node warning.
  if (stderr.trim()) throw new Error(`${probe.label} wrote to stderr: ${stderr.slice(0, 500)}`);
  return { ms, cpu: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0 };
}

export async function cliPoint(env: BenchEnv, reps: number, log: (line: string) => void): Promise<CliResult> {
  const pkg = await writeScriptPackage(path.join(env.home, 'cli-point'));
  const name = 'cli-speed';
  const handle = await startCluster(env, name, benchApp(pkg.url), 2);
  await waitSettled(handle, 1);

  // The PATH command as `npm link` leaves it: a symlink to cli/bin.js in a directory on the PATH, with
  // the system's node (not node_modules/.bin) first on the PATH.
  const bin = path.join(env.home, 'cli-point', 'bin');
  await mkdir(bin, { recursive: true });
  await symlink(path.join(ROOT, 'cli', 'bin.js'), path.join(bin, 'kdflow'));
  const systemPath = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => !dir.includes('node_modules'))
    .join(path.delimiter);
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${bin}${path.delimiter}${systemPath}`,
    TEMPORAL_ADDRESS: env.address,
    KDFLOW_HOME: env.home,
  };
  // A user's shell: the bench runs under `npm run`, whose npm_* settings a nested npx would otherwise inherit.
  for (const key of Object.keys(base)) if (/^(npm_|INIT_CWD$|NODE$|NODE_OPTIONS$)/i.test(key)) delete base[key];
  const kdflow = (args: string[]): Probe => ({
    label: `kdflow ${args.join(' ')}`,
    file: path.join(bin, 'kdflow'),
    args,
    env: base,
    cwd: env.home,
  });
  const probes: Probe[] = [
    {
      label: `temporal workflow describe -w ${handle.workflowId}`,
      file: ensureTemporalCli(),
      args: ['workflow', 'describe', '--address', env.address, '-w', handle.workflowId],
      env: base,
      cwd: env.home,
    },
    kdflow(['get', name]),
    kdflow(['history', name]),
    // To the count it has: a full update round trip (spec query, checks, update) that leaves the cluster as it is.
    kdflow(['resize', name, `${ROLE}=2`]),
    kdflow(['--help']),
    // The same command through @temporalio/client, the client every command used before the lean one (ADR 0036).
    {
      ...kdflow(['get', name]),
      label: `KDFLOW_TEMPORAL_CLIENT=sdk kdflow get ${name}`,
      env: { ...base, KDFLOW_TEMPORAL_CLIENT: 'sdk' },
    },
    { label: `npx kdflow get ${name}`, file: 'npx', args: ['kdflow', 'get', name], env: base, cwd: ROOT },
  ];
  // One run of each first: it fills the compile cache, as a user's first command does.
  for (const probe of probes) await runOnce(probe);
  const samples = probes.map(() => ({ ms: [] as number[], cpu: [] as number[] }));
  for (let rep = 0; rep < reps; rep++) {
    for (const [i, probe] of probes.entries()) {
      const { ms, cpu } = await runOnce(probe);
      samples[i]?.ms.push(ms);
      if (cpu !== undefined) samples[i]?.cpu.push(cpu);
    }
  }
  const rows = probes.map((probe, i): Omit<CliRow, 'ratio'> => {
    const s = samples[i] as { ms: number[]; cpu: number[] };
    return {
      command: probe.label,
      wallMs: spread(s.ms, 1),
      ...(s.cpu.length === reps ? { cpuMs: spread(s.cpu, 0).median } : {}),
    };
  });
  const describeMs = rows[0]?.wallMs.median ?? Number.NaN;
  const withRatio = rows.map((row) => ({ ...row, ratio: round(row.wallMs.median / describeMs, 1) }));
  for (const row of withRatio)
    log(`cli: ${row.command}: median ${row.wallMs.median} ms (${row.ratio}× describe), cpu ${row.cpuMs ?? '?'} ms`);
  await deleteCluster(handle);
  return {
    reps,
    describe: withRatio[0] as CliRow,
    rows: withRatio.slice(1),
    targetRatio: TARGET_RATIO,
    compileCache: "on (cli/bin.js: module.enableCompileCache(), Node's default directory)",
    client: 'lean (lib/temporal-grpc.ts, ADR 0036)',
  };
}

/** The point's section of bench.md. */
export function cliMarkdown(outcome: Outcome<CliResult> | undefined): string {
  if (!outcome) return '';
  if ('error' in outcome) return `\n## CLI\n\nfailed: ${outcome.error}\n`;
  const r = outcome;
  const row = (x: CliRow) =>
    `| \`${x.command}\` | ${x.wallMs.median} | ${x.wallMs.min}–${x.wallMs.max} | ${x.cpuMs ?? '–'} | ${x.ratio}× |`;
  const pathGet = r.rows[0];
  return [
    '',
    '## CLI',
    '',
    `Median of ${r.reps} runs each, taking turns, after one warm-up run each (compile cache ${r.compileCache}; Temporal client ${r.client ?? 'sdk'}). Target: within ${r.targetRatio}× of the Temporal CLI's describe.` +
      (pathGet
        ? ` \`kdflow get\` is at ${pathGet.ratio}×: ${pathGet.ratio <= r.targetRatio ? 'met' : 'not met'}.`
        : ''),
    '',
    '| command | median ms | min–max ms | CPU ms | × describe |',
    '|---|---|---|---|---|',
    row(r.describe),
    ...r.rows.map(row),
    '',
  ].join('\n');
}
