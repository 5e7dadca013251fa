/**
 * Runs one planned step through activities and reports how each member fared. Workflow code:
 * deterministic, activities by type only. Every activity input is O(k) in the members the step
 * touches and O(1) per script run: notifies carry ordinal ranges, the argv is formatted in the activity.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  proxyActivities,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities, LaunchRole, ScriptOutcome } from '../activities/index.ts';
import {
  effectiveRole,
  hasConnections,
  memberFqdn,
  roleServices,
  scriptRunId,
  toRanges,
  toRuns,
  type KdAppSpec,
  type ScriptEvent,
} from '../api/contract.ts';
import type { Topology } from '../api/configmeta.ts';
import { isLive, nextNodeIds, withNodeIds } from './plan.ts';
import { launchSummary, listed, scriptSummary } from './summaries.ts';
import type { Desired, Member, MemberRef, RunRecord, Step, StepOutcome } from './model.ts';
import type { MemberTarget } from '../runtimes/runtime.ts';

export interface StepContext {
  desired: Desired;
  members: Member[];
  /** Makes run ids unique per step, across retries and continue-as-new. */
  seq: number;
  clusterId: string;
  /** Activity heartbeat timeout: how soon a killed worker's activities are retried elsewhere. */
  heartbeatTimeoutSeconds: number;
  /** Members whose --configure of this step succeeded already, before the step ends (`ccli --wait`, docs/adr/0047). */
  configured?: Set<string>;
}

export const DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 10;

// The workflow waits for a cancelled activity to stop, so teardown never races a half-done create.
export function memberActivityOptions(heartbeatTimeoutSeconds: number): ActivityOptions {
  return {
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: `${heartbeatTimeoutSeconds} seconds`,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
  };
}

/** Launch and configmeta writes over a step's members. (`batch` is only ever a launch batch number: Member.batch.) */
export const memberActivities = (ctx: Pick<StepContext, 'heartbeatTimeoutSeconds'>) =>
  proxyActivities<Activities>(memberActivityOptions(ctx.heartbeatTimeoutSeconds));

/** Asking the runtime whether members live: a few quick attempts. */
export function probe(heartbeatTimeoutSeconds: number) {
  return proxyActivities<Activities>({
    ...memberActivityOptions(heartbeatTimeoutSeconds),
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '1 second', maximumAttempts: 3 },
  });
}

/** Removal must finish, so it retries without a bound. */
export function removal(heartbeatTimeoutSeconds: number) {
  return proxyActivities<Activities>({
    ...memberActivityOptions(heartbeatTimeoutSeconds),
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  });
}

function scriptActivities(app: KdAppSpec, heartbeatTimeoutSeconds: number, event: ScriptEvent) {
  return proxyActivities<Activities>({
    ...memberActivityOptions(heartbeatTimeoutSeconds),
    // The runtime kills the script at scriptTimeoutSeconds; this bound only catches a lost worker.
    startToCloseTimeout: `${app.scriptTimeoutSeconds + 60} seconds`,
    retry: {
      // KubeDirector apps run --configure once (docs/adr/0027); notifies keep the app's retries.
      maximumAttempts: (event === 'configure' ? app.configureAttempts : undefined) ?? app.retry.maximumAttempts,
      initialInterval: `${app.retry.initialIntervalSeconds} seconds`,
      backoffCoefficient: app.retry.backoffCoefficient,
      nonRetryableErrorTypes: ['ScriptMissing', 'PackageInvalid'],
    },
  });
}

export function target(desired: Desired, member: Pick<Member, 'name' | 'role' | 'ordinal'>): MemberTarget {
  return {
    namespace: desired.namespace,
    cluster: desired.name,
    name: member.name,
    role: member.role,
    ordinal: member.ordinal,
    fqdn: memberFqdn(member.name, desired.name, desired.namespace),
  };
}

