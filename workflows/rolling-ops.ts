/**
 * The cluster workflow's rolling operations (docs/adr/0037): the upgrade, decision, restart and
 * cancel handlers, and the loop that runs a rollout step by step. Workflow code, wired into
 * cluster.ts with a handful of lines; the decisions are plan-rolling.ts's, pure.
 */
import * as wf from '@temporalio/workflow';
import {
  cancelUpdate,
  restartUpdate,
  rolloutDecisionUpdate,
  upgradeRequestIssue,
  upgradeUpdate,
  rolloutPolicy,
  type CancelAnswer,
  type KdClusterSpec,
  type RolloutStatus,
  type UpgradeTarget,
} from '../api/contract.ts';
import type { Desired, Member, Step } from './model.ts';
import { isLive } from './plan.ts';
import {
  applyRollingOutcome,
  cancelRollout,
  decideRollout,
  describeRollingStep,
  isActive,
  isUnsettled,
  nextRollingStep,
  planRollout,
  reconfiguredRoles,
  rolloutStatus,
  startReconfigure,
  startRestart,
  startUpgrade,
  type Rollout,
} from './plan-rolling.ts';
import { runRollingStep } from './rolling-steps.ts';

/** The part of the cluster's state rolling operations read and change; carried across continue-as-new with the rest. */
export interface RollingState {
  desired: Desired;
  members: Member[];
  seq: number;
  observedGeneration: number;
  /** The rolling operation in flight, or the last one (status shows it). */
  rollout?: Rollout;
  /** The spec of the last converged generation: what a cancelled grow returns to. */
  settledSpec?: KdClusterSpec;
}

export interface RollingHost {
  state: RollingState;
  appName: string;
  clusterId: string;
  heartbeatTimeoutSeconds: number;
  deleting(): boolean;
  /** The lifecycle step in flight, if a lifecycle operation runs. */
  lifecycleStep(): Step | undefined;
  /** Cancels whatever operation runs now. */
  cancelOperation(): void;
  /** Lets the lifecycle operation finish its step in flight, then stop (its members are then in state). */
  stopAfterStep(): void;
  startDelete(): void;
  reject(reason: string): never;
  publish(): void;
}

