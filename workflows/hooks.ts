/**
 * Cluster hooks and the delete's order, decided purely (docs/adr/0053). The workflow asks
 * `nextPostProvision` once the lifecycle has nothing to do, and `teardownPlan` when it is deleted,
 * runs what they say and records the result with `hookRun`. State is O(1): one record per hook.
 */
import { desiredMembers, hookSettings, terminateStages, type HookName, type HookSettings } from '../api/contract.ts';
import { isLive, type applyOutcome } from './plan.ts';
import { listed } from './summaries.ts';
import { shortError, succeeded, type Desired, type Member, type Step } from './model.ts';

/** How a hook's last run went. Times are workflow time, in ms. */
export interface HookRun {
  state: 'succeeded' | 'failed' | 'skipped';
  member?: string;
  attempts: number;
  exitCode: number | null;
  startedAt: number;
  finishedAt: number;
  /** One short line: why it failed or was skipped. */
  error?: string;
}

export interface HookState {
  hooks?: Partial<Record<HookName, HookRun>>;
}

/** Run `settings.event` on `member`. */
export interface HookStep {
  settings: HookSettings;
  member: string;
}

/** The member a hook runs on: the lowest ordinal of its role that is configured, else (a delete) any launched one. */
export function hookMember(members: Member[], role: string, configuredOnly: boolean): Member | undefined {
  const mine = members.filter((m) => m.role === role && isLive(m)).sort((a, b) => a.ordinal - b.ordinal);
  return mine.find((m) => m.state === 'configured') ?? (configuredOnly ? undefined : mine.find((m) => m.launched));
}

/**
 * postProvision: once, when every member the spec asks for is configured and none is leaving, and
 * it has not run yet (a failed run waits for `kdflow retry`, which forgets it).
 */
export function nextPostProvision(desired: Desired, members: Member[], state: HookState): HookStep | undefined {
  const settings = hookSettings(desired.app, 'postProvision');
  if (!settings || state.hooks?.postProvision || members.length === 0) return undefined;
  if (!members.every((m) => m.state === 'configured')) return undefined;
  for (const [role, want] of desiredMembers(desired.spec, desired.app))
    if (members.filter((m) => m.role === role).length !== want) return undefined;
  const member = hookMember(members, settings.role, true);
  return member && { settings, member: member.name };
}

/** What a delete does, in order: the preTerminate hook (or why not), then each terminate stage's removal. */
export type TeardownStep =
  | { kind: 'hook'; step: HookStep }
  | { kind: 'skipHook'; reason: string }
  | { kind: 'remove'; members: string[] }
  /** The last: these members and whatever else the runtime still has of the cluster. */
  | { kind: 'teardown'; members: string[] };

export function teardownPlan(desired: Desired, members: Member[], skipHooks: boolean): TeardownStep[] {
  const steps: TeardownStep[] = [];
  const settings = hookSettings(desired.app, 'preTerminate');
  if (settings) {
    const member = hookMember(members, settings.role, false);
    if (skipHooks) steps.push({ kind: 'skipHook', reason: 'skipped: kdflow delete --skip-hooks' });
    else if (!member)
      steps.push({ kind: 'skipHook', reason: `skipped: role "${settings.role}" has no member to run on` });
    else steps.push({ kind: 'hook', step: { settings, member: member.name } });
  }
  const stages = terminateStages(desired.app)
    .map((roles) => members.filter((m) => roles.includes(m.role)).map((m) => m.name))
    .filter((names) => names.length > 0);
  const last = stages.pop() ?? [];
  for (const names of stages) steps.push({ kind: 'remove', members: names });
  // Members of roles the app no longer lists (none, normally) go with the last stage.
  const staged = new Set([...stages.flat(), ...last]);
  steps.push({
    kind: 'teardown',
    members: [...last, ...members.filter((m) => !staged.has(m.name)).map((m) => m.name)],
  });
  return steps;
}

/** A hook's record from its run: `error` set when it failed after its attempts. */
export function hookRun(
  member: string | undefined,
  run: { exitCode: number | null; attempts: number; startedAt: number; finishedAt: number },
  error?: string,
  skipped = false,
): HookRun {
  return {
    state: skipped ? 'skipped' : error !== undefined ? 'failed' : 'succeeded',
    ...(member !== undefined ? { member } : {}),
    ...run,
    ...(error !== undefined ? { error: shortError(error) } : {}),
  };
}

/** `kdflow retry` (of the cluster or of the member it ran on) runs a failed postProvision again. */
export function retriedHooks(state: HookState, retries: (string | null)[]): HookState['hooks'] {
  const post = state.hooks?.postProvision;
  if (post?.state !== 'failed' || !retries.some((r) => r === null || r === post.member)) return state.hooks;
  const { postProvision: _failed, ...rest } = state.hooks ?? {};
  return rest;
}

/** What `kdflow plan` adds after the lifecycle's `steps`: the hook it would run, and how a delete would go. */
export function hookPlanLines(
  fold: typeof applyOutcome,
  desired: Desired,
  members: Member[],
  steps: Step[],
  state: HookState,
): string[] {
  const after = steps.reduce((current, step) => fold(desired, current, step, succeeded), members);
  const lines: string[] = [];
  const post = nextPostProvision(desired, after, state);
  if (post) lines.push(`postprovision on ${post.member} (hook, once)`);
  const teardown = teardownPlan(desired, after, false);
  if (teardown.length > 1 || teardown[0]?.kind !== 'teardown')
    lines.push(
      `on delete: ${teardown
        .map((s) =>
          s.kind === 'hook'
            ? `preterminate on ${s.step.member}`
            : s.kind === 'skipHook'
              ? `preterminate ${s.reason}`
              : `remove ${listed(s.members)}`,
        )
        .join(', then ')}`,
    );
  return lines;
}
