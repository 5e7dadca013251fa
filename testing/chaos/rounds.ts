/**
 * A round: one cluster in each phase (create, grow, shrink, delete), each triggered so that one
 * disruption (a worker kill, a server restart) lands at a seeded random fraction of that phase's
 * expected duration. Every cluster of a round is one trial, checked against the real world.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { deleteSignal, memberFqdn, resizeUpdate, type ClusterStatus, type KdAppSpec } from '../../api/index.ts';
import { checkConverged, checkGone, checkLedger, doneEvents, workflowHistory } from './checks.ts';
import type { ChaosEnv } from './env.ts';
import {
  LEDGER_SCRIPT,
  NAMESPACE,
  clusterSpec,
  configured,
  settled,
  readLedger,
  scriptApp,
  sleep,
  startCluster,
  waitClosed,
  waitForStatus,
  bounded,
  type ClusterHandle,
  type LedgerLine,
} from './fixtures.ts';
import { summarize, type TrialResult } from './report.ts';
import type { Rng } from './rng.ts';

export const PHASES = ['create', 'grow', 'shrink', 'delete'] as const;
export type Phase = (typeof PHASES)[number];

// before: the counts a phase starts from; after: what it must converge to.
const SHAPES: Record<Phase, { before?: Record<string, number>; after?: Record<string, number> }> = {
  create: { after: { controller: 1, worker: 2 } },
  grow: { before: { controller: 1, worker: 1 }, after: { controller: 1, worker: 3 } },
  shrink: { before: { controller: 1, worker: 3 }, after: { controller: 1, worker: 1 } },
  delete: { before: { controller: 1, worker: 2 } },
};
export const DEFAULT_ESTIMATE_MS: Record<Phase, number> = { create: 4000, grow: 4500, shrink: 3500, delete: 2500 };
const CONVERGE_TIMEOUT_MS = 240_000;

interface Live {
  phase: Phase;
  name: string;
  ledger: string;
  handle?: ClusterHandle;
  /** Generation the phase must reach (create 1, grow and shrink 2). */
  generation: number;
  triggeredAt?: number;
  convergedAt?: number;
  status?: ClusterStatus;
  landed?: string;
  error?: string;
  /** What `repair` did, for the trial's details. */
  repaired?: Record<string, unknown>;
  /** The disruption itself failed (the trial fails, after the round has settled). */
  disruptionError?: string;
}

export interface RoundSetup {
  env: ChaosEnv;
  rng: Rng;
  app: KdAppSpec;
  /** Cluster names start with this, such as "crash". */
  prefix: string;
  estimate: Record<Phase, number>;
  /** The phases a round runs (all four by default). */
  phases?: readonly Phase[];
  /**
   * What a user does once a phase has settled after the disruption, when kdflow does not put things
   * right by itself (the pod-deletion part runs `kdflow retry`). Resolves once the cluster is
   * converged again, with details for the trial; convergence is timed to then.
   */
  repair?: (cluster: string, handle: ClusterHandle, generation: number) => Promise<Record<string, unknown>>;
  /** Cluster → members whose pod the disruption deleted: they may be created and configured a second time. */
  recreated?: Map<string, Set<string>>;
}

/** A disruption: gets the round's cluster names, returns a note on what it did. */
export type Disruption = (clusters: string[]) => Promise<string>;

/**
 * Runs one round. `disrupt` (absent for a baseline) is called at the chosen moment and returns a
 * note on what it did; convergence is timed from that moment (or from each trigger without one).
 */
