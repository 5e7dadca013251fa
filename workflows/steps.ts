/**
 * Runs one planned step through activities and reports how each member fared. Workflow code:
 * deterministic, activities by type only.
 */
import { ActivityCancellationType, ActivityFailure, ApplicationFailure, isCancellation, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities, ScriptOutcome } from '../activities/index.ts';
import { effectiveRole, memberFqdn, roleServices, type KdAppSpec, type ScriptRun, type Topology } from '../api/index.ts';
import { isLiveMember } from './status.ts';
import type { Desired, Member, Step, StepOutcome } from './model.ts';
import type { MemberSpec, MemberTarget } from '../runtimes/runtime.ts';

export interface StepContext {
  desired: Desired;
  members: Member[];
  /** Makes run ids unique per step, across retries and continue-as-new. */
  seq: number;
  clusterId: string;
}

// The workflow waits for a cancelled activity to stop, so teardown never races a half-done create.
const batchOptions: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
};
const batch = proxyActivities<Activities>(batchOptions);
/** Removal must finish, so it retries without a bound. */
export const removal = proxyActivities<Activities>({ ...batchOptions, retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' } });

function scriptActivities(app: KdAppSpec) {
  return proxyActivities<Activities>({
    ...batchOptions,
    // The runtime kills the script at scriptTimeoutSeconds; this bound only catches a lost worker.
    startToCloseTimeout: `${app.scriptTimeoutSeconds + 60} seconds`,
    retry: {
      maximumAttempts: app.retry.maximumAttempts,
      initialInterval: `${app.retry.initialIntervalSeconds} seconds`,
      backoffCoefficient: app.retry.backoffCoefficient,
      nonRetryableErrorTypes: ['ScriptMissing', 'PackageInvalid'],
    },
  });
}

export function target(desired: Desired, member: Pick<Member, 'name' | 'role' | 'ordinal' | 'fqdn'>): MemberTarget {
  return { namespace: desired.namespace, cluster: desired.name, name: member.name, role: member.role, ordinal: member.ordinal, fqdn: member.fqdn };
}

export function topologyOf(ctx: StepContext): Topology {
  const live = ctx.members.filter(isLiveMember);
  return {
    namespace: ctx.desired.namespace,
    cluster: ctx.desired.name,
    clusterId: ctx.clusterId,
    app: ctx.desired.app,
    roles: ctx.desired.app.roles.map((r) => ({ id: r.id, members: live.filter((m) => m.role === r.id).map(({ name, fqdn, ordinal }) => ({ name, fqdn, ordinal })) })),
  };
}

export async function runStep(step: Step, ctx: StepContext): Promise<StepOutcome> {
  const { desired } = ctx;
  const byName = new Map(ctx.members.map((m) => [m.name, m]));
  const targets = (names: string[]) => names.flatMap((n) => (byName.has(n) ? [target(desired, byName.get(n) as Member)] : []));

  switch (step.kind) {
    case 'createMembers': {
      const specs: MemberSpec[] = step.members.map((m) => {
        const role = effectiveRole(desired.app, m.role);
        return {
          ...target(desired, { ...m, fqdn: memberFqdn(m.name, desired.name, desired.namespace) }),
          image: role?.image ?? '',
          persistDirs: role?.persistDirs ?? [],
          settings: desired.spec.roles.find((r) => r.id === m.role),
          services: roleServices(desired.app, m.role),
        };
      });
      const names = step.members.map((m) => m.name);
      return batchStep(names, () => batch.ensureMembers.executeWithOptions({ summary: `create ${listed(names)}` }, [{ members: specs }]));
    }
    case 'awaitReady':
      return batchStep(step.members, () => batch.awaitReady.executeWithOptions({ summary: `wait until ready: ${listed(step.members)}` }, [{ members: targets(step.members) }]));
    case 'writeConfigmeta':
      return batchStep(step.members, () =>
        batch.writeConfigmeta.executeWithOptions({ summary: `write configmeta.json to ${listed(step.members)}` }, [{ topology: topologyOf(ctx), members: targets(step.members) }]),
      );
    case 'installPackage':
      return batchStep(step.members, () =>
        batch.installPackage.executeWithOptions({ summary: `install ${packageName(step.packageURL)} into ${listed(step.members)}` }, [{ packageURL: step.packageURL, members: targets(step.members) }]),
      );
    case 'runEvent':
      return runEvent(step, ctx, targets(step.targets));
    case 'removeMembers':
      await removal.removeMembers.executeWithOptions({ summary: `remove ${listed(step.members)}` }, [{ members: targets(step.members) }]);
      return { failed: {}, runs: {} };
    case 'markConfigured':
    case 'markAnnounced':
    case 'markLeaving':
      return { failed: {}, runs: {} };
  }
}

async function batchStep(members: string[], call: () => Promise<{ failed: Record<string, string> }>): Promise<StepOutcome> {
  try {
    return { failed: (await call()).failed, runs: {} };
  } catch (error) {
    if (isCancellation(error)) throw error;
    // A failure that outlived its retries lands on every member of the step, never on the cluster.
    const message = failureMessage(error);
    return { failed: Object.fromEntries(members.map((m) => [m, message])), runs: {} };
  }
}

async function runEvent(step: Extract<Step, { kind: 'runEvent' }>, ctx: StepContext, members: MemberTarget[]): Promise<StepOutcome> {
  const { desired } = ctx;
  const scripts = scriptActivities(desired.app);
  const outcome: StepOutcome = { failed: {}, runs: {} };
  const queue = [...members];
  const runOne = async (member: MemberTarget) => {
    const runId = `${desired.namespace}/${desired.name}/g${desired.generation}/s${ctx.seq}/${member.name}/${step.event}`;
    const env = desired.spec.roles.find((r) => r.id === member.role)?.env ?? [];
    const request = { runId, event: step.event, argv: step.argv, env, timeoutSeconds: desired.app.scriptTimeoutSeconds };
    let result: ScriptOutcome;
    try {
      result = await scripts.runScript.executeWithOptions({ summary: scriptSummary(step, member.name, desired.name) }, [{ member, request }]);
    } catch (error) {
      if (isCancellation(error)) throw error;
      const details = scriptDetails(error);
      outcome.failed[member.name] = scriptError(failureMessage(error), details);
      outcome.runs[member.name] = scriptRun(runId, step, details, outcome.failed[member.name]);
      return;
    }
    outcome.runs[member.name] = scriptRun(runId, step, result);
  };
  // Bounded fan-out: at most maxParallel scripts run at once.
  const lanes = Array.from({ length: Math.min(desired.app.maxParallel, queue.length) }, async () => {
    for (let m = queue.shift(); m; m = queue.shift()) await runOne(m);
  });
  await Promise.all(lanes);
  return outcome;
}

// --- activity summaries: one line each, shown beside the activity in the Web UI's history ---

const SUMMARY_NAMES = 4;

/** `a, b, c, d +3 more`: member lists stay one short line however big the cluster is. */
export function listed(names: string[]): string {
  const shown = names.slice(0, SUMMARY_NAMES).join(', ');
  return names.length > SUMMARY_NAMES ? `${shown} +${names.length - SUMMARY_NAMES} more` : shown;
}

/** `configure analytics-worker-2`, `addnodes on analytics-controller-0 (+worker-3,worker-4)`, `delnodes on … (-worker-3)`. */
export function scriptSummary(step: Extract<Step, { kind: 'runEvent' }>, member: string, cluster: string): string {
  if (step.event === 'configure') return `configure ${member}`;
  const short = (name: string) => (name.startsWith(`${cluster}-`) ? name.slice(cluster.length + 1) : name);
  const about = step.about.map(short);
  const shown = about.slice(0, SUMMARY_NAMES).join(',') + (about.length > SUMMARY_NAMES ? `,+${about.length - SUMMARY_NAMES} more` : '');
  const sign = step.event === 'delnodes' ? '-' : '+';
  return `${step.event} on ${member}${about.length > 0 ? ` (${sign}${shown})` : ''}${step.retry ? ' (retry)' : ''}`;
}

export function teardownSummary(cluster: string, members: number): string {
  return `tear down ${cluster} (${members} known member${members === 1 ? '' : 's'})`;
}

function packageName(url: string): string {
  return url.replace(/\/+$/, '').split('/').at(-1) || url;
}

function scriptRun(runId: string, step: Extract<Step, { kind: 'runEvent' }>, result: ScriptOutcome | undefined, error?: string): ScriptRun {
  return {
    runId,
    event: step.event,
    argv: step.argv,
    exitCode: result?.exitCode ?? null,
    attempts: result?.attempts ?? 0,
    startedAt: result?.startedAt ?? '',
    finishedAt: result?.finishedAt ?? '',
    ...(error ? { error } : {}),
    ...(result?.stdoutTail ? { stdoutTail: result.stdoutTail } : {}),
    ...(result?.stderrTail ? { stderrTail: result.stderrTail } : {}),
  };
}

function scriptDetails(error: unknown): ScriptOutcome | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : undefined;
  return cause instanceof ApplicationFailure ? (cause.details?.[0] as ScriptOutcome | undefined) : undefined;
}

function scriptError(message: string, details: ScriptOutcome | undefined): string {
  const tail = (label: string, text?: string) => (text ? `\n--- ${label} (tail) ---\n${text.slice(-1024)}` : '');
  return `${message}${tail('stdout', details?.stdoutTail)}${tail('stderr', details?.stderrTail)}`;
}

export function failureMessage(error: unknown): string {
  if (error instanceof ActivityFailure) return error.cause?.message ?? error.message;
  return error instanceof Error ? error.message : String(error);
}
