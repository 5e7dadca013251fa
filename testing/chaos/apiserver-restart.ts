/**
 * Kubernetes part: stop the kube-apiserver in the middle of a create, a grow, a shrink and a delete,
 * keep it down for a seeded while, start it again on the same etcd and port. The worker, etcd, the
 * controllers and kwok keep running and reconnect. Crashes (SIGKILL) and orderly stops (SIGTERM) alternate.
 */
import type { ChaosEnv } from './env.ts';
import { sleep } from './fixtures.ts';
import { partReport, type PartReport } from './report.ts';
import type { Rng } from './rng.ts';
import { checkedOn, convergenceBySignal, disruptionRounds, landedFigures, type Phase } from './rounds.ts';

export interface ApiServerRestartOptions {
  rounds: number;
  /** Phase durations measured by the worker-crash baseline, if it ran. */
  estimate?: Record<Phase, number>;
  phases?: readonly Phase[];
}

export async function apiServerRestart(env: ChaosEnv, rng: Rng, options: ApiServerRestartOptions): Promise<PartReport> {
  const kube = env.kube;
  if (!kube) throw new Error('the apiserver-restart part needs the Kubernetes runtime');
  const started = Date.now();
  const downtimes: number[] = [];
  const results = await disruptionRounds(env, rng, {
    part: 'apiserver-restart',
    prefix: 'api',
    rounds: options.rounds,
    estimate: options.estimate,
    ...(options.phases ? { phases: options.phases } : {}),
    disruption: (r) => async () => {
      const signal: NodeJS.Signals = r % 2 === 0 ? 'SIGKILL' : 'SIGTERM';
      const down = Date.now();
      await kube.restartApiServer(signal, async () => void (await sleep(rng.between(500, 5000))));
      downtimes.push(Date.now() - down);
      return `kube-apiserver ${signal === 'SIGKILL' ? 'killed' : 'stopped'}, answering again after ${((Date.now() - down) / 1000).toFixed(1)}s`;
    },
  });
  return partReport(
    'apiserver-restart',
    'kube-apiserver stop/crash and restart mid-operation',
    results,
    Date.now() - started,
    {
      ...landedFigures(results),
      restarts: options.rounds,
      convergenceBySignalMs: convergenceBySignal(results, 'kube-apiserver'),
      apiserverDowntimeMs: downtimes,
      notes: [
        'The kube-apiserver is stopped (SIGKILL and SIGTERM alternate), kept down 0.5–5 s, and started again on the same etcd and port; the kdflow worker, etcd, the controller manager, the scheduler and kwok are not restarted. Downtime is from the stop until the API answers a list again. An orderly stop (SIGTERM) takes about a minute here: the apiserver drains its open requests (exec streams, watches) before it exits, and calls meanwhile wait or are refused.',
        "Convergence is timed from the moment the apiserver went down. API calls that fail meanwhile fail their activity attempt, which Temporal retries (kdflow's Kubernetes calls are idempotent: create-or-adopt, delete-if-present); readiness watches resume from a fresh list.",
        checkedOn(env.kube ? 'kubernetes' : 'local'),
      ],
    },
  );
}