export async function runRound(setup: RoundSetup, round: string, disrupt?: Disruption): Promise<TrialResult[]> {
  const { env, rng, app, estimate } = setup;
  const lives: Live[] = (setup.phases ?? PHASES).map((phase) => {
    const name = `${setup.prefix}-${round}-${phase}`;
    return { phase, name, ledger: path.join(env.home, 'ledger', name), generation: phase === 'create' ? 1 : 2 };
  });
  const ledgerEnv = (l: Live) => [
    { name: 'CHAOS_LEDGER', value: l.ledger },
    { name: 'CHAOS_SLEEP', value: '1' },
  ];
  // Setup, not measured: the clusters that grow, shrink and delete start from.
  await Promise.all(
    lives.map(async (l) => {
      await mkdir(l.ledger, { recursive: true });
      const before = SHAPES[l.phase].before;
      if (!before) return;
      l.handle = await startCluster(env, l.name, app, clusterSpec(before, ledgerEnv(l)));
      await waitForStatus(l.handle, configured(1), 120_000);
    }),
  );
  // The delete trial deletes a cluster in the middle of a grow, so running scripts must be stopped too.
  const del = lives.find((l) => l.phase === 'delete');
  if (del?.handle) {
    await del.handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 4 } }] });
    await waitForStatus(del.handle, (s) => (s.operation ?? '').startsWith('configure'), 30_000).catch(() => undefined);
  }

  // Each trigger is placed so the disruption lands at fraction u of that phase's expected duration.
  // (One draw per phase of all four, so a round of fewer phases aims its phases as the full round does.)
  const draws = new Map(PHASES.map((phase) => [phase, rng.between(0.05, 0.95)]));
  const fractions = new Map(lives.map((l) => [l.phase, draws.get(l.phase) as number]));
  const lead = (l: Live) => (fractions.get(l.phase) as number) * estimate[l.phase];
  const disruptAt = Date.now() + Math.max(...lives.map(lead));
  await Promise.all(
    lives.map(async (l) => {
      await sleep(disruptAt - lead(l) - Date.now());
      l.triggeredAt = Date.now();
      if (l.phase === 'create')
        l.handle = await startCluster(
          env,
          l.name,
          app,
          clusterSpec(SHAPES.create.after as Record<string, number>, ledgerEnv(l)),
        );
      else if (l.phase === 'grow') await l.handle?.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 3 } }] });
      else if (l.phase === 'shrink') await l.handle?.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 1 } }] });
      else await l.handle?.signal(deleteSignal);
    }),
  );
  let disrupted = () => {};
  const afterDisruption = new Promise<void>((resolve) => (disrupted = resolve));
  const convergence = Promise.all(lives.map((l) => awaitPhase(l, setup, afterDisruption)));
  let disruptedAt: number | undefined;
  try {
    if (disrupt) {
      await sleep(disruptAt - Date.now());
      // Where each phase was when the disruption hit (asked just before).
      await Promise.all(lives.map(async (l) => (l.landed = await whereIs(l))));
      disruptedAt = Date.now();
      const note = await disrupt(lives.map((l) => l.name));
      if (note) lives.forEach((l) => (l.landed = `${l.landed}; ${note}`));
    }
  } catch (error) {
    // The round still settles before the trials are checked: nothing is left polling a closed connection.
    lives.forEach((l) => (l.disruptionError = `the disruption failed: ${(error as Error).message}`));
  } finally {
    disrupted();
  }
  await convergence;
  const results: TrialResult[] = [];
  for (const l of lives) {
    // A phase that was already done when the disruption hit has no convergence time to report.
    const done =
      l.convergedAt === undefined ||
      (disruptedAt !== undefined && (l.convergedAt <= disruptedAt || (l.landed ?? '').startsWith('after')));
    if (
      disruptedAt !== undefined &&
      l.convergedAt !== undefined &&
      l.convergedAt <= disruptedAt &&
      !(l.landed ?? '').startsWith('after')
    )
      l.landed = `after the operation; ${l.landed}`;
    l.convergedAt = done ? undefined : (l.convergedAt as number) - (disruptedAt ?? (l.triggeredAt as number));
    results.push(await verify(env, l, round, setup.recreated?.get(l.name) ?? new Set()));
  }
  await cleanup(lives);
  return results;
}

async function awaitPhase(l: Live, setup: RoundSetup, afterDisruption: Promise<void>): Promise<void> {
  const handle = l.handle as ClusterHandle;
  try {
    if (l.phase === 'delete') await waitClosed(handle, CONVERGE_TIMEOUT_MS);
    // Settled at the generation: configured, or failed for good (checkConverged then says how), so no time is lost on a lost trial.
    else if (!setup.repair) l.status = await waitForStatus(handle, settled(l.generation), CONVERGE_TIMEOUT_MS);
    else {
      // Settled (configured or not), and the disruption over: then what the user does, and the cluster as it ends up.
      await waitForStatus(handle, settled(l.generation), CONVERGE_TIMEOUT_MS);
      await afterDisruption;
      l.repaired = await setup.repair(l.name, handle, l.generation);
      l.status = await waitForStatus(handle, configured(l.generation), CONVERGE_TIMEOUT_MS);
    }
    l.convergedAt = Date.now();
  } catch (error) {
    l.error = (error as Error).message;
  }
}

/** Where a phase stands, asked of the server (describe needs no worker, so asking does not delay the disruption). */
async function whereIs(l: Live): Promise<string> {
  const handle = l.handle as ClusterHandle;
  try {
    const description = await bounded(handle, 1000, () => handle.describe());
    if (description.status.name !== 'RUNNING') return 'after the operation (closed)';
    const running = (description.raw.pendingActivities ?? []).map((a) => a.activityType?.name ?? '?');
    if (l.phase === 'delete') return `mid-operation (deleting${running.length > 0 ? `: ${running.join(',')}` : ''})`;
    return running.length > 0 ? `mid-operation (${running.join(',')} running)` : 'no activity running';
  } catch {
    return 'unknown (no answer)';
  }
}