export function rollingOperations(host: RollingHost) {
  const { state } = host;
  let stepText: string | undefined;
  const current = (): Desired => state.desired;
  const refuseIfBusy = () => {
    if (host.deleting()) host.reject('the cluster is being deleted');
    const r = state.rollout;
    if (r && isUnsettled(r))
      host.reject(
        `the ${r.kind} is ${r.phase}${r.phase === 'paused' ? ' (kdflow upgrade NAME --resume or --rollback)' : ''}; it must end first`,
      );
  };
  const started = (rollout: Rollout): RolloutStatus => {
    state.rollout = rollout;
    host.publish();
    return rolloutStatus(rollout);
  };

  wf.setHandler(upgradeUpdate, (request) => {
    refuseIfBusy();
    const issue = upgradeRequestIssue(request, host.appName, current().app);
    if (issue) host.reject(issue);
    state.seq += 1;
    return started(
      startUpgrade(state.seq, current(), request.to.app, state.members, {
        ...(request.maxUnavailable !== undefined ? { maxUnavailable: request.maxUnavailable } : {}),
        ...(request.onFailure !== undefined ? { onFailure: request.onFailure } : {}),
      }),
    );
  });

  wf.setHandler(restartUpdate, (request) => {
    refuseIfBusy();
    const role = typeof request?.role === 'string' ? request.role : undefined;
    const names = Array.isArray(request?.members) ? request.members.filter((n) => typeof n === 'string') : [];
    if (role !== undefined && !current().app.roles.some((r) => r.id === role))
      host.reject(
        `role: the app has no role "${role}"; its roles: ${current()
          .app.roles.map((r) => r.id)
          .join(', ')}`,
      );
    const live = state.members.filter(isLive);
    const unknown = names.filter((n) => !live.some((m) => m.name === n));
    if (unknown.length > 0)
      host.reject(`member ${unknown.join(', ')} not found; its members: ${live.map((m) => m.name).join(', ')}`);
    state.seq += 1;
    const rollout = startRestart(state.seq, current(), state.members, {
      ...(role !== undefined ? { role } : {}),
      members: names,
    });
    if (rollout.order.length === 0) host.reject('no configured member to restart');
    return started(rollout);
  });

  wf.setHandler(rolloutDecisionUpdate, (decision) => {
    const r = state.rollout;
    if (r?.phase !== 'paused') return host.reject(`no paused upgrade to ${decision?.action ?? 'decide'}`);
    if (decision?.action !== 'resume' && decision?.action !== 'rollback')
      return host.reject(`action: expected resume or rollback, got "${String(decision?.action)}"`);
    return started(decideRollout(r, decision.action, state.members));
  });

  wf.setHandler(cancelUpdate, (): CancelAnswer => {
    if (host.deleting()) return host.reject('the cluster is being deleted');
    const r = state.rollout;
    if (r && isUnsettled(r)) {
      if (r.phase === 'rolling back')
        return { outcome: 'completing', message: 'the rollback goes on: a rollback is never cancelled' };
      state.rollout = cancelRollout(r, state.members);
      host.publish();
      if (r.kind === 'restart')
        return { outcome: 'completing', message: 'the restart stops after the member in progress' };
      host.cancelOperation();
      return { outcome: 'rolling back', message: `the ${r.kind} is cancelled: its members roll back, newest first` };
    }
    const working = host.lifecycleStep() !== undefined || state.desired.generation > state.observedGeneration;
    if (!working) return { outcome: 'nothing to cancel', message: 'no operation is in flight' };
    if (state.observedGeneration === 0) {
      host.startDelete();
      return { outcome: 'deleting', message: 'a cancelled create deletes the cluster' };
    }
    if (state.members.some((m) => !isLive(m)))
      return { outcome: 'completing', message: 'the shrink completes: its members are already being removed' };
    const settled = state.settledSpec;
    if (!settled) return host.reject('the last converged spec is not known to this run; change the spec back instead');
    state.desired = { ...state.desired, spec: settled, generation: state.desired.generation + 1 };
    // A script is cut short; a launch finishes first, so its members are known and removed properly.
    if (host.lifecycleStep()?.kind === 'runEvent') host.cancelOperation();
    else host.stopAfterStep();
    host.publish();
    return {
      outcome: 'shrinking back',
      message: `back to generation ${state.observedGeneration}'s spec: new members are removed, the others hear --delnodes`,
    };
  });

  /** Whether `spec` asks for another version than the cluster runs: then it is an upgrade to `target`. */
  const upgradeAsked = (spec: KdClusterSpec): boolean =>
    spec.appVersion !== undefined && spec.appVersion !== current().app.version;

  return {
    /**
     * Why a spec change's `appVersion` cannot start an upgrade (said of spec.appVersion), or undefined (no upgrade asked, or one
     * that can start). The change must carry the catalog's snapshot of that version.
     */
    specUpgradeIssue(spec: KdClusterSpec, target: UpgradeTarget | undefined): string | undefined {
      if (!upgradeAsked(spec)) return undefined;
      const running = current().app.version;
      if (!target || typeof target !== 'object')
        return `"${spec.appVersion}" is not the version the cluster runs (${running}), and the change carries no app snapshot of it (kdflow apply and the shim resolve it from the catalog)`;
      if (target.version !== spec.appVersion)
        return `"${spec.appVersion}" but the change carries app version "${String(target.version)}"`;
      const issue = upgradeRequestIssue({ to: target }, host.appName, current().app);
      return issue;
    },
    /**
     * A spec change was accepted: a new appVersion starts the upgrade to `target` (with the new
     * version's upgrade policy); members whose env, labels or resources changed are reconfigured one at a time.
     */
    specAccepted(before: KdClusterSpec, target?: UpgradeTarget) {
      const next = state.desired.spec;
      if (upgradeAsked(next) && target) {
        state.seq += 1;
        state.rollout = startUpgrade(state.seq, current(), target.app, state.members);
        return;
      }
      if (reconfiguredRoles(before, next, state.members).length === 0) return;
      state.seq += 1;
      const from = { app: state.desired.app, spec: before };
      state.rollout = startReconfigure(state.seq, from, { app: state.desired.app, spec: next }, state.members);
    },
    /** Refuses a spec change while a rolling operation has not ended. */
    refuseChange() {
      if (isUnsettled(state.rollout)) refuseIfBusy();
    },
    /** `kdflow plan` of a spec change: the reconfigure it would roll out after the lifecycle's steps. */
    plannedReconfigure(next: KdClusterSpec): string[] {
      const from = { app: state.desired.app, spec: state.desired.spec };
      const rollout = startReconfigure(state.seq + 1, from, { app: state.desired.app, spec: next }, state.members);
      return rollout ? planRollout(rollout, state.members).map(describeRollingStep) : [];
    },
    /**
     * Self-healing by KubeDirector's restart rule (issue 17, docs/adr/0049): dead members come back as
     * a restart of them alone, all at once (they are down already): re-created under their own name and
     * volume, configured again only where no successful configure persisted, then `--restart` where
     * their role lists it. Never while another rolling operation is unsettled. Returns the members taken.
     */
    healByRestart(names: string[]): string[] {
      if (names.length === 0 || isUnsettled(state.rollout)) return [];
      const rollout = startRestart(state.seq + 1, current(), state.members, {
        members: names,
        maxUnavailable: names.length,
      });
      if (rollout.order.length === 0) return [];
      state.seq += 1;
      state.rollout = rollout;
      return rollout.order;
    },
    /** `kdflow plan` of a new appVersion: the upgrade's policy, then its steps. */
    plannedUpgrade(target: UpgradeTarget): string[] {
      const rollout = startUpgrade(state.seq + 1, current(), target.app, state.members);
      const status = rolloutStatus(rollout);
      return [
        `upgrade ${status.from} → ${status.to} of ${status.total} member(s): ${rolloutPolicy(status)}`,
        ...planRollout(rollout, state.members).map(describeRollingStep),
      ];
    },
    runnable: () => isActive(state.rollout),
    operation: () => stepText,
    status: () => (state.rollout ? rolloutStatus(state.rollout) : undefined),

    async run(): Promise<void> {
      for (;;) {
        const rollout = state.rollout;
        const step = nextRollingStep(rollout, state.members);
        if (!rollout || !step) break;
        state.seq += 1;
        stepText = describeRollingStep(step);
        host.publish();
        const outcome = await runRollingStep(step, rollout, {
          desired: state.desired,
          members: state.members,
          seq: state.seq,
          clusterId: host.clusterId,
          heartbeatTimeoutSeconds: host.heartbeatTimeoutSeconds,
        });
        // A cancel may have turned the rollout meanwhile: the outcome is folded into the current one.
        const next = applyRollingOutcome(state.rollout ?? rollout, state.members, step, outcome);
        state.rollout = next.rollout;
        state.members = next.members;
      }
      stepText = undefined;
      finish();
    },
  };

  /** An ended rollout becomes the cluster's: the new app once upgraded, the old settings once a reconfigure rolled back. */
  function finish() {
    const r = state.rollout;
    if (!r || isUnsettled(r)) return;
    if (r.kind === 'upgrade') {
      if (r.phase === 'done') state.desired = { ...state.desired, app: r.to.app };
      // A spec that names a version names the one the cluster ended on: the new one, or the old after a rollback.
      const version = state.desired.app.version;
      if (state.desired.spec.appVersion !== undefined && state.desired.spec.appVersion !== version)
        settle({ ...state.desired.spec, appVersion: version });
    }
    if (r.kind === 'reconfigure' && (r.phase === 'rolled back' || r.phase === 'rollback failed')) {
      const before = new Map(r.from.spec.roles.map((role) => [role.id, role]));
      const spec = {
        ...state.desired.spec,
        roles: state.desired.spec.roles.map((role) => {
          const old = before.get(role.id);
          const { env: _e, podLabels: _l, resources: _r, ...rest } = role;
          return {
            ...rest,
            ...(old?.env ? { env: old.env } : {}),
            ...(old?.podLabels ? { podLabels: old.podLabels } : {}),
            ...(old?.resources ? { resources: old.resources } : {}),
          };
        }),
      };
      settle(spec);
    }
  }

  /** The workflow's own change of the spec, converged as it is made: a new generation, already observed. */
  function settle(spec: KdClusterSpec) {
    const generation = state.desired.generation + 1;
    state.desired = { ...state.desired, spec, generation };
    state.observedGeneration = generation;
    state.settledSpec = spec;
  }
}
