/**
 * Custom actions (docs/adr/0050): an app declares named actions (`compact`, `backup`…) with target
 * roles, a mode, a timeout and typed parameters; `kdflow action CLUSTER NAME` runs `startscript
 * --action NAME --param k=v…` on the targets as one tracked operation. This file is the one check of
 * a request (the CLI refuses before anything is sent, the workflow checks again: anyone may send an
 * update) and the one place the argv is formatted. Zod-free: the workflow imports it.
 */
import type { ActionParam, AppAction, KdAppSpec } from './app.ts';
import type { ScriptEvent } from './common.ts';
import { DNS_LABEL_MAX, SCRIPT_EVENTS, dnsLabelPattern } from './fields.ts';
import type { NotifyAbout } from './ranges.ts';
import { startscriptArgv } from './rolling.ts';
import { describeValue, effectiveRole, paramProblem, type FieldIssue } from './rules.ts';

/** What `kdflow action` sends (the `runAction` update). Parameter values are strings, checked by type. */
export interface RunActionRequest {
  action: string;
  /** Only this role's members (one of the action's roles). */
  role?: string;
  /** Only these members; absent: every member of the action's roles (or of `role`). */
  members?: string[];
  params?: Record<string, string>;
  /**
   * The asker's own key for this request (a KdAction's uid): the same request sent again, after a
   * shim restart or a continue-as-new, answers the operation already queued instead of a second run.
   */
  requestId?: string;
}

/** The update's answer: the operation's id (in status, history and the member's files) and how many members it runs on. */
export interface ActionStarted {
  id: string;
  targets: number;
}

/** The script event of an action: its output is `/opt/guestconfig/action-NAME.{stdout,stderr,status}`. */
export type ActionEvent = `action-${string}`;
export const actionEvent = (name: string): ActionEvent => `action-${name}`;
export const isActionEvent = (event: string): event is ActionEvent => event.startsWith('action-');

/** `--action NAME --param k=v …`: formatted once, in the runScript activity (and for display). */
export function actionArgv(name: string, params: [string, string][]): string[] {
  return ['--action', name, ...params.flatMap(([key, value]) => ['--param', `${key}=${value}`])];
}

/** A script run's event as an activity may be given one: a lifecycle event, or `action-` and an action name. */
export function isScriptEvent(event: unknown): event is ScriptEvent | ActionEvent {
  if (typeof event !== 'string') return false;
  if ((SCRIPT_EVENTS as readonly string[]).includes(event)) return true;
  const name = event.slice('action-'.length);
  return isActionEvent(event) && name.length <= DNS_LABEL_MAX && dnsLabelPattern('action').regex.test(name);
}

/** A script run's argv, formatted once from what the run is (the runScript activity, and history for display). */
export function runArgv(
  run: {
    event: ScriptEvent | ActionEvent;
    about?: NotifyAbout;
    versions?: { from: string; to: string };
    action?: { name: string; params: [string, string][] };
  },
  cluster: string,
  namespace: string,
): string[] {
  return run.action ? actionArgv(run.action.name, run.action.params) : startscriptArgv(run, cluster, namespace);
}

/** A member as the check sees it. */
export interface ActionMember {
  name: string;
  role: string;
  state: string;
}

export interface ResolvedAction {
  action: AppAction;
  /** Member names, in the cluster's order. */
  targets: string[];
  /** Every declared parameter with a value (given or default), in declared order. */
  params: [string, string][];
}

/** The roles an action runs on: its own list, or every role with a config package (a startscript to run). */
export function actionRoles(app: KdAppSpec, action: AppAction): string[] {
  return action.roles ?? app.roles.filter((r) => effectiveRole(app, r.id)?.configPackage).map((r) => r.id);
}

const SHOWN = 8;
const list = (values: string[]) =>
  values.length > SHOWN ? `${values.slice(0, SHOWN).join(', ')} +${values.length - SHOWN} more` : values.join(', ');