/** The live members as ordinal ranges per role, with their node ids: what configmeta describes. */
export function topologyOf(
  desired: Desired,
  clusterId: string,
  members: Pick<Member, 'role' | 'ordinal' | 'state' | 'nodeId'>[],
): Topology {
  const live = withNodeIds(members).filter(isLive);
  return {
    namespace: desired.namespace,
    cluster: desired.name,
    clusterId,
    app: desired.app,
    settings: desired.spec.roles.map(({ id, resources, storage, secretKeys, blockStorage }) => ({
      id,
      resources,
      storage,
      secretKeys,
      ...(blockStorage ? { blockStorage } : {}),
    })),
    roles: desired.app.roles.map((r) => {
      const mine = live.filter((m) => m.role === r.id).sort((a, b) => a.ordinal - b.ordinal);
      return {
        id: r.id,
        ordinals: toRanges(mine.map((m) => m.ordinal)),
        nodeIds: toRuns(mine.map((m) => m.nodeId ?? 0)),
      };
    }),
    // The activity that writes configmeta reads what these name (docs/adr/0044).
    ...(hasConnections(desired.spec) ? { connections: desired.spec.connections } : {}),
  };
}

export function launchRoles(desired: Desired, refs: MemberRef[]): LaunchRole[] {
  return [...new Set(refs.map((m) => m.role))].map((id) => {
    const role = effectiveRole(desired.app, id);
    const listed = desired.spec.roles.find((r) => r.id === id);
    // A role without its own secret mounts the cluster's defaultSecret, as in KubeDirector (docs/adr/0045).
    const settings =
      listed && !listed.secret && desired.spec.defaultSecret
        ? { ...listed, secret: desired.spec.defaultSecret }
        : listed;
    return {
      id,
      image: role?.image ?? '',
      persistDirs: role?.persistDirs ?? [],
      ...(settings ? { settings } : {}),
      services: roleServices(desired.app, id),
      ...(role?.configPackage ? { packageURL: role.configPackage.packageURL } : {}),
      ...(role?.configPackage?.sha256 ? { packageSHA256: role.configPackage.sha256 } : {}),
    };
  });
}

export async function runStep(step: Step, ctx: StepContext): Promise<StepOutcome> {
  const { desired } = ctx;
  const byName = new Map(ctx.members.map((m) => [m.name, m]));
  const targets = (names: string[]) =>
    names.flatMap((n) => (byName.has(n) ? [target(desired, byName.get(n) as Member)] : []));

  switch (step.kind) {
    case 'launchMembers': {
      const names = step.members.map((m) => m.name);
      const refresh = step.refresh ?? [];
      const launching = new Set(names);
      // New members take their node ids as applyOutcome will give them; a re-launched one keeps its own.
      const ids = nextNodeIds(ctx.members, step.members.filter((m) => !byName.has(m.name)).length);
      const after = [
        ...ctx.members.filter((m) => !launching.has(m.name)),
        ...step.members.map((m) => ({
          ...m,
          state: 'creating' as const,
          nodeId: byName.get(m.name)?.nodeId ?? ids.shift(),
        })),
      ];
      const input = {
        namespace: desired.namespace,
        cluster: desired.name,
        roles: launchRoles(desired, step.members),
        members: step.members.map((m) => ({
          name: m.name,
          role: m.role,
          ordinal: m.ordinal,
          fqdn: memberFqdn(m.name, desired.name, desired.namespace),
        })),
        topology: topologyOf(desired, ctx.clusterId, after),
        ...(refresh.length > 0 ? { refresh: targets(refresh) } : {}),
      };
      return batchStep([...names, ...refresh], () =>
        memberActivities(ctx).launchMembers.executeWithOptions({ summary: launchSummary(names, refresh) }, [input]),
      );
    }
    case 'writeConfigmeta':
      return batchStep(step.members, () =>
        memberActivities(ctx).writeConfigmeta.executeWithOptions(
          { summary: `write configmeta.json to ${listed(step.members)}` },
          [{ topology: topologyOf(desired, ctx.clusterId, ctx.members), members: targets(step.members) }],
        ),
      );
    case 'runEvent':
      if (step.event === 'reconnect') return reconnect(step, ctx, targets(step.targets));
      return runEvent(step, ctx, targets(step.targets));
    case 'removeMembers':
      await removal(ctx.heartbeatTimeoutSeconds).removeMembers.executeWithOptions(
        { summary: `remove ${listed(step.members)}` },
        [{ members: targets(step.members) }],
      );
      return { failed: {}, runs: {} };
    case 'markConfigured':
    case 'markAnnounced':
    case 'markLeaving':
      return { failed: {}, runs: {} };
  }
}

