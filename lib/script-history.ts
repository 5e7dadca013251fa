/**
 * Script runs as Temporal recorded them: each runScript activity's input (member, event, what it was
 * about) and its result or failure (exit code, attempts, output tails), read from the workflow's event
 * history and, past a continue-as-new, from the runs before it, as far back as the namespace retains
 * them. The workflow keeps no copy (docs/adr/0013); this is the log.
 */
import type { WorkflowClient } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, type LoadedDataConverter } from '@temporalio/common';
import {
  decodeFromPayloadsAtIndex,
  decodeOptionalFailureToOptionalError,
} from '@temporalio/common/lib/internal-non-workflow/index.js';
import type { temporal } from '@temporalio/proto';
import { scriptArgv, type HistoryEntry } from '../api/index.ts';
import type { ScriptInput, ScriptOutcome } from '../activities/index.ts';
import type { MemberTarget } from '../runtimes/runtime.ts';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface HistoryReadOptions {
  /** The newest this many runs (default: all retained). */
  limit?: number;
}

/** Oldest first; with `limit`, the newest `limit` entries. Reads back only as many workflow runs as it needs. */
export async function scriptHistory(
  client: WorkflowClient,
  workflowId: string,
  options: HistoryReadOptions = {},
): Promise<HistoryEntry[]> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const converter = client.options.loadedDataConverter;
  const collected: HistoryEntry[][] = [];
  let count = 0;
  let runId: string | undefined;
  for (;;) {
    const history = await client.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    const entries = await entriesOf(events, converter);
    collected.unshift(entries);
    count += entries.length;
    const started = events[0]?.workflowExecutionStartedEventAttributes;
    runId = started?.continuedExecutionRunId || undefined;
    if (!runId || count >= limit) break;
  }
  const all = collected.flat();
  return Number.isFinite(limit) ? all.slice(-limit) : all;
}

async function entriesOf(events: HistoryEvent[], converter: LoadedDataConverter): Promise<HistoryEntry[]> {
  const scheduled = new Map<string, { member: MemberTarget; script: ScriptInput; at: string }>();
  const entries: HistoryEntry[] = [];
  for (const event of events) {
    const attrs = event.activityTaskScheduledEventAttributes;
    if (attrs && attrs.activityType?.name === 'runScript') {
      const input = await decodeFromPayloadsAtIndex<{ member: MemberTarget; script: ScriptInput }>(
        converter,
        0,
        attrs.input?.payloads,
      );
      if (input?.member && input.script) scheduled.set(String(event.eventId), { ...input, at: timeOf(event) });
      continue;
    }
    const done = event.activityTaskCompletedEventAttributes;
    const failed =
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes;
    const key = String((done ?? failed)?.scheduledEventId ?? '');
    const run = scheduled.get(key);
    if (!run) continue;
    scheduled.delete(key);
    const { member, script } = run;
    const base = {
      member: member.name,
      runId: script.runId,
      event: script.event,
      argv: scriptArgv(script.event, script.about, member.cluster, member.namespace),
    };
    if (done) {
      const outcome = await decodeFromPayloadsAtIndex<ScriptOutcome>(converter, 0, done.result?.payloads);
      entries.push({
        ...base,
        ...outcomeFields(outcome),
        startedAt: outcome?.startedAt ?? run.at,
        finishedAt: outcome?.finishedAt ?? timeOf(event),
      });
      continue;
    }
    const failure =
      'failure' in (failed ?? {})
        ? (failed as { failure?: temporal.api.failure.v1.IFailure | null }).failure
        : undefined;
    const error = await decodeOptionalFailureToOptionalError(converter, failure ?? undefined);
    const cause = error instanceof ActivityFailure ? error.cause : error;
    const outcome = cause instanceof ApplicationFailure ? (cause.details?.[0] as ScriptOutcome | undefined) : undefined;
    const message =
      cause?.message ??
      (event.activityTaskCanceledEventAttributes
        ? 'cancelled'
        : event.activityTaskTimedOutEventAttributes
          ? 'timed out (worker lost)'
          : 'failed');
    entries.push({
      ...base,
      ...outcomeFields(outcome),
      error: message,
      startedAt: outcome?.startedAt ?? run.at,
      finishedAt: outcome?.finishedAt ?? timeOf(event),
    });
  }
  return entries;
}

function outcomeFields(
  outcome: ScriptOutcome | undefined | null,
): Pick<HistoryEntry, 'exitCode' | 'attempts' | 'stdoutTail' | 'stderrTail' | 'warning'> {
  return {
    exitCode: outcome?.exitCode ?? null,
    attempts: outcome?.attempts ?? 0,
    ...(outcome?.warning ? { warning: outcome.warning } : {}),
    ...(outcome?.stdoutTail ? { stdoutTail: outcome.stdoutTail } : {}),
    ...(outcome?.stderrTail ? { stderrTail: outcome.stderrTail } : {}),
  };
}

function timeOf(event: HistoryEvent): string {
  const t = event.eventTime;
  if (!t) return '';
  const seconds = Number(t.seconds ?? 0);
  return new Date(seconds * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString();
}
