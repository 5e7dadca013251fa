/**
 * Part 3: 100 resize signals, sent one after another as fast as the client can, on one cluster.
 * It must converge to the last one, with every member once and every script run once.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { resizeSignal, type ResizeRequest } from '../../api/index.ts';
import { checkConverged, checkLedger, deleteAndCheckGone, workflowHistory } from './checks.ts';
import type { ChaosEnv } from './env.ts';
import {
  LEDGER_SCRIPT,
  clusterSpec,
  configured,
  readLedger,
  scriptApp,
  sleep,
  startCluster,
  waitForStatus,
  type ClusterHandle,
} from './fixtures.ts';
import { partReport, summarize, type PartReport, type TrialResult } from './report.ts';
import type { Rng } from './rng.ts';

export interface FloodOptions {
  trials: number;
  signals: number;
  /** Worker counts are drawn from 0..maxWorkers. */
  maxWorkers: number;
}

export async function signalFlood(env: ChaosEnv, rng: Rng, options: FloodOptions): Promise<PartReport> {
  const started = Date.now();
  const app = await scriptApp(path.join(env.dir, 'flood-pkg'), LEDGER_SCRIPT);
  const results: TrialResult[] = [];
  const sendMs: number[] = [];
  const operations: number[] = [];
  for (let t = 0; t < options.trials; t++) {
    const name = `flood-${t}`;
    const ledger = path.join(env.home, 'ledger', name);
    await mkdir(ledger, { recursive: true });
    const roleEnv = [
      { name: 'CHAOS_LEDGER', value: ledger },
      { name: 'CHAOS_SLEEP', value: '0.2' },
    ];
    const handle = await startCluster(env, name, app, clusterSpec({ controller: 1, worker: 1 }, roleEnv));
    await waitForStatus(handle, configured(1), 120_000);
    const counts = Array.from({ length: options.signals }, () => rng.int(0, options.maxWorkers));
    // All at once: the server decides their order, and the workflow's history says what it was.
    const sendStart = Date.now();
    await Promise.all(counts.map((worker) => handle.signal(resizeSignal, { roles: { worker } })));
    const sent = Date.now();
    sendMs.push(sent - sendStart);
    const problems: string[] = [];
    let convergenceMs: number | undefined;
    let last = -1;
    try {
      // Signals that arrive during a workflow task are buffered by the server and reach the history when that task completes.
      let received = await signalledCounts(handle);
      for (
        const deadline = Date.now() + 60_000;
        received.length < options.signals && Date.now() < deadline;
        received = await signalledCounts(handle)
      )
        await sleep(200);
      if (received.length !== options.signals)
        problems.push(`history holds ${received.length} resize signals, not ${options.signals}`);
      last = received.at(-1) ?? -1;
      // A resize to the count the cluster already wants may or may not be a new generation; both are right.
      let want = 1;
      const changes = received.filter((n) => n !== want && ((want = n), true)).length;
      const generations = new Set([1 + changes, 1 + options.signals]);
      const status = await waitForStatus(
        handle,
        (s) =>
          configured(s.generation)(s) &&
          generations.has(s.generation) &&
          (s.roles.find((r) => r.id === 'worker')?.members.length ?? -1) === last,
        300_000,
      );
      convergenceMs = Date.now() - sent;
      problems.push(...(await checkConverged(env, name, status, { controller: 1, worker: last })));
      const history = await workflowHistory(handle);
      problems.push(...checkLedger(await readLedger(ledger), history));
      // Run ids carry the generation: how many distinct operations the 100 changes became.
      operations.push(new Set(history.map((h) => /\/g(\d+)\//.exec(h.runId)?.[1]).filter((g) => g !== '1')).size);
    } catch (error) {
      problems.push((error as Error).message);
    }
    problems.push(...(await deleteAndCheckGone(env, handle, name)));
    const result: TrialResult = {
      id: `flood#${t}`,
      passed: problems.length === 0,
      problems,
      ...(convergenceMs !== undefined ? { convergenceMs } : {}),
      details: { last, sendMs: sent - sendStart },
    };
    env.log(
      `[chaos] signal-flood ${result.id}: ${result.passed ? 'pass' : `FAIL ${problems.join('; ')}`} (${options.signals} signals in ${sent - sendStart}ms, last worker=${last}, converged ${convergenceMs ?? '-'}ms)`,
    );
    results.push(result);
  }
  return partReport(
    'signal-flood',
    `Signal flood (${options.signals} resizes at once)`,
    results,
    Date.now() - started,
    {
      signalsPerTrial: options.signals,
      sendMs: summarize(sendMs),
      floodsAcknowledgedWithin1s: `${sendMs.filter((ms) => ms <= 1000).length} of ${sendMs.length}`,
      operationsPerFlood: operations,
      notes: [
        'The signals are sent all at once; the server orders them, and "the last" is the last resize signal in the workflow history (read once the server has written the signals it buffers while a workflow task runs).',
        "sendMs is how long the server took to acknowledge all 100 (it persists one workflow's signals one at a time, so this depends on the disk and the load; floodsAcknowledgedWithin1s counts the floods that fit in one second).",
        'Convergence is timed from the last acknowledged signal to the cluster configured at its final generation with the last count (a resize to the count already wanted may be no new generation).',
        'operationsPerFlood counts the distinct generations that ran scripts: the workflow coalesces changes that arrive while it is busy.',
      ],
    },
  );
}

/** The worker count of each resize signal, in the order the workflow history recorded them. */
async function signalledCounts(handle: ClusterHandle): Promise<number[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const signal = event.workflowExecutionSignaledEventAttributes;
    if (signal?.signalName !== 'resize') return [];
    const data = signal.input?.payloads?.[0]?.data;
    const request = data ? (JSON.parse(Buffer.from(data).toString('utf8')) as ResizeRequest) : undefined;
    return [request?.roles.worker ?? -1];
  });
}
