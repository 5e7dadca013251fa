/**
 * Custom actions in the workflow (docs/adr/0050). `runAction` checks a request with the one check of
 * api/actions.ts and queues it as an operation with an id; the main loop runs queued actions once the
 * lifecycle has nothing to do, one at a time: `startscript --action NAME --param k=v…` on each target
 * (serially, stopping at the first failure, or up to maxParallel at once). State stays bounded: a few
 * queued and finished actions with their targets as ordinal ranges, and each member's result in the
 * newest action that ran on it.
 */
import { isCancellation, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import {
  ACTIONS_KEPT,
  ACTIONS_QUEUED_MAX,
  actionEvent,
  fromRanges,
  memberName,
  resolveAction,
  scriptRunId,
  toRanges,
  type ActionStatus,
  type FieldIssue,
  type MemberActionResult,
  type OrdinalRange,
} from '../api/contract.ts';
import { shortError, type Desired, type Member } from './model.ts';
import { failureMessage, memberActivityOptions, scriptDetails, target } from './steps.ts';

/** An action as the state keeps it: queued, running or finished. Times are workflow time, in ms. */
export interface ActionRecord {
  id: string;
  action: string;
  params: [string, string][];
  targets: { role: string; ordinals: OrdinalRange[] }[];
  count: number;
  state: ActionStatus['state'];
  succeeded: number;
  failed: number;
  failures: string[];
  requestedAt: number;
  finishedAt?: number;
  /** The asker's key (a KdAction's uid), so the same request is never queued twice. */
  requestId?: string;
}

/** A member's result in the newest action that ran on it: [member, id, exit code, attempts, started, finished, error]. */
export type MemberActionRow = [string, string, number | null, number, number, number, string?];

export interface ActionState {
  actions?: ActionRecord[];
  actionSeq?: number;
  memberActions?: MemberActionRow[];
}

const FAILURES_KEPT = 5;

/** A request, checked and queued: the new list and the record, or the issues (nothing is queued). */
export function queueAction(
  state: ActionState,
  desired: Desired,
  members: Member[],
  request: unknown,
  now: number,
): { actions: ActionRecord[]; record: ActionRecord; seq: number } | { issues: FieldIssue[] } {
  const actions = state.actions ?? [];
  // Asked again (a shim that restarted before it wrote the id down): the same operation, not a second run.
  const requestId = requestIdOf(request);
  const known = requestId === undefined ? undefined : actions.find((a) => a.requestId === requestId);
  if (known) return { actions, record: known, seq: state.actionSeq ?? 0 };
  const checked = resolveAction(desired.app, members, request);
  if (!('resolved' in checked)) return { issues: checked.issues };
  const waiting = actions.filter((a) => a.state === 'queued' || a.state === 'running').length;
  if (waiting >= ACTIONS_QUEUED_MAX)
    return {
      issues: [
        { path: 'action', message: `${waiting} actions are queued or running already, the most a cluster keeps` },
      ],
    };
  const { action, targets, params } = checked.resolved;
  const seq = (state.actionSeq ?? 0) + 1;
  const chosen = members.filter((m) => targets.includes(m.name));
  const roles = [...new Set(chosen.map((m) => m.role))];
  const record: ActionRecord = {
    id: `${action.name}-${seq}`,
    action: action.name,
    params,
    targets: roles.map((role) => ({
      role,
      ordinals: toRanges(chosen.filter((m) => m.role === role).map((m) => m.ordinal)),
    })),
    count: targets.length,
    state: 'queued',
    succeeded: 0,
    failed: 0,
    failures: [],
    requestedAt: now,
    ...(requestId !== undefined ? { requestId } : {}),
  };
  return { actions: [...actions, record], record, seq };
}

const REQUEST_ID_MAX = 128;
function requestIdOf(request: unknown): string | undefined {
  const id =
    typeof request === 'object' && request !== null ? (request as { requestId?: unknown }).requestId : undefined;
  return typeof id === 'string' && id.length > 0 && id.length <= REQUEST_ID_MAX ? id : undefined;
}

export const nextQueuedAction = (state: ActionState) => (state.actions ?? []).find((a) => a.state === 'queued');

/** Finished actions beyond the newest few are dropped; queued and running ones stay. */
export function pruneActions(actions: ActionRecord[]): ActionRecord[] {
  const finished = actions.filter((a) => a.finishedAt !== undefined);
  const drop = new Set(finished.slice(0, Math.max(0, finished.length - ACTIONS_KEPT)));
  return actions.filter((a) => !drop.has(a));
}

export interface ActionContext {
  desired: Desired;
  members: Member[];
  seq: number;
  heartbeatTimeoutSeconds: number;
  /** Each member's result as it comes, so status shows the action's progress. */
  onResult: (row: MemberActionRow) => void;
}

/** Runs one action on its targets; the record is updated in place as members finish. */
export async function runAction(record: ActionRecord, ctx: ActionContext): Promise<void> {
  const { desired } = ctx;
  const declared = desired.app.actions?.find((a) => a.name === record.action);
  const timeoutSeconds = declared?.timeoutSeconds ?? desired.app.scriptTimeoutSeconds;
  const scripts = proxyActivities<Activities>({
    ...memberActivityOptions(ctx.heartbeatTimeoutSeconds),
    startToCloseTimeout: `${timeoutSeconds + 60} seconds`,
    // At most once: a script's own failure is final; a lost worker's attempt is retried and adopts its runner.
    retry: {
      maximumAttempts: 5,
      nonRetryableErrorTypes: ['ScriptFailed', 'ScriptTimeout', 'ScriptMissing', 'PackageInvalid', 'MemberNotReady'],
    },
  });
  const event = actionEvent(record.action);
  const byName = new Map(ctx.members.map((m) => [m.name, m]));
  const names = record.targets.flatMap((t) =>
    fromRanges(t.ordinals).map((ordinal) => memberName(desired.name, t.role, ordinal)),
  );
  const env = (role: string) => desired.spec.roles.find((r) => r.id === role)?.env ?? [];
  let stop = false;
  const fail = (member: string, error: string) => {
    record.failed += 1;
    if (record.failures.length < FAILURES_KEPT) record.failures.push(shortError(`${member}: ${error}`));
  };
  const runOne = async (name: string) => {
    const member = byName.get(name);
    if (!member || stop) {
      fail(name, member ? 'not run: an earlier member failed (serial)' : 'not run: no longer a member');
      return;
    }
    const started = Date.now();
    const script = {
      runId: scriptRunId(desired.namespace, desired.name, desired.generation, ctx.seq, name, event),
      event,
      action: { name: record.action, params: record.params },
      env: env(member.role),
      timeoutSeconds,
    };
    try {
      const result = await scripts.runScript.executeWithOptions(
        { summary: `action ${record.action} on ${name} (${record.id})` },
        [{ member: target(desired, member), script }],
      );
      record.succeeded += 1;
      ctx.onResult([name, record.id, result.exitCode, result.attempts, started, Date.now()]);
    } catch (error) {
      if (isCancellation(error)) throw error;
      const message = failureMessage(error);
      const details = scriptDetails(error);
      fail(name, message);
      if (declared?.mode === 'serial') stop = true;
      ctx.onResult([
        name,
        record.id,
        details?.exitCode ?? null,
        details?.attempts ?? 0,
        started,
        Date.now(),
        shortError(message),
      ]);
    }
  };
  const queue = [...names];
  const width = declared?.mode === 'serial' ? 1 : Math.min(desired.app.maxParallel, queue.length);
  const lanes = Array.from({ length: width }, async () => {
    for (let name = queue.shift(); name; name = queue.shift()) await runOne(name);
  });
  await Promise.all(lanes);
}

/** The rows, with `row` replacing the member's older one; members gone are dropped. */
export function withMemberAction(rows: MemberActionRow[], row: MemberActionRow, members: Member[]): MemberActionRow[] {
  return [...rows.filter((r) => r[0] !== row[0] && members.some((m) => m.name === r[0])), row];
}

export function actionStatus(record: ActionRecord): ActionStatus {
  return {
    id: record.id,
    action: record.action,
    params: record.params,
    state: record.state,
    targets: record.count,
    succeeded: record.succeeded,
    failed: record.failed,
    failures: record.failures,
    requestedAt: new Date(record.requestedAt).toISOString(),
    ...(record.finishedAt !== undefined ? { finishedAt: new Date(record.finishedAt).toISOString() } : {}),
  };
}

export function memberActionResult(row: MemberActionRow | undefined): MemberActionResult | undefined {
  if (!row) return undefined;
  const [, id, exitCode, attempts, startedAt, finishedAt, error] = row;
  return {
    id,
    exitCode,
    attempts,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    ...(error ? { error } : {}),
  };
}
