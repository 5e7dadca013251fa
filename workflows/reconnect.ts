/**
 * --reconnect (docs/adr/0044): when the objects a cluster connects to change (another cluster's
 * members, a ConfigMap, a Secret), KubeDirector rewrites configmeta in its ready members and runs
 * their startscript with `--reconnect`. Here that is one more planner decision, wrapped around any
 * planner version: once the lifecycle has nothing left to do, configured members whose scripts last
 * saw another digest of the connections get a `reconnect` step. A cluster without connections has no
 * digest, so its steps (and every recorded history) are those of the planner it wraps. Pure.
 */
import { effectiveRole } from '../api/contract.ts';
import { planWith, type applyOutcome, type nextStep, type requestRetry } from './plan.ts';
import { shortError, type Desired, type Member, type Step, type StepOutcome } from './model.ts';

interface Lifecycle {
  nextStep: typeof nextStep;
  applyOutcome: typeof applyOutcome;
  requestRetry: typeof requestRetry;
}

/** A member's `connected` after its --reconnect about `digest` failed: not tried again until `kdflow retry`. */
const failedAbout = (digest: string) => `!${digest}`;

/** Configured members of roles with a startscript whose scripts have not heard of these connections. */
function dueForReconnect(desired: Desired, members: Member[]): Member[] {
  const digest = desired.connections;
  if (digest === undefined) return [];
  return members.filter(
    (m) =>
      m.state === 'configured' &&
      m.connected !== digest &&
      m.connected !== failedAbout(digest) &&
      Boolean(effectiveRole(desired.app, m.role)?.configPackage),
  );
}

export function withReconnect(planner: Lifecycle) {
  const next = (desired: Desired, members: Member[]): Step | undefined => {
    const step = planner.nextStep(desired, members);
    if (step) return step;
    const due = dueForReconnect(desired, members);
    const first = due[0];
    if (!first) return undefined;
    // One step for every due member, whatever its role: a reconnect is about no member, so `role` only names the first's.
    return { kind: 'runEvent', event: 'reconnect', role: first.role, targets: due.map((m) => m.name) };
  };

  const fold = (desired: Desired, members: Member[], step: Step, outcome: StepOutcome): Member[] => {
    const digest = desired.connections;
    if (step.kind === 'runEvent' && step.event === 'reconnect') {
      const targets = new Set(step.targets);
      return members.map((m) => {
        if (!targets.has(m.name) || digest === undefined) return m;
        const run = outcome.runs[m.name];
        const runs = run ? { ...m.runs, reconnect: run } : m.runs;
        const error = outcome.failed[m.name];
        // A failed --reconnect is the member's note, never its state: KubeDirector leaves it ready too.
        return error
          ? { ...m, runs, connected: failedAbout(digest), lastError: shortError(error) }
          : { ...m, runs, connected: digest };
      });
    }
    const after = planner.applyOutcome(desired, members, step, outcome);
    if (step.kind !== 'launchMembers' || digest === undefined) return after;
    // A member launched now reads the connections in its configmeta when it configures.
    const launched = new Set(step.members.map((m) => m.name).filter((name) => !(name in outcome.failed)));
    return after.map((m) => (launched.has(m.name) ? { ...m, connected: digest } : m));
  };

  // `kdflow retry` sends a failed --reconnect again: the member no longer counts as having heard of any digest.
  const retry = (members: Member[], only?: string, dead?: ReadonlySet<string>): Member[] =>
    planner.requestRetry(members, only, dead).map((m) => {
      if (!m.connected?.startsWith('!') || (only !== undefined && m.name !== only)) return m;
      const { connected: _failed, ...rest } = m;
      return rest;
    });

  return {
    nextStep: next,
    applyOutcome: fold,
    requestRetry: retry,
    plan: (desired: Desired, members: Member[], limit?: number) =>
      planWith({ nextStep: next, applyOutcome: fold }, desired, members, limit),
  };
}
