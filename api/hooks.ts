/**
 * Cluster hooks and role order (docs/adr/0053): what an app declares, read once. `hooks.postProvision`
 * runs `startscript --postprovision` on one member of its role after the whole cluster is first
 * configured; `hooks.preTerminate` runs `startscript --preterminate` before teardown on delete, and
 * a delete goes on after its attempts whatever they did. `roleOrder` stages create and delete and
 * orders a resize's roles. Zod-free: the workflow and its planner read it.
 */
import type { AppHook, KdAppSpec } from './app.ts';
import { DEFAULT_EVENTS, HOOK_ATTEMPTS, HOOK_TIMEOUT, HOOKS } from './fields.ts';
import type { RuleIssue } from './rules.ts';
import type { ClusterStatus } from './status.ts';

export type HookName = keyof typeof HOOKS;
export type HookEvent = (typeof HOOKS)[HookName];
export const HOOK_NAMES = Object.keys(HOOKS) as HookName[];

/** A declared hook with its defaults filled in. */
export interface HookSettings {
  hook: HookName;
  event: HookEvent;
  role: string;
  timeoutSeconds: number;
  attempts: number;
}

export function hookSettings(app: KdAppSpec, hook: HookName): HookSettings | undefined {
  const declared: AppHook | undefined = app.hooks?.[hook];
  if (!declared) return undefined;
  return {
    hook,
    event: HOOKS[hook],
    role: declared.role,
    timeoutSeconds: declared.timeoutSeconds ?? HOOK_TIMEOUT.default,
    attempts: declared.attempts ?? HOOK_ATTEMPTS.default,
  };
}

/** The longest a hook can hold what waits on it: every attempt to its timeout, with a minute each for the worker. */
export const hookBoundSeconds = (h: Pick<HookSettings, 'timeoutSeconds' | 'attempts'>) =>
  h.attempts * (h.timeoutSeconds + 60);

/** Stages: each listed stage (minus roles the app lacks or an earlier stage took), then every role left, together. */
function stagesOf(app: KdAppSpec, listed: string[][] | undefined): string[][] {
  const roles = app.roles.map((r) => r.id);
  if (!listed) return [roles];
  const taken = new Set<string>();
  const stages = listed.map((stage) =>
    stage.filter((role) => roles.includes(role) && !taken.has(role) && Boolean(taken.add(role))),
  );
  return [...stages, roles.filter((r) => !taken.has(r))].filter((stage) => stage.length > 0);
}

/** Create's stages: absent, every role in one (one launch, one configmeta, as in KubeDirector). */
export const provisionStages = (app: KdAppSpec) => stagesOf(app, app.roleOrder?.provision);
/** Delete's stages, removed one after another; absent, everyone at once. */
export const terminateStages = (app: KdAppSpec) => stagesOf(app, app.roleOrder?.terminate);
/** A resize's role turns: `grow`, else create's stages in order, else the app's role order. */
export function growOrder(app: KdAppSpec): string[] {
  const listed = app.roleOrder?.grow;
  return (listed ? stagesOf(app, [listed]) : provisionStages(app)).flat();
}

/** The rules of `hooks` and `roleOrder` (called by appSpecIssues). */
export function hookSpecIssues(app: KdAppSpec): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const roles = new Map(app.roles.map((r) => [r.id, r]));
  const known = app.roles.map((r) => `"${r.id}"`).join(', ');
  for (const hook of HOOK_NAMES) {
    const declared = app.hooks?.[hook];
    if (!declared) continue;
    const at = ['hooks', hook, 'role'];
    const role = roles.get(declared.role);
    if (!role) {
      issues.push({ path: at, message: `unknown role "${declared.role}"; the app has ${known}` });
      continue;
    }
    const configPackage = role.configPackage !== undefined ? role.configPackage : app.defaultConfigPackage;
    if (!configPackage)
      issues.push({ path: at, message: `role "${role.id}" has no config package, so no startscript to run` });
    const events: readonly string[] = role.eventList ?? app.defaultEventList ?? DEFAULT_EVENTS;
    if (!events.includes(HOOKS[hook]))
      issues.push({
        path: at,
        message: `role "${role.id}"'s eventList does not name ${HOOKS[hook]}; add it, so its startscript is known to handle --${HOOKS[hook]}`,
      });
  }
  const order = app.roleOrder ?? {};
  const lists: [string, string[][] | undefined][] = [
    ['provision', order.provision],
    ['terminate', order.terminate],
    ['grow', order.grow && [order.grow]],
  ];
  for (const [field, stages] of lists) {
    const seen = new Set<string>();
    stages?.forEach((stage, i) => {
      if (field !== 'grow' && stage.length === 0)
        issues.push({ path: ['roleOrder', field, i], message: 'a stage names at least one role' });
      stage.forEach((role, j) => {
        const path = field === 'grow' ? ['roleOrder', field, j] : ['roleOrder', field, i, j];
        if (!roles.has(role)) issues.push({ path, message: `unknown role "${role}"; the app has ${known}` });
        else if (seen.has(role)) issues.push({ path, message: `role "${role}" is named twice` });
        seen.add(role);
      });
    });
  }
  return issues;
}

/** One line per hook that ran: `postProvision failed on c-master-0: …`. */
export function hookLines(s: Pick<ClusterStatus, 'hooks'>): string[] {
  return Object.entries(s.hooks ?? {}).map(
    ([hook, run]) => `${hook} ${run.state}${run.member ? ` on ${run.member}` : ''}${run.error ? `: ${run.error}` : ''}`,
  );
}
