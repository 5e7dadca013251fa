/**
 * Runs one rolling step (workflows/plan-rolling.ts) through activities. Workflow code: deterministic,
 * activities by type only. A replacement is one `replaceMembers` activity for the wave; a script is
 * the lifecycle's own runEvent with the side's app and spec (its package, env, timeouts and retries).
 */
import { isCancellation } from '@temporalio/workflow';
import { memberFqdn } from '../api/contract.ts';
import type { Desired } from './model.ts';
import type { RollingOutcome, RollingStep, Rollout } from './plan-rolling.ts';
import { failureMessage, launchRoles, memberActivities, runStep, topologyOf, type StepContext } from './steps.ts';
import { listed } from './summaries.ts';

/** The desired state as one side of the rollout sees it: its app and spec, the cluster's generation. */
export function sideDesired(desired: Desired, rollout: Rollout, side: 'from' | 'to'): Desired {
  return { ...desired, app: rollout[side].app, spec: rollout[side].spec };
}

export async function runRollingStep(step: RollingStep, rollout: Rollout, ctx: StepContext): Promise<RollingOutcome> {
  const desired = sideDesired(ctx.desired, rollout, step.side);
  const sideCtx = { ...ctx, desired };
  if (step.kind === 'rollingScript') {
    const { kind: _kind, direction: _direction, side: _side, ...rest } = step;
    return runStep({ kind: 'runEvent', ...rest }, sideCtx);
  }
  const names = step.members.map((m) => m.name);
  const input = {
    namespace: desired.namespace,
    cluster: desired.name,
    roles: launchRoles(desired, step.members),
    members: step.members.map((m) => ({ ...m, fqdn: memberFqdn(m.name, desired.name, desired.namespace) })),
    topology: topologyOf(desired, ctx.clusterId, ctx.members),
    token: step.token,
    restart: step.restart,
  };
  const what = step.restart ? 'restart' : `${desired.app.version} package into`;
  try {
    const result = await memberActivities(ctx).replaceMembers.executeWithOptions(
      { summary: `${what} ${listed(names)} (replace, ready, configmeta, package)` },
      [input],
    );
    return { failed: result.failed, runs: {}, configurePersisted: result.configurePersisted };
  } catch (error) {
    if (isCancellation(error)) throw error;
    // A failure that outlived its retries lands on every member of the wave.
    const message = failureMessage(error);
    return { failed: Object.fromEntries(names.map((n) => [n, message])), runs: {} };
  }
}
