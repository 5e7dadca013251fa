/**
 * Planner v4 (docs/adr/0047, 0014): v3's lifecycle, with the --configure of a create run for every
 * role at once, as KubeDirector does. v3 configures one role after another, so a script that waits
 * (`ccli --tokenwait`) for a later role's script would only time out. Where v3 would configure role
 * R's new members, v4 adds the new members of every other role that are launched and ready for it
 * (creating, their configmeta at the same topology, their role has a configure event): in practice
 * a create's whole batch, as a grow launches one role at a time and so still configures role by
 * role. maxParallel still bounds how many run at once. Outcomes are v3's (applyOutcomeV3 applies a
 * configure member by member, whatever its role); every other decision is v3's. Pure.
 */
import { effectiveRole } from '../api/contract.ts';
import type { Desired, Member, Step } from './model.ts';
import { planWith } from './plan.ts';
import { applyOutcomeV3, nextStepV3 } from './plan-v3.ts';

const configures = (desired: Desired, roleId: string): boolean => {
  const role = effectiveRole(desired.app, roleId);
  return Boolean(role?.configPackage && role.events.includes('configure'));
};

export function nextStepV4(desired: Desired, members: Member[]): Step | undefined {
  const step = nextStepV3(desired, members);
  if (step?.kind !== 'runEvent' || step.event !== 'configure' || step.about || step.retry) return step;
  const targets = new Set(step.targets);
  const topology = members.find((m) => targets.has(m.name))?.topology;
  const others = members.filter(
    (m) =>
      !targets.has(m.name) &&
      m.role !== step.role &&
      m.state === 'creating' &&
      m.launched &&
      m.topology === topology &&
      configures(desired, m.role),
  );
  return others.length > 0 ? { ...step, targets: [...step.targets, ...others.map((m) => m.name)] } : step;
}

export function planV4(desired: Desired, members: Member[], limit = 10_000): Step[] {
  return planWith({ nextStep: nextStepV4, applyOutcome: applyOutcomeV3 }, desired, members, limit);
}
