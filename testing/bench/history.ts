/**
 * Reading timings out of a workflow history. Pure over the events, so it takes what
 * `handle.fetchHistory()` returns or plain JSON of the same shape.
 */
import proto, { type temporal as Proto } from '@temporalio/proto';

const { temporal } = proto;

interface Timestamp {
  seconds?: number | string | { toNumber(): number } | null;
  nanos?: number | null;
}

export interface HistoryEvent {
  eventId?: number | string | { toNumber(): number } | null;
  eventTime?: Timestamp | null;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  activityTaskStartedEventAttributes?: { scheduledEventId?: unknown } | null;
  activityTaskCompletedEventAttributes?: { scheduledEventId?: unknown } | null;
  [key: string]: unknown;
}

const num = (v: unknown): number =>
  typeof v === 'object' && v !== null && 'toNumber' in v ? (v as { toNumber(): number }).toNumber() : Number(v ?? 0);

export function eventMs(e: HistoryEvent): number {
  return num(e.eventTime?.seconds) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
}

/** `workflowTaskCompleted`, `activityTaskStarted`…: the name of the attributes the event carries. */
export function kindOf(e: HistoryEvent): string {
  for (const [key, value] of Object.entries(e))
    if (key.endsWith('EventAttributes') && value) return key.slice(0, -'EventAttributes'.length);
  return 'unknown';
}

/** When the workflow last finished a task: for an idle cluster, the moment its status settled. */
export function lastTaskCompletedMs(events: HistoryEvent[]): number {
  const last = events.findLast((e) => kindOf(e) === 'workflowTaskCompleted');
  if (!last) throw new Error('no completed workflow task in the history');
  return eventMs(last);
}

