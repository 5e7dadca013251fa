/**
 * Script runs as Temporal recorded them: each runScript activity's input (member, event, what it was
 * about) and its result or failure (exit code, attempts, output tails), read from the workflow's event
 * history and, past a continue-as-new, from the runs before it, as far back as the namespace retains
 * them. The workflow keeps no copy (docs/adr/0013); this is the log.
 *
 * Two readers give the same activity events: the SDK's client (`scriptHistory`) and the CLI's lean
 * client (`leanScriptHistory`, docs/adr/0036); one function turns them into entries.
 */
import type { WorkflowClient } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { HistoryEntry } from '../api/status.ts';
import { startscriptArgv } from '../api/rolling.ts';
import type { ScriptInput, ScriptOutcome } from '../activities/index.ts';
import type { MemberTarget } from '../runtimes/runtime.ts';
import type { Fields } from './protowire.ts';
import { timestampOf } from './protowire.ts';
import { readPayloads } from './payloads.ts';
import type { LeanTemporalClient } from './temporal-grpc.ts';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface HistoryReadOptions {
  /** The newest this many runs (default: all retained). */
  limit?: number;
}

/** A runScript activity's events, decoded: what both readers give. */
export type ActivityEvent =
  | { kind: 'scheduled'; eventId: string; at: string; input: { member: MemberTarget; script: ScriptInput } | undefined }
  | { kind: 'completed'; scheduledEventId: string; at: string; outcome: ScriptOutcome | undefined }
  | {
      kind: 'failed' | 'timedOut' | 'canceled';
      scheduledEventId: string;
      at: string;
      /** The failure's own message (an activity failure's cause), undefined when there is no failure. */
      message: string | undefined;
      outcome: ScriptOutcome | undefined;
    };

/** One run's activity events, oldest first, and the run it continued from. */
export interface RunEvents {
  events: ActivityEvent[];
  continuedFrom: string | undefined;
}

/** Oldest first; with `limit`, the newest `limit` entries. Reads back only as many workflow runs as it needs. */
async function readHistory(
  readRun: (runId: string | undefined) => Promise<RunEvents>,
  options: HistoryReadOptions,
): Promise<HistoryEntry[]> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const collected: HistoryEntry[][] = [];
  let count = 0;
  let runId: string | undefined;
  for (;;) {
    const run = await readRun(runId);
    const entries = entriesOf(run.events);
    collected.unshift(entries);
    count += entries.length;
    runId = run.continuedFrom || undefined;
    if (!runId || count >= limit) break;
  }
  const all = collected.flat();
  return Number.isFinite(limit) ? all.slice(-limit) : all;
}

export function entriesOf(events: ActivityEvent[]): HistoryEntry[] {
  const scheduled = new Map<string, { member: MemberTarget; script: ScriptInput; at: string }>();
  const entries: HistoryEntry[] = [];
  for (const event of events) {
    if (event.kind === 'scheduled') {
      if (event.input?.member && event.input.script) scheduled.set(event.eventId, { ...event.input, at: event.at });
      continue;
    }
    const run = scheduled.get(event.scheduledEventId);
    if (!run) continue;
    scheduled.delete(event.scheduledEventId);
    const { member, script } = run;
    const outcome = event.outcome;
    const entry: HistoryEntry = {
      member: member.name,
      runId: script.runId,
      event: script.event,
      argv: startscriptArgv(script, member.cluster, member.namespace),
      exitCode: outcome?.exitCode ?? null,
      attempts: outcome?.attempts ?? 0,
      ...(outcome?.warning ? { warning: outcome.warning } : {}),
      ...(outcome?.stdoutTail ? { stdoutTail: outcome.stdoutTail } : {}),
      ...(outcome?.stderrTail ? { stderrTail: outcome.stderrTail } : {}),
      startedAt: outcome?.startedAt ?? run.at,
      finishedAt: outcome?.finishedAt ?? event.at,
    };
    if (event.kind !== 'completed')
      entry.error =
        event.message ??
        (event.kind === 'canceled' ? 'cancelled' : event.kind === 'timedOut' ? 'timed out (worker lost)' : 'failed');
    entries.push(entry);
  }
  return entries;
}

