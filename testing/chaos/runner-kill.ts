/**
 * Part: kill -9 of a member's script runner in the middle of --configure, alone or together with
 * the worker. The orphaned script must never run beside the retry's: each run takes an exclusive
 * lock, and one that finds it taken writes "overlap" to the ledger (docs/adr/0015).
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { memberName } from '../../api/index.ts';
import { deleteAndCheckGone } from './checks.ts';
import type { ChaosEnv } from './env.ts';
import {
  NAMESPACE,
  clusterSpec,
  readLedger,
  scriptApp,
  settled,
  sleep,
  startCluster,
  waitForStatus,
} from './fixtures.ts';
import { finishPart, summarize, type PartReport, type TrialResult } from './report.ts';
import type { Rng } from './rng.ts';

const SCRIPT_SECONDS = 2;

const SCRIPT = `#!/bin/sh
me=$(basename "$KDFLOW_MEMBER_ROOT")
ledger="$CHAOS_LEDGER/$me.log"
exec 9>"$CHAOS_LEDGER/$me.lock"
flock -n 9 || echo "overlap $KDFLOW_RUN_ID $*" >> "$ledger"
echo "start $KDFLOW_RUN_ID $*" >> "$ledger"
sleep "$CHAOS_SLEEP"
echo "done $KDFLOW_RUN_ID $*" >> "$ledger"
exit 0
`;

export interface RunnerKillOptions {
  /** Trials that kill the runner alone (the worker notices at once). */
  trials: number;
  /** Trials that kill the runner and the worker together (the retry comes after the heartbeat timeout). */
  withWorker: number;
}

export async function runnerKill(env: ChaosEnv, rng: Rng, options: RunnerKillOptions): Promise<PartReport> {
  const started = Date.now();
  const app = await scriptApp(path.join(env.dir, 'runner-kill-pkg'), SCRIPT, {
    roles: [{ id: 'controller', cardinality: '1' }],
  });
  const results: TrialResult[] = [];
  const starts: number[] = [];
  let overlaps = 0;
  const plan = [
    ...Array.from({ length: options.trials }, () => false),
    ...Array.from({ length: options.withWorker }, () => true),
  ];
  for (const [i, withWorker] of plan.entries()) {
    const name = `runner-kill-${i}`;
    const ledger = path.join(env.home, 'ledger', name);
    await mkdir(ledger, { recursive: true });
    const member = memberName(name, 'controller', 0);
    const running = path.join(
      env.runtime.memberRoot({ namespace: NAMESPACE, cluster: name, name: member }),
      '.kdflow',
      'configure.running',
    );
    const handle = await startCluster(
      env,
      name,
      app,
      clusterSpec({ controller: 1 }, [
        { name: 'CHAOS_LEDGER', value: ledger },
        { name: 'CHAOS_SLEEP', value: String(SCRIPT_SECONDS) },
      ]),
    );
    const problems: string[] = [];
    // The script has started (its ledger line) and its runner is recorded.
    let runner = 0;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline && runner === 0; await sleep(20)) {
      const started = (await readLedger(ledger)).some((l) => l.kind === 'start');
      const pid = Number((await readFile(running, 'utf8').catch(() => '')).split('=').at(-1));
      if (started && pid > 0) runner = pid;
    }
    if (runner === 0) problems.push('the configure never started');
    await sleep(rng.between(0.1, 0.75) * SCRIPT_SECONDS * 1000);
    const killedAt = Date.now();
    try {
      process.kill(runner, 'SIGKILL');
    } catch {
      problems.push('the runner was gone before the kill');
    }
    if (withWorker) {
      await env.killWorker();
      await env.startWorker();
    }
    let convergenceMs: number | undefined;
    try {
      const status = await waitForStatus(handle, settled(1), 240_000);
      convergenceMs = Date.now() - killedAt;
      const state = status.roles.flatMap((r) => r.members).map((m) => m.state);
      if (state.join() !== 'configured' && state.join() !== 'config error')
        problems.push(`the member is ${state.join()}`);
    } catch (error) {
      problems.push((error as Error).message);
    }
    const lines = (await readFile(path.join(ledger, `${member}.log`), 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean);
    const overlap = lines.filter((l) => l.startsWith('overlap')).length;
    const runs = lines.filter((l) => l.startsWith('start')).length;
    overlaps += overlap;
    starts.push(runs);
    if (overlap > 0) problems.push(`${overlap} run(s) started while another still ran`);
    problems.push(...(await deleteAndCheckGone(env, handle, name)));
    results.push({
      id: `${withWorker ? 'runner+worker' : 'runner'}#${i}`,
      passed: problems.length === 0,
      problems,
      ...(convergenceMs !== undefined ? { convergenceMs } : {}),
      details: { runs, overlap },
    });
  }
  return finishPart(
    env.log,
    { name: 'runner-kill', title: 'Runner killed mid-configure (kill -9 of local-run)', started },
    results,
    {
      containment: env.runtime.containment,
      overlappingRuns: overlaps,
      configureStartsPerTrial: summarize(starts),
      trials: { runnerAlone: options.trials, runnerAndWorker: options.withWorker },
      notes: [
        `The runner is killed at a seeded random point of a ${SCRIPT_SECONDS} s configure; convergence is timed from the kill to the member settled.`,
        'Rule (ADR 0015): a run whose runner is gone is ended, tree and all, before any retry starts; the retry then runs the script again.',
      ],
    },
  );
}
