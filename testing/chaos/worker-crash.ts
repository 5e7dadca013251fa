/**
 * Part 1: kill -9 the worker (its own process) at a seeded random point of a create, a grow, a
 * shrink and a delete, start it again, and check each cluster converges with every member once and
 * every script run once. A round may kill the worker a second time while it recovers.
 */
import path from 'node:path';
import type { ChaosEnv } from './env.ts';
import { LEDGER_SCRIPT, scriptApp, sleep } from './fixtures.ts';
import { partReport, type PartReport, type TrialResult } from './report.ts';
import type { Rng } from './rng.ts';
import {
  checkedOn,
  DEFAULT_ESTIMATE_MS,
  calibrate,
  landedFigures,
  runRound,
  type Phase,
  type RoundSetup,
} from './rounds.ts';

export interface CrashOptions {
  /** Rounds with a kill; each round is one trial per phase. */
  rounds: number;
  /** Measure each phase once without a kill first (also the baseline figures). */
  baseline: boolean;
  /**
   * Aim the kills with the baseline's durations (the default). On Kubernetes the default estimates
   * are shorter than every phase, so a kill lands inside it whatever the load; a baseline measured
   * in a burst of load would aim past the end of every phase once the burst is over.
   */
  aimWithBaseline?: boolean;
  /** Chance that a round kills the worker a second time while it recovers. */
  doubleKillChance: number;
  /** The phases a round runs (all four by default). */
  phases?: readonly Phase[];
}

export async function workerCrash(env: ChaosEnv, rng: Rng, options: CrashOptions): Promise<PartReport> {
  const started = Date.now();
  const app = await scriptApp(path.join(env.dir, 'crash-pkg'), LEDGER_SCRIPT);
  const setup: RoundSetup = {
    env,
    rng,
    app,
    prefix: 'crash',
    estimate: { ...DEFAULT_ESTIMATE_MS },
    ...(options.phases ? { phases: options.phases } : {}),
  };
  const results: TrialResult[] = [];
  let baseline: Record<string, number> | undefined;
  if (options.baseline) {
    // Without a kill: must pass too (it is a trial), and its durations aim the kills of the later rounds.
    const calibrated = await calibrate(setup);
    baseline = calibrated.estimate;
    if (options.aimWithBaseline ?? true) setup.estimate = calibrated.estimate;
    results.push(...calibrated.results.map((r) => ({ ...r, id: `baseline ${r.id}`, convergenceMs: undefined })));
  }
  const starts: number[] = [];
  let kills = 0;
  const kill = async () => {
    await env.killWorker();
    kills += 1;
    starts.push(await env.startWorker());
  };
  for (let r = 0; r < options.rounds; r++) {
    const round = await runRound(setup, `r${r}`, async () => {
      await kill();
      if (rng.next() >= options.doubleKillChance) return '';
      await sleep(rng.between(0, 3000));
      await kill();
      return 'killed again while recovering';
    });
    for (const result of round)
      env.log(
        `[chaos] worker-crash ${result.id}: ${result.passed ? 'pass' : `FAIL ${result.problems.join('; ')}`} (${result.details?.landed}, ${result.convergenceMs ?? '-'}ms)`,
      );
    results.push(...round);
  }
  return partReport('worker-crash', 'Worker crash (kill -9 mid-operation)', results, Date.now() - started, {
    ...landedFigures(results),
    killTrials: results.filter((r) => !r.id.startsWith('baseline')).length,
    kills,
    baselineMsWithoutKill: baseline ?? 'not measured (quick profile)',
    meanWorkerStartMs: starts.length > 0 ? Math.round(starts.reduce((a, b) => a + b, 0) / starts.length) : 0,
    notes: [
      'Convergence is timed from the kill to the cluster settled at its spec (for delete: the workflow closed).',
      "The new worker (started at once, from the cached workflow bundle) fails the activities the dead one held, seeing that its process is gone, so Temporal retries them at once rather than after their 10 s heartbeat timeout; it also clears the workflows' sticky queues (docs/adr/0017).",
      ...(env.kube
        ? [
            'On Kubernetes the kills are aimed with the fixed estimates (create 4 s, grow 4.5 s, shrink 3.5 s, delete 2.5 s), which phases there mostly outlast, so most kills land inside their phase whatever the load (disruptionLanded counts where they did); the baseline is measured and reported, not used to aim (one measured in a burst of load aimed every kill past the end of its phase).',
            'On Kubernetes the worker is the same binary on this host with KDFLOW_RUNTIME=kubernetes (as `npm run worker` beside a cluster), so the takeover applies; a worker in a pod that is restarted in another pid namespace leaves the dead attempts to the 10 s heartbeat timeout instead (docs/adr/0017).',
          ]
        : []),
      "A status query sent before the new worker took over waits for the dead worker's sticky queue (5 s) before it goes to the shared queue: so the convergence seen through status polling is rarely under 5 s, though a cluster may have settled earlier (its history says when).",
      checkedOn(env.kube ? 'kubernetes' : 'local'),
    ],
  });
}
