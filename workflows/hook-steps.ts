/**
 * Runs a cluster hook (docs/adr/0053): the runScript activity on one member, bounded by the hook's
 * own timeout and attempts, and by a schedule-to-close bound over all of them, so a preTerminate
 * that hangs, or a worker that never answers, cannot hold a delete for longer. Workflow code.
 */
import { isCancellation, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { hookBoundSeconds, scriptRunId } from '../api/contract.ts';
import { hookRun, type HookRun, type HookStep } from './hooks.ts';
import type { Desired, Member } from './model.ts';
import { failureMessage, memberActivityOptions, scriptDetails, target } from './steps.ts';

export interface HookContext {
  desired: Desired;
  members: Member[];
  seq: number;
  heartbeatTimeoutSeconds: number;
}

export async function runHook(step: HookStep, ctx: HookContext): Promise<HookRun> {
  const { desired } = ctx;
  const { settings } = step;
  const member = ctx.members.find((m) => m.name === step.member);
  const started = Date.now();
  if (!member)
    return hookRun(
      step.member,
      { exitCode: null, attempts: 0, startedAt: started, finishedAt: started },
      'no longer a member',
    );
  const scripts = proxyActivities<Activities>({
    ...memberActivityOptions(ctx.heartbeatTimeoutSeconds),
    startToCloseTimeout: `${settings.timeoutSeconds + 60} seconds`,
    scheduleToCloseTimeout: `${hookBoundSeconds(settings) + 60} seconds`,
    retry: {
      maximumAttempts: settings.attempts,
      initialInterval: '1 second',
      nonRetryableErrorTypes: ['ScriptMissing', 'PackageInvalid', 'MemberNotReady'],
    },
  });
  const env = desired.spec.roles.find((r) => r.id === member.role)?.env ?? [];
  const script = {
    runId: scriptRunId(desired.namespace, desired.name, desired.generation, ctx.seq, member.name, settings.event),
    event: settings.event,
    env,
    timeoutSeconds: settings.timeoutSeconds,
  };
  try {
    const result = await scripts.runScript.executeWithOptions(
      { summary: `${settings.event} on ${member.name} (hook ${settings.hook})` },
      [{ member: target(desired, member), script }],
    );
    return hookRun(member.name, {
      exitCode: result.exitCode,
      attempts: result.attempts,
      startedAt: Date.parse(result.startedAt),
      finishedAt: Date.parse(result.finishedAt),
    });
  } catch (error) {
    if (isCancellation(error)) throw error;
    const details = scriptDetails(error);
    return hookRun(
      member.name,
      {
        exitCode: details?.exitCode ?? null,
        attempts: details?.attempts ?? 0,
        startedAt: started,
        finishedAt: Date.now(),
      },
      `${settings.hook} on ${member.name}: ${failureMessage(error)}`,
    );
  }
}