/** Activity type of every scheduled event id, so starts and completions can be named. */
function activityTypes(events: HistoryEvent[]): Map<number, string> {
  const types = new Map<number, string>();
  for (const e of events)
    if (e.activityTaskScheduledEventAttributes)
      types.set(num(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
  return types;
}

/** Completion time of the last activity of a type (such as launchMembers: the member is ready, configmeta and package in place). */
export function lastCompletionMs(events: HistoryEvent[], activityType: string): number | undefined {
  const types = activityTypes(events);
  const last = events.findLast(
    (e) =>
      e.activityTaskCompletedEventAttributes &&
      types.get(num(e.activityTaskCompletedEventAttributes.scheduledEventId)) === activityType,
  );
  return last ? eventMs(last) : undefined;
}

/** For every signal: ms until the next activity started (undefined when none followed). */
export function signalToActivityStartMs(events: HistoryEvent[]): number[] {
  const out: number[] = [];
  events.forEach((e, i) => {
    if (kindOf(e) !== 'workflowExecutionSignaled') return;
    const started = events.slice(i + 1).find((n) => kindOf(n) === 'activityTaskStarted');
    if (started) out.push(eventMs(started) - eventMs(e));
  });
  return out;
}

export interface ActivityTiming {
  type: string;
  count: number;
  /** Scheduled → started: time in the task queue. */
  queuedMs: number;
  /** Started → completed: time in the activity. */
  runMs: number;
}

/** Summed per activity type, in order of first appearance. */
export function activityTimings(events: HistoryEvent[]): ActivityTiming[] {
  const types = activityTypes(events);
  const byId = new Map(events.map((e) => [num(e.eventId), e]));
  const started = new Map<number, number>();
  const out = new Map<string, ActivityTiming>();
  for (const e of events) {
    if (e.activityTaskStartedEventAttributes)
      started.set(num(e.activityTaskStartedEventAttributes.scheduledEventId), eventMs(e));
    if (!e.activityTaskCompletedEventAttributes) continue;
    const id = num(e.activityTaskCompletedEventAttributes.scheduledEventId);
    const type = types.get(id) ?? '?';
    const scheduled = byId.get(id);
    const start = started.get(id) ?? eventMs(e);
    const timing = out.get(type) ?? { type, count: 0, queuedMs: 0, runMs: 0 };
    timing.count += 1;
    timing.queuedMs += scheduled ? start - eventMs(scheduled) : 0;
    timing.runMs += eventMs(e) - start;
    out.set(type, timing);
  }
  return [...out.values()];
}

/** How many events of each kind, for the history-cost point. */
export function countKinds(events: HistoryEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of events) counts[kindOf(e)] = (counts[kindOf(e)] ?? 0) + 1;
  return counts;
}

export interface TaskTiming {
  count: number;
  /** Scheduled → started, summed. */
  queuedMs: number;
  /** Started → completed, summed. */
  runMs: number;
}

/** Workflow tasks: how many, and how long they waited and ran in total. */
export function workflowTaskTimings(events: HistoryEvent[]): TaskTiming {
  const timing: TaskTiming = { count: 0, queuedMs: 0, runMs: 0 };
  let scheduled: number | undefined;
  let started: number | undefined;
  for (const e of events) {
    const kind = kindOf(e);
    if (kind === 'workflowTaskScheduled') scheduled = eventMs(e);
    else if (kind === 'workflowTaskStarted') {
      started = eventMs(e);
      if (scheduled !== undefined) timing.queuedMs += started - scheduled;
    } else if (kind === 'workflowTaskCompleted' && started !== undefined) {
      timing.count += 1;
      timing.runMs += eventMs(e) - started;
      scheduled = started = undefined;
    }
  }
  return timing;
}

const ACTIVITY_CLOSED = new Set([
  'activityTaskCompleted',
  'activityTaskFailed',
  'activityTaskTimedOut',
  'activityTaskCanceled',
]);

/**
 * When the last operation settled: the first workflow task completed after the last activity closed
 * (the task that folded its result in). Unlike the last task completed, this holds when the idle
 * workflow went on to continue as new: pass the events of the whole run chain, oldest first.
 */
export function settledAtMs(events: HistoryEvent[]): number {
  const lastClosed = events.findLastIndex((e) => ACTIVITY_CLOSED.has(kindOf(e)));
  const settled = events.slice(lastClosed + 1).find((e) => kindOf(e) === 'workflowTaskCompleted');
  if (!settled) throw new Error('no completed workflow task after the last activity');
  return eventMs(settled);
}

interface StartedAttributes {
  continuedExecutionRunId?: string | null;
  input?: {
    payloads?: { data?: Uint8Array | null; metadata?: Record<string, Uint8Array | null> | null }[] | null;
  } | null;
}

/** Bytes of every argument a run started with (data plus metadata, as stored): for a continued run, the carried input. */
export function startInputBytes(events: HistoryEvent[]): { continued: boolean; bytes: number; perArgument: number[] } {
  const started = events[0]?.workflowExecutionStartedEventAttributes as StartedAttributes | undefined;
  const perArgument = (started?.input?.payloads ?? []).map(
    (p) =>
      (p.data?.length ?? 0) +
      Object.entries(p.metadata ?? {}).reduce((sum, [k, v]) => sum + k.length + (v?.length ?? 0), 0),
  );
  return {
    continued: Boolean(started?.continuedExecutionRunId),
    bytes: perArgument.reduce((a, b) => a + b, 0),
    perArgument,
  };
}

/**
 * Encoded bytes per event kind, largest first: where a phase's history bytes go. The protobuf size
 * of each event, close to (not the same as) the server's own count of history bytes.
 */
export function bytesByKind(events: HistoryEvent[]): Record<string, number> {
  const bytes = new Map<string, number>();
  for (const e of events) {
    const size = temporal.api.history.v1.HistoryEvent.encode(e as Proto.api.history.v1.IHistoryEvent).finish().length;
    bytes.set(kindOf(e), (bytes.get(kindOf(e)) ?? 0) + size);
  }
  return Object.fromEntries([...bytes].sort((a, b) => b[1] - a[1]));
}
