/**
 * Planner v3 (docs/adr/0014): v2's lifecycle with one step fewer per grow. In v2, a launch into a
 * live cluster is always followed by a `writeConfigmeta` that brings the members launched before up
 * to the new topology: one more activity, workflow task and round trip per resize. v3 asks the
 * launch to do that too (`refresh`), unless members are leaving: then survivors must hear --delnodes
 * before their configmeta drops a leaver, and the rewrite stays a step of its own, as in v2. Every
 * other decision is v2's, which test/unit/plan.test.ts checks step for step. Pure.
 */
import { applyOutcome, isLive, nextStep, planWith } from './plan.ts';
import type { Desired, Member, Step, StepOutcome } from './model.ts';

export function nextStepV3(desired: Desired, members: Member[]): Step | undefined {
  const step = nextStep(desired, members);
  if (step?.kind !== 'launchMembers' || members.some((m) => !isLive(m))) return step;
  // Exactly the members v2's next step would rewrite: live, launched, not in error, not launched now,
  // with a configmeta that does not list the members this launch adds.
  const launching = new Set(step.members.map((m) => m.name));
  const refresh = members
    .filter(
      (m) =>
        isLive(m) && m.launched && m.state !== 'config error' && !launching.has(m.name) && m.topology !== step.topology,
    )
    .map((m) => m.name);
  return refresh.length > 0 ? { ...step, refresh } : step;
}

export function applyOutcomeV3(desired: Desired, members: Member[], step: Step, outcome: StepOutcome): Member[] {
  if (step.kind !== 'launchMembers' || !step.refresh) return applyOutcome(desired, members, step, outcome);
  const { refresh, ...launch } = step;
  // The launch, then the rewrite, as v2 folds its two steps; a member's failure is its own in either.
  const launched = applyOutcome(desired, members, launch, outcome);
  return applyOutcome(
    desired,
    launched,
    { kind: 'writeConfigmeta', members: refresh, topology: step.topology },
    outcome,
  );
}

export function planV3(desired: Desired, members: Member[], limit = 10_000): Step[] {
  return planWith({ nextStep: nextStepV3, applyOutcome: applyOutcomeV3 }, desired, members, limit);
}