/** What a parameter takes, for messages: `integer`, `one of low, high`. */
const accepts = (p: ActionParam) => (p.type === 'enum' ? `one of ${(p.values ?? []).join(', ')}` : p.type);

/**
 * A request checked against the app and the cluster's members: the action, its targets and its
 * parameters (defaults filled in), or every issue, each naming the field, the value and what is
 * accepted. Nothing runs unless this passes. The request is whatever a client sent.
 */
export function resolveAction(
  app: KdAppSpec,
  members: ActionMember[],
  request: unknown,
): { resolved: ResolvedAction; issues: [] } | { issues: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  const r = (typeof request === 'object' && request !== null ? request : {}) as Record<string, unknown>;
  const declared = app.actions ?? [];
  const action = declared.find((a) => a.name === r.action);
  if (!action) {
    const known = declared.map((a) => a.name);
    return {
      issues: [
        {
          path: 'action',
          message: `got ${describeValue(r.action)}; ${known.length > 0 ? `expected one of ${known.join(', ')}` : 'the app declares no actions'}`,
        },
      ],
    };
  }
  const roles = actionRoles(app, action);
  if (r.role !== undefined && !roles.includes(r.role as string))
    issues.push({
      path: 'role',
      message: `got ${describeValue(r.role)}; action ${action.name} runs on ${list(roles)}`,
    });
  const inScope = (m: ActionMember) => (r.role === undefined ? roles.includes(m.role) : m.role === r.role);

  let targets: ActionMember[];
  if (r.members !== undefined) {
    const named = Array.isArray(r.members) ? (r.members as unknown[]) : [r.members];
    targets = [];
    named.forEach((name, i) => {
      const m = members.find((x) => x.name === name);
      if (!m)
        issues.push({
          path: `members[${i}]`,
          message: `got ${describeValue(name)}; not a member of the cluster (its members: ${list(members.map((x) => x.name))})`,
        });
      else if (!inScope(m))
        issues.push({
          path: `members[${i}]`,
          message: `${m.name} is of role ${m.role}; action ${action.name} runs on ${r.role === undefined ? list(roles) : String(r.role)}`,
        });
      else if (!targets.includes(m)) targets.push(m);
    });
  } else targets = members.filter(inScope);
  const unready = targets.filter((m) => m.state !== 'configured');
  if (unready.length > 0)
    issues.push({
      path: 'members',
      message: `${list(unready.map((m) => `${m.name} (${m.state})`))} not configured; an action runs on configured members (name the members, or kdflow retry first)`,
    });
  if (targets.length === 0 && issues.length === 0)
    issues.push({
      path: 'members',
      message: `no members to run on: ${list(roles)} ha${roles.length === 1 ? 's' : 've'} none`,
    });

  const given = (typeof r.params === 'object' && r.params !== null ? r.params : {}) as Record<string, unknown>;
  const params: [string, string][] = [];
  const declaredParams = action.params ?? [];
  for (const key of Object.keys(given))
    if (!declaredParams.some((p) => p.name === key))
      issues.push({
        path: `params.${key}`,
        message: `unknown parameter of action ${action.name}; ${declaredParams.length > 0 ? `accepted: ${declaredParams.map((p) => p.name).join(', ')}` : 'it takes none'}`,
      });
  for (const p of declaredParams) {
    const raw = Object.hasOwn(given, p.name) ? given[p.name] : p.default;
    if (raw === undefined) {
      if (p.required) issues.push({ path: `params.${p.name}`, message: `missing; required (${accepts(p)})` });
      continue;
    }
    const problem = typeof raw === 'string' ? paramProblem(p, raw) : `expected a string (${accepts(p)})`;
    if (problem) issues.push({ path: `params.${p.name}`, message: `got ${describeValue(raw)}; ${problem}` });
    else params.push([p.name, raw as string]);
  }
  if (issues.length > 0) return { issues };
  return { resolved: { action, targets: targets.map((m) => m.name), params }, issues: [] };
}