/** --reconnect: configmeta is rewritten with the connections as they are now, then the script hears of it (docs/adr/0044). */
async function reconnect(
  step: Extract<Step, { kind: 'runEvent' }>,
  ctx: StepContext,
  members: MemberTarget[],
): Promise<StepOutcome> {
  const names = members.map((m) => m.name);
  const written = await batchStep(names, () =>
    memberActivities(ctx).writeConfigmeta.executeWithOptions(
      { summary: `write configmeta.json (connections) to ${listed(names)}` },
      [{ topology: topologyOf(ctx.desired, ctx.clusterId, ctx.members), members }],
    ),
  );
  const ran = await runEvent(
    step,
    ctx,
    members.filter((m) => !(m.name in written.failed)),
  );
  return { ...ran, failed: { ...written.failed, ...ran.failed } };
}

export async function batchStep(
  members: string[],
  call: () => Promise<{ failed: Record<string, string>; runtime?: string }>,
): Promise<StepOutcome> {
  try {
    const { failed, runtime } = await call();
    return runtime ? { failed, runs: {}, runtime } : { failed, runs: {} };
  } catch (error) {
    if (isCancellation(error)) throw error;
    // A failure that outlived its retries lands on every member of the step, never on the cluster.
    const message = failureMessage(error);
    return { failed: Object.fromEntries(members.map((m) => [m, message])), runs: {} };
  }
}

async function runEvent(
  step: Extract<Step, { kind: 'runEvent' }>,
  ctx: StepContext,
  members: MemberTarget[],
): Promise<StepOutcome> {
  const { desired } = ctx;
  const scripts = scriptActivities(desired.app, ctx.heartbeatTimeoutSeconds, step.event);
  const outcome: StepOutcome = { failed: {}, runs: {} };
  const env = (role: string) => desired.spec.roles.find((r) => r.id === role)?.env ?? [];
  const about = step.about ? { role: step.role, ordinals: step.about } : undefined;
  const queue = [...members];
  const runOne = async (member: MemberTarget) => {
    const runId = scriptRunId(desired.namespace, desired.name, desired.generation, ctx.seq, member.name, step.event);
    const script = {
      runId,
      event: step.event,
      ...(about ? { about } : {}),
      ...(step.versions ? { versions: step.versions } : {}),
      env: env(member.role),
      timeoutSeconds: desired.app.scriptTimeoutSeconds,
    };
    const started = Date.now();
    try {
      const result = await scripts.runScript.executeWithOptions({ summary: scriptSummary(step, member.name) }, [
        { member, script },
      ]);
      outcome.runs[member.name] = runRecord(desired, ctx.seq, result, started);
      if (step.event === 'configure') ctx.configured?.add(member.name);
      if (result.warning) (outcome.warnings ??= {})[member.name] = result.warning;
    } catch (error) {
      if (isCancellation(error)) throw error;
      outcome.failed[member.name] = failureMessage(error);
      outcome.runs[member.name] = runRecord(desired, ctx.seq, scriptDetails(error), started);
    }
  };
  // Bounded fan-out: at most maxParallel scripts run at once.
  const lanes = Array.from({ length: Math.min(desired.app.maxParallel, queue.length) }, async () => {
    for (let m = queue.shift(); m; m = queue.shift()) await runOne(m);
  });
  await Promise.all(lanes);
  return outcome;
}

/** Workflow time stands in when the activity left no result: deterministic on replay. */
function runRecord(desired: Desired, seq: number, result: ScriptOutcome | undefined, started: number): RunRecord {
  const at = (iso: string | undefined, fallback: number) => (iso ? Date.parse(iso) : fallback);
  return {
    generation: desired.generation,
    seq,
    exitCode: result?.exitCode ?? null,
    attempts: result?.attempts ?? 0,
    startedAt: at(result?.startedAt, started),
    finishedAt: at(result?.finishedAt, Date.now()),
  };
}

export function scriptDetails(error: unknown): ScriptOutcome | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : undefined;
  return cause instanceof ApplicationFailure ? (cause.details?.[0] as ScriptOutcome | undefined) : undefined;
}

export function failureMessage(error: unknown): string {
  if (error instanceof ActivityFailure) return error.cause?.message ?? error.message;
  return error instanceof Error ? error.message : String(error);
}