/** Through the SDK's client and its data converter (the worker's tests, chaos, bench). */
export async function scriptHistory(
  client: WorkflowClient,
  workflowId: string,
  options: HistoryReadOptions = {},
): Promise<HistoryEntry[]> {
  // Loaded here: the lean reader below must not load the SDK's protobuf tree.
  const [{ ActivityFailure, ApplicationFailure }, { decodeFromPayloadsAtIndex, decodeOptionalFailureToOptionalError }] =
    await Promise.all([import('@temporalio/common'), import('@temporalio/common/lib/internal-non-workflow/index.js')]);
  const converter = client.options.loadedDataConverter;
  const readRun = async (runId: string | undefined): Promise<RunEvents> => {
    const history = await client.getHandle(workflowId, runId).fetchHistory();
    const raw = history.events ?? [];
    const events: ActivityEvent[] = [];
    for (const event of raw) {
      const at = timeOf(event);
      const attrs = event.activityTaskScheduledEventAttributes;
      if (attrs) {
        if (attrs.activityType?.name !== 'runScript') continue;
        const input = await decodeFromPayloadsAtIndex<{ member: MemberTarget; script: ScriptInput }>(
          converter,
          0,
          attrs.input?.payloads,
        );
        events.push({ kind: 'scheduled', eventId: String(event.eventId), at, input: input ?? undefined });
        continue;
      }
      const done = event.activityTaskCompletedEventAttributes;
      if (done) {
        const outcome = await decodeFromPayloadsAtIndex<ScriptOutcome>(converter, 0, done.result?.payloads);
        events.push({
          kind: 'completed',
          scheduledEventId: String(done.scheduledEventId ?? ''),
          at,
          outcome: outcome ?? undefined,
        });
        continue;
      }
      const [kind, failed] = event.activityTaskFailedEventAttributes
        ? (['failed', event.activityTaskFailedEventAttributes] as const)
        : event.activityTaskTimedOutEventAttributes
          ? (['timedOut', event.activityTaskTimedOutEventAttributes] as const)
          : event.activityTaskCanceledEventAttributes
            ? (['canceled', event.activityTaskCanceledEventAttributes] as const)
            : [undefined, undefined];
      if (!kind) continue;
      const failure = 'failure' in failed ? failed.failure : undefined;
      const error = await decodeOptionalFailureToOptionalError(converter, failure ?? undefined);
      const cause = error instanceof ActivityFailure ? error.cause : error;
      const outcome =
        cause instanceof ApplicationFailure ? (cause.details?.[0] as ScriptOutcome | undefined) : undefined;
      events.push({
        kind,
        scheduledEventId: String(failed.scheduledEventId ?? ''),
        at,
        message: cause?.message,
        outcome,
      });
    }
    const started = raw[0]?.workflowExecutionStartedEventAttributes;
    return { events, continuedFrom: started?.continuedExecutionRunId || undefined };
  };
  return readHistory(readRun, options);
}

function timeOf(event: HistoryEvent): string {
  const t = event.eventTime;
  if (!t) return '';
  const seconds = Number(t.seconds ?? 0);
  return new Date(seconds * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString();
}

/**
 * Through the CLI's lean client, reading the same fields of temporal.api.history.v1.HistoryEvent:
 * event_id 1, event_time 2; attributes workflow_execution_started 6 (continued_execution_run_id 10),
 * activity_task_scheduled 15 (activity_type 2 → name 1, input 6), completed 17 (result 1,
 * scheduled_event_id 2), failed 18 and timed_out 19 (failure 1, scheduled_event_id 2), canceled 23
 * (scheduled_event_id 3).
 */
export async function leanScriptHistory(
  client: LeanTemporalClient,
  workflowId: string,
  options: HistoryReadOptions = {},
): Promise<HistoryEntry[]> {
  const first = async (payloads: Fields | undefined) => (await client.decodePayloads(readPayloads(payloads)))[0];
  const readRun = async (runId: string | undefined): Promise<RunEvents> => {
    const raw = await client.history(workflowId, runId);
    const events: ActivityEvent[] = [];
    for (const event of raw) {
      const at = timestampOf(event.message(2))?.toISOString() ?? '';
      const scheduled = event.message(15);
      if (scheduled) {
        if (scheduled.message(2)?.string(1) !== 'runScript') continue;
        const input = (await first(scheduled.message(6))) as { member: MemberTarget; script: ScriptInput } | undefined;
        events.push({ kind: 'scheduled', eventId: String(event.number(1)), at, input: input ?? undefined });
        continue;
      }
      const done = event.message(17);
      if (done) {
        const outcome = (await first(done.message(1))) as ScriptOutcome | undefined;
        events.push({ kind: 'completed', scheduledEventId: String(done.number(2)), at, outcome: outcome ?? undefined });
        continue;
      }
      const [kind, failed] = event.has(18)
        ? (['failed', event.message(18)] as const)
        : event.has(19)
          ? (['timedOut', event.message(19)] as const)
          : event.has(23)
            ? (['canceled', event.message(23)] as const)
            : [undefined, undefined];
      if (!kind || !failed) continue;
      const failure = kind === 'canceled' ? undefined : failed.message(1);
      // An activity failure (activity_failure_info = 11) carries the activity's own failure as its cause (4).
      const cause = failure?.has(11) ? failure.message(4) : failure;
      const details = cause?.message(5)?.message(3);
      events.push({
        kind,
        scheduledEventId: String(failed.number(kind === 'canceled' ? 3 : 2)),
        at,
        message: cause ? await client.failureMessage(cause) : undefined,
        outcome: details ? ((await first(details)) as ScriptOutcome | undefined) : undefined,
      });
    }
    const started = raw[0]?.message(6);
    return { events, continuedFrom: started?.string(10) || undefined };
  };
  return readHistory(readRun, options);
}
