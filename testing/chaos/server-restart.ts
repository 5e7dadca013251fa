/**
 * Part 2: stop the Temporal dev server (SQLite file persistence) in the middle of a create, a grow,
 * a shrink and a delete, keep it down for a seeded while, start it again on the same file; the worker
 * keeps running throughout. Orderly stops (SIGTERM) and crashes (SIGKILL) alternate.
 */
import path from 'node:path';
import type { ChaosEnv } from './env.ts';
import { LEDGER_SCRIPT, scriptApp, sleep } from './fixtures.ts';
import { partReport, summarize, type PartReport, type TrialResult } from './report.ts';
import type { Rng } from './rng.ts';
import { CHECKED, DEFAULT_ESTIMATE_MS, landedFigures, runRound, type Phase, type RoundSetup } from './rounds.ts';

export interface RestartOptions {
  rounds: number;
  /** Phase durations measured by the worker-crash baseline, if it ran. */
  estimate?: Record<Phase, number>;
}

export async function serverRestart(env: ChaosEnv, rng: Rng, options: RestartOptions): Promise<PartReport> {
  const started = Date.now();
  const app = await scriptApp(path.join(env.dir, 'restart-pkg'), LEDGER_SCRIPT);
  const setup: RoundSetup = {
    env,
    rng,
    app,
    prefix: 'restart',
    estimate: options.estimate ?? { ...DEFAULT_ESTIMATE_MS },
  };
  const results: TrialResult[] = [];
  const downtimes: number[] = [];
  for (let r = 0; r < options.rounds; r++) {
    const signal: NodeJS.Signals = r % 2 === 0 ? 'SIGKILL' : 'SIGTERM';
    const round = await runRound(setup, `r${r}`, async () => {
      const down = Date.now();
      await env.stopServer(signal);
      await sleep(rng.between(500, 5000));
      await env.startServer();
      downtimes.push(Date.now() - down);
      return `server ${signal === 'SIGKILL' ? 'killed' : 'stopped'} for ${((Date.now() - down) / 1000).toFixed(1)}s`;
    });
    for (const result of round)
      env.log(
        `[chaos] server-restart ${result.id}: ${result.passed ? 'pass' : `FAIL ${result.problems.join('; ')}`} (${result.details?.landed}, ${result.convergenceMs ?? '-'}ms)`,
      );
    results.push(...round);
  }
  return partReport(
    'server-restart',
    'Temporal server stop/crash and restart mid-operation',
    results,
    Date.now() - started,
    {
      ...landedFigures(results),
      restarts: options.rounds,
      convergenceBySignalMs: {
        SIGKILL: summarize(
          results.flatMap((r) =>
            String(r.details?.landed).includes('server killed') && r.convergenceMs !== undefined
              ? [r.convergenceMs]
              : [],
          ),
        ),
        SIGTERM: summarize(
          results.flatMap((r) =>
            String(r.details?.landed).includes('server stopped') && r.convergenceMs !== undefined
              ? [r.convergenceMs]
              : [],
          ),
        ),
      },
      serverDowntimeMs: downtimes,
      notes: [
        'The server runs on a SQLite file (startDevServer --db-filename) and is started again on the same file and port; the worker process is not restarted. Rounds alternate SIGKILL (a crash) and SIGTERM (an orderly stop, which itself takes several seconds).',
        'Convergence is timed from the moment the server went down. When the server is back before a running activity misses its heartbeat timeout (10 s by default), the activity simply carries on; otherwise it is retried and the recorded result is picked up.',
        CHECKED,
      ],
    },
  );
}