async function verify(env: ChaosEnv, l: Live, round: string, recreated: ReadonlySet<string>): Promise<TrialResult> {
  const problems: string[] = [];
  if (l.disruptionError) problems.push(l.disruptionError);
  if (l.error) problems.push(l.error);
  const ledger = await readLedger(l.ledger);
  if (l.phase === 'delete') {
    if (!l.error) {
      const final = await (l.handle as ClusterHandle).result().catch((e: Error) => ({ phase: `failed: ${e.message}` }));
      if (final.phase !== 'deleted') problems.push(`delete ended as ${final.phase}`);
    }
    problems.push(...(await checkGone(env, l.name)));
    problems.push(...checkLedger(ledger, undefined));
  } else if (l.status) {
    problems.push(
      ...(await checkConverged(env, l.name, l.status, SHAPES[l.phase].after as Record<string, number>, recreated)),
    );
    problems.push(...checkLedger(ledger, await workflowHistory(l.handle as ClusterHandle)));
    problems.push(...phaseEvents(l, ledger, recreated));
  }
  return {
    id: `${l.phase}@${round}`,
    passed: problems.length === 0,
    problems,
    ...(l.convergedAt !== undefined ? { convergenceMs: l.convergedAt } : {}),
    details: { landed: l.landed ?? 'no disruption', ...l.repaired },
  };
}

/**
 * The events each phase must have run, exactly once, with the right fqdns. A member whose pod was
 * deleted by hand and created again (`recreated`) runs --configure again in its new pod, and its
 * fresh configmeta stands in for notifies it missed; a member that failed mid-grow is announced once
 * it is configured after the retry, in a notify of its own. So for those: --configure at least once
 * on the re-created member, and each new member announced exactly once to each other survivor.
 */
function phaseEvents(l: Live, ledger: LedgerLine[], recreated: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const fq = (ordinal: number) => memberFqdn(`${l.name}-worker-${ordinal}`, l.name, NAMESPACE);
  const exactlyOnce = (member: string, option: string, fqdns?: string[]) => {
    const lines = doneEvents(ledger, member, option);
    if (recreated.has(member)) {
      if (option === '--configure' && lines.length === 0) problems.push(`${member} never ran --configure`);
      return;
    }
    if (recreated.size > 0 && fqdns) {
      // Announced in one notify or in several: each fqdn exactly once.
      const got = lines.flatMap((line) => /--fqdns (\S+)$/.exec(line.argv)?.[1]?.split(',') ?? []).sort();
      if (got.join(',') !== [...fqdns].sort().join(','))
        problems.push(
          `${member} was told of ${got.join(',') || 'nothing'} by ${option}, expected ${fqdns.join(',')} once each`,
        );
      return;
    }
    if (lines.length !== 1) problems.push(`${member} ran ${option} ${lines.length} times, not once`);
    else if (fqdns && !lines[0]?.argv.endsWith(`--fqdns ${fqdns.join(',')}`))
      problems.push(`${member} got "${lines[0]?.argv}", expected fqdns ${fqdns.join(',')}`);
  };
  const controller = `${l.name}-controller-0`;
  if (l.phase === 'create')
    for (const m of [controller, `${l.name}-worker-0`, `${l.name}-worker-1`]) exactlyOnce(m, '--configure');
  if (l.phase === 'grow') {
    for (const m of [`${l.name}-worker-1`, `${l.name}-worker-2`]) exactlyOnce(m, '--configure');
    for (const m of [controller, `${l.name}-worker-0`]) exactlyOnce(m, '--addnodes', [fq(1), fq(2)]);
  }
  if (l.phase === 'shrink')
    for (const m of [controller, `${l.name}-worker-0`]) exactlyOnce(m, '--delnodes', [fq(1), fq(2)]);
  return problems;
}

async function cleanup(lives: Live[]): Promise<void> {
  await Promise.all(
    lives.map(async (l) => {
      if (!l.handle || l.phase === 'delete') return;
      await l.handle.signal(deleteSignal).catch(() => {});
      await waitClosed(l.handle, 120_000).catch(() => {});
    }),
  );
}

