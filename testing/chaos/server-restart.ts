/**
 * Part 2: stop the Temporal dev server (SQLite file persistence) in the middle of a create, a grow,
 * a shrink and a delete, keep it down for a seeded while, start it again on the same file; the worker
 * keeps running throughout. Orderly stops (SIGTERM) and crashes (SIGKILL) alternate.
 */
import type { ChaosEnv } from './env.ts';
import { sleep } from './fixtures.ts';
import { partReport, type PartReport } from './report.ts';
import type { Rng } from './rng.ts';
import { CHECKED, convergenceBySignal, disruptionRounds, landedFigures, type Phase } from './rounds.ts';

export interface RestartOptions {
  rounds: number;
  /** Phase durations measured by the worker-crash baseline, if it ran. */
  estimate?: Record<Phase, number>;
}

export async function serverRestart(env: ChaosEnv, rng: Rng, options: RestartOptions): Promise<PartReport> {
  const started = Date.now();
  const downtimes: number[] = [];
  const results = await disruptionRounds(env, rng, {
    part: 'server-restart',
    prefix: 'restart',
    rounds: options.rounds,
    estimate: options.estimate,
    disruption: (r) => async () => {
      const signal: NodeJS.Signals = r % 2 === 0 ? 'SIGKILL' : 'SIGTERM';
      const down = Date.now();
      await env.stopServer(signal);
      await sleep(rng.between(500, 5000));
      await env.startServer();
      downtimes.push(Date.now() - down);
      return `server ${signal === 'SIGKILL' ? 'killed' : 'stopped'} for ${((Date.now() - down) / 1000).toFixed(1)}s`;
    },
  });
  return partReport(
    'server-restart',
    'Temporal server stop/crash and restart mid-operation',
    results,
    Date.now() - started,
    {
      ...landedFigures(results),
      restarts: options.rounds,
      convergenceBySignalMs: convergenceBySignal(results, 'server'),
      serverDowntimeMs: downtimes,
      notes: [
        'The server runs on a SQLite file (startDevServer --db-filename) and is started again on the same file and port; the worker process is not restarted. Rounds alternate SIGKILL (a crash) and SIGTERM (an orderly stop, which itself takes several seconds).',
        'Convergence is timed from the moment the server went down. When the server is back before a running activity misses its heartbeat timeout (10 s by default), the activity simply carries on; otherwise it is retried and the recorded result is picked up.',
        CHECKED,
      ],
    },
  );
}
