/**
 * The chaos suite: every part against one environment, in a fixed order, with a seeded generator
 * per part. `npm run chaos` runs the full profile; the tests run the quick one with the same code.
 * On the Kubernetes runtime (`--runtime kubernetes`) the members are pods on the harness's control
 * plane and the parts are the disruptions of a cluster: the worker killed, the kube-apiserver
 * restarted, pods deleted by hand.
 */
import os from 'node:os';
import { badInput } from './bad-input.ts';
import { daemons } from './daemons.ts';
import { deadMember } from './dead-member.ts';
import { inProcessCli, processCli } from './cli-runner.ts';
import { ChaosEnv, type ChaosRuntime } from './env.ts';
import { apiServerRestart } from './apiserver-restart.ts';
import { podDelete } from './pod-delete.ts';
import { hostilePackages } from './hostile-packages.ts';
import { partLine, type ChaosReport, type PartReport } from './report.ts';
import { Rng } from './rng.ts';
import { runnerKill } from './runner-kill.ts';
import { scriptFaults } from './script-faults.ts';
import { security } from './security.ts';
import { serverRestart } from './server-restart.ts';
import { signalFlood } from './signal-flood.ts';
import { workerCrash } from './worker-crash.ts';

export const PARTS = [
  'worker-crash',
  'server-restart',
  'signal-flood',
  'script-faults',
  'daemons',
  'runner-kill',
  'dead-member',
  'bad-input',
  'hostile-packages',
  'security',
] as const;
/** The parts on the Kubernetes runtime. */
export const KUBE_PARTS = ['worker-crash', 'apiserver-restart', 'pod-delete'] as const;
export type PartName = (typeof PARTS)[number] | (typeof KUBE_PARTS)[number];

/** The parts a runtime runs, in suite order. */
export const partsOf = (runtime: ChaosRuntime): readonly PartName[] => (runtime === 'kubernetes' ? KUBE_PARTS : PARTS);
export type Profile = 'full' | 'quick';

export interface ChaosOptions {
  seed: number;
  profile: Profile;
  /** Where members live (local by default). */
  runtime?: ChaosRuntime;
  /** A subset of the runtime's parts, in suite order; all when absent. */
  parts?: readonly PartName[];
  log?: (line: string) => void;
  /** Keep the temp directory (logs, member dirs) for a post-mortem. */
  keep?: boolean;
}

export const DEFAULT_SEED = 20261123;

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const quick = options.profile === 'quick';
  const runtime = options.runtime ?? 'local';
  const order = partsOf(runtime);
  const wanted = new Set(options.parts ?? order);
  const rng = new Rng(options.seed);
  const started = Date.now();
  const startedAt = new Date().toISOString();
  const env = await ChaosEnv.start({ log, keep: options.keep ?? false, runtime });
  log(
    `[chaos] ${options.profile} profile, seed ${options.seed}, ${runtime} runtime${env.kube ? ` (KUBECONFIG=${env.kube.harness.kubeconfig})` : ''}, Temporal on ${env.address} (SQLite ${env.dbFile}), worker pid ${env.workerPid}`,
  );
  const parts: PartReport[] = [];
  // Ctrl-C: stop the server, the worker and every member process before going.
  const interrupted = (signal: NodeJS.Signals) =>
    void env.close().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let estimate: Parameters<typeof serverRestart>[2]['estimate'];
  const kube = runtime === 'kubernetes';
  // The quick profile on Kubernetes: one grow per disruption, so `npm test` gets one of each in about a minute.
  const phases = kube && quick ? (['grow'] as const) : undefined;
  const estimated = () => ({ ...(estimate ? { estimate } : {}), ...(phases ? { phases } : {}) });
  const runners: Record<PartName, () => Promise<PartReport>> = {
    'worker-crash': async () => {
      const part = await workerCrash(env, rng.fork('worker-crash'), {
        rounds: quick ? 1 : kube ? 4 : 13,
        baseline: !quick,
        doubleKillChance: quick ? 0 : 0.25,
        aimWithBaseline: !kube,
        ...(phases ? { phases } : {}),
      });
      const baseline = part.figures.baselineMsWithoutKill;
      if (baseline && typeof baseline === 'object' && !kube) estimate = baseline as typeof estimate;
      return part;
    },
    'server-restart': () =>
      serverRestart(env, rng.fork('server-restart'), { rounds: quick ? 1 : 5, ...(estimate ? { estimate } : {}) }),
    'signal-flood': () =>
      signalFlood(env, rng.fork('signal-flood'), { trials: quick ? 1 : 5, signals: 100, maxWorkers: 8 }),
    'script-faults': () => scriptFaults(env, quick ? 1 : 2),
    daemons: () => daemons(env, { rounds: quick ? 1 : 3, attempts: quick ? 2 : 3 }),
    'runner-kill': () => runnerKill(env, rng.fork('runner-kill'), { trials: quick ? 1 : 6, withWorker: quick ? 0 : 2 }),
    'dead-member': () => deadMember(env, quick ? 1 : 3),
    'bad-input': () => {
      const sample = rng.fork('bad-input');
      return quick
        ? badInput(env, {
            cli: inProcessCli(env),
            cliMode: 'in-process main()',
            processCli: { run: processCli(env), sample: [sample.int(0, 40), sample.int(41, 80)] },
            concurrency: 1,
          })
        : badInput(env, { cli: processCli(env), cliMode: 'process (node cli/main.ts apply -f FILE)', concurrency: 2 });
    },
    'hostile-packages': () => hostilePackages(env),
    security: () => security(env, inProcessCli(env)),
    'apiserver-restart': () =>
      apiServerRestart(env, rng.fork('apiserver-restart'), { rounds: quick ? 1 : 4, ...estimated() }),
    'pod-delete': () => podDelete(env, rng.fork('pod-delete'), { rounds: quick ? 1 : 4, ...estimated() }),
  };
  try {
    for (const name of order) {
      if (!wanted.has(name)) continue;
      log(`[chaos] ${name}…`);
      const part = await runners[name]();
      const { notes: _notes, ...figures } = part.figures;
      log(`${partLine(part)}\n  ${JSON.stringify(figures)}`);
      parts.push(part);
    }
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await env.close();
  }
  return {
    tool: 'kdflow chaos',
    seed: options.seed,
    profile: options.profile,
    runtime,
    startedAt,
    durationMs: Date.now() - started,
    machine: { cpus: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.release()}` },
    totals: { trials: parts.reduce((n, p) => n + p.trials, 0), passes: parts.reduce((n, p) => n + p.passes, 0) },
    parts,
  };
}