export interface RoundsPlan extends Pick<RoundSetup, 'phases' | 'repair' | 'recreated'> {
  /** The part's name in log lines, such as "server-restart". */
  part: string;
  /** Cluster names start with this; the app's package goes in `<prefix>-pkg`. */
  prefix: string;
  rounds: number;
  /** Phase durations measured by the worker-crash baseline, if it ran. */
  estimate?: Record<Phase, number> | undefined;
  /** The disruption of round `r`. */
  disruption: (round: number) => Disruption;
}

/** A disruption part's rounds, on the ledger app: each trial's result goes to the log as it comes. */
export async function disruptionRounds(env: ChaosEnv, rng: Rng, plan: RoundsPlan): Promise<TrialResult[]> {
  const { part, prefix, rounds, estimate, disruption, ...rest } = plan;
  const app = await scriptApp(path.join(env.dir, `${prefix}-pkg`), LEDGER_SCRIPT);
  const setup: RoundSetup = { env, rng, app, prefix, estimate: estimate ?? { ...DEFAULT_ESTIMATE_MS }, ...rest };
  const results: TrialResult[] = [];
  for (let r = 0; r < rounds; r++) {
    const round = await runRound(setup, `r${r}`, disruption(r));
    for (const result of round) {
      const repaired = result.details?.retry ? `; ${String(result.details.retry)}` : '';
      env.log(
        `[chaos] ${part} ${result.id}: ${result.passed ? 'pass' : `FAIL ${result.problems.join('; ')}`} (${result.details?.landed}${repaired}, ${result.convergenceMs ?? '-'}ms)`,
      );
    }
    results.push(...round);
  }
  return results;
}

/** Convergence of the trials whose disruption note says `killed` (SIGKILL) and `stopped` (SIGTERM) after `what`. */
export function convergenceBySignal(results: TrialResult[], what: string): Record<'SIGKILL' | 'SIGTERM', unknown> {
  const of = (word: string) =>
    summarize(
      results.flatMap((r) =>
        String(r.details?.landed).includes(`${what} ${word}`) && r.convergenceMs !== undefined ? [r.convergenceMs] : [],
      ),
    );
  return { SIGKILL: of('killed'), SIGTERM: of('stopped') };
}

/** A no-disruption round: checks the setup works and measures each phase, which later rounds aim at. */
export async function calibrate(
  setup: RoundSetup,
): Promise<{ estimate: Record<Phase, number>; results: TrialResult[] }> {
  const results = await runRound(setup, 'base');
  const estimate = { ...setup.estimate };
  for (const r of results)
    if (r.passed && r.convergenceMs !== undefined) estimate[r.id.split('@')[0] as Phase] = r.convergenceMs;
  return { estimate, results };
}

export function landedFigures(results: TrialResult[]): Record<string, unknown> {
  const landed = results.filter((r) => !r.id.startsWith('baseline')).map((r) => String(r.details?.landed ?? ''));
  const count = (prefix: string) => landed.filter((l) => l.startsWith(prefix)).length;
  return {
    trialsByPhase: Object.fromEntries(PHASES.map((p) => [p, results.filter((r) => r.id.startsWith(`${p}@`)).length])),
    convergenceByPhaseMs: Object.fromEntries(
      PHASES.map((p) => [
        p,
        summarize(
          results.flatMap((r) => (r.id.startsWith(`${p}@`) && r.convergenceMs !== undefined ? [r.convergenceMs] : [])),
        ),
      ]),
    ),
    // Where each phase was when the disruption hit, as the server saw it a moment before.
    disruptionLanded: {
      midActivity: count('mid-operation'),
      noActivityRunning: count('no activity running'),
      afterTheOperation: count('after the operation'),
      unknown: count('unknown'),
    },
  };
}

export const CHECKED =
  'Checked per trial: status members = spec, member dirs on disk = spec, one keep-alive process per member and none for removed members, no script process left behind, no run id started or completed twice (ledger kept outside the member), every completed run recorded with exit 0 and every recorded success really ran, and each survivor got its addnodes/delnodes exactly once with the right fqdns.';

const CHECKED_ON_KUBERNETES =
  "Checked per trial: status members = spec, the cluster's pods (through the API) = spec and each Running, no member name ever had a second pod (pod uids from a watch) besides one re-created after a deletion, no script process left in a pod, no pod, PVC or Service left after delete, no run id started or completed twice (ledger kept outside the pods), every completed run recorded with exit 0 and every recorded success really ran, and each survivor got its addnodes/delnodes exactly once with the right fqdns.";

/** What every trial of a disruption part checks, on this runtime. */
export const checkedOn = (runtime: 'local' | 'kubernetes') =>
  runtime === 'kubernetes' ? CHECKED_ON_KUBERNETES : CHECKED;
