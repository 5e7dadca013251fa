/** What `status` answers, derived from the workflow's state. Pure. */
import {
  SCRIPT_EVENTS,
  STATUS_PAGE_DEFAULT,
  STATUS_PAGE_MAX,
  desiredMembers,
  memberFqdn,
  memberName,
  hookLines,
  rolloutLine,
  scriptRunId,
  type ClusterPhase,
  type ClusterStatus,
  type HookStatus,
  type ScriptEvent,
  type MemberStatus,
  type Rejection,
  type RolloutStatus,
  type ScriptRun,
  type StatusRequest,
} from '../api/contract.ts';
import { actionStatus, memberActionResult, type ActionRecord, type MemberActionRow } from './actions.ts';
import type { HealRecord } from './heal.ts';
import type { HookRun, HookState } from './hooks.ts';
import type { Desired, Member, Step } from './model.ts';
import { isLive } from './plan.ts';
import { aboutText, listed } from './summaries.ts';

export interface StatusInput {
  desired: Desired;
  members: Member[];
  observedGeneration: number;
  busy: boolean;
  deleting: boolean;
  deleted: boolean;
  step?: Step;
  lastRejection?: Rejection;
  lastError?: string;
  /** Self-healing (docs/adr/0049): members healed lately, and the newest heal's line. */
  heals?: HealRecord[];
  lastHeal?: string;
  /** Custom actions (docs/adr/0050). */
  actions?: ActionRecord[];
  memberActions?: MemberActionRow[];
  /** The rolling operation in flight or the last one, and the line of its step in flight (docs/adr/0037). */
  rollout?: RolloutStatus;
  rollingStep?: string;
  runtime?: string;
  /** Cluster hooks' last runs (docs/adr/0053). */
  hooks?: HookState['hooks'];
}

export function clusterPhase(
  s: Pick<StatusInput, 'members' | 'observedGeneration' | 'busy' | 'deleting' | 'deleted'>,
): ClusterPhase {
  if (s.deleted) return 'deleted';
  if (s.deleting) return 'deleting';
  if (s.busy) return s.observedGeneration === 0 ? 'creating' : 'updating';
  return s.members.some((m) => m.state === 'config error') ? 'config error' : 'configured';
}

/** One line, bounded whatever the cluster's size. */
export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'runEvent':
      return `${step.event} on ${listed(step.targets)}${step.about ? ` about ${aboutText(step.role, step.about)}` : ''}${step.retry ? ' (retry)' : ''}`;
    case 'launchMembers':
      return `launch ${listed(step.members.map((m) => m.name))}${step.refresh ? `, configmeta to ${listed(step.refresh)}` : ''}`;
    default:
      return `${step.kind} ${listed(step.members)}`;
  }
}

const EVENT_ORDER: readonly ScriptEvent[] = SCRIPT_EVENTS;

function memberStatus(desired: Desired, m: Member, heals?: number, action?: MemberActionRow): MemberStatus {
  const lastAction = memberActionResult(action);
  // The member's one error line belongs to its newest failed run, not to older ones.
  const newestFailed = EVENT_ORDER.filter((e) => m.runs[e] && m.runs[e]?.exitCode !== 0).sort(
    (a, b) => (m.runs[b]?.finishedAt ?? 0) - (m.runs[a]?.finishedAt ?? 0),
  )[0];
  const events: ScriptRun[] = EVENT_ORDER.flatMap((event) => {
    const run = m.runs[event];
    if (!run) return [];
    return [
      {
        runId: scriptRunId(desired.namespace, desired.name, run.generation, run.seq, m.name, event),
        event,
        ...(run.about ? { about: aboutText(run.about.role, run.about.ordinals) } : {}),
        exitCode: run.exitCode,
        attempts: run.attempts,
        startedAt: new Date(run.startedAt).toISOString(),
        finishedAt: new Date(run.finishedAt).toISOString(),
        ...(event === newestFailed && m.lastError ? { error: m.lastError } : {}),
      },
    ];
  });
  return {
    name: m.name,
    role: m.role,
    ordinal: m.ordinal,
    fqdn: memberFqdn(m.name, desired.name, desired.namespace),
    state: m.state,
    ready: m.ready,
    events,
    ...(m.lastError ? { lastError: m.lastError } : {}),
    ...(m.warning ? { warning: m.warning } : {}),
    ...(heals ? { heals } : {}),
    ...(lastAction ? { lastAction } : {}),
  };
}

/** The status query's answer: counts over every member, and one page of members (docs/adr/0013). */
export function buildStatus(s: StatusInput, request: StatusRequest = {}): ClusterStatus {
  const { desired } = s;
  const counts = desiredMembers(desired.spec, desired.app);
  // A request is whatever a client sent: garbage gives the first page, never an invalid answer.
  const whole = (value: unknown, fallback: number) =>
    Number.isNaN(Number(value)) ? fallback : Math.trunc(Number(value));
  const limit = Math.max(
    1,
    Math.min(STATUS_PAGE_MAX, whole(request?.limit ?? STATUS_PAGE_DEFAULT, STATUS_PAGE_DEFAULT) || STATUS_PAGE_DEFAULT),
  );
  const requestedOffset = Math.max(0, whole(request?.offset ?? 0, 0));
  // Members the spec asks for that do not exist yet show as KubeDirector shows them.
  type Row = { role: string; ordinal: number; member?: Member };
  const rows: Row[] = [];
  const roles = desired.app.roles.map((role) => {
    const want = s.deleting ? 0 : (counts.get(role.id) ?? 0);
    const mine = s.members.filter((m) => m.role === role.id);
    const byOrdinal = new Map(mine.map((m) => [m.ordinal, m]));
    const ordinals = [...new Set([...mine.map((m) => m.ordinal), ...Array.from({ length: want }, (_, i) => i)])].sort(
      (a, b) => a - b,
    );
    for (const ordinal of ordinals) rows.push({ role: role.id, ordinal, member: byOrdinal.get(ordinal) });
    return {
      id: role.id,
      desired: want,
      total: ordinals.length,
      ready: mine.filter((m) => m.ready && isLive(m)).length,
      configured: mine.filter((m) => m.state === 'configured').length,
      members: [] as MemberStatus[],
    };
  });
  const byRole = new Map(roles.map((r) => [r.id, r]));
  const offset = Math.min(requestedOffset, rows.length);
  for (const row of rows.slice(offset, offset + limit)) {
    const status: MemberStatus = row.member
      ? memberStatus(
          desired,
          row.member,
          s.heals?.find((h) => h.member === row.member?.name)?.count,
          s.memberActions?.find((a) => a[0] === row.member?.name),
        )
      : (() => {
          const name = memberName(desired.name, row.role, row.ordinal);
          return {
            name,
            role: row.role,
            ordinal: row.ordinal,
            fqdn: memberFqdn(name, desired.name, desired.namespace),
            state: 'create pending' as const,
            ready: false,
            events: [],
          };
        })();
    byRole.get(row.role)?.members.push(status);
  }
  return {
    name: desired.name,
    namespace: desired.namespace,
    app: desired.spec.app,
    appVersion: desired.app.version,
    ...(s.rollout ? { rollout: s.rollout } : {}),
    phase: clusterPhase(s),
    generation: desired.generation,
    observedGeneration: s.observedGeneration,
    roles,
    page: { offset, limit, total: rows.length },
    ...(s.rollingStep ? { operation: s.rollingStep } : s.step ? { operation: describeStep(s.step) } : {}),
    ...(s.lastRejection ? { lastRejection: s.lastRejection } : {}),
    ...(s.lastError ? { lastError: s.lastError } : {}),
    ...(s.lastHeal ? { lastHeal: s.lastHeal } : {}),
    ...(s.actions && s.actions.length > 0 ? { actions: s.actions.map(actionStatus) } : {}),
    ...(s.runtime ? { runtime: s.runtime } : {}),
    ...(s.hooks && Object.keys(s.hooks).length > 0 ? { hooks: hooksStatus(s.hooks) } : {}),
  };
}

function hooksStatus(hooks: NonNullable<HookState['hooks']>): NonNullable<ClusterStatus['hooks']> {
  const one = (run: HookRun): HookStatus => ({
    ...run,
    startedAt: new Date(run.startedAt).toISOString(),
    finishedAt: new Date(run.finishedAt).toISOString(),
  });
  return {
    ...(hooks.postProvision ? { postProvision: one(hooks.postProvision) } : {}),
    ...(hooks.preTerminate ? { preTerminate: one(hooks.preTerminate) } : {}),
  };
}

const DETAIL_ROWS = 100;

/** A Markdown cell: one line, no column breaks. */
const cell = (text: string) => text.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 120);

/**
 * The workflow's "current details" in the Web UI: phase, operation and a table of members and their
 * states, kept current by the workflow. Markdown, as the UI renders it.
 */
export function currentDetails(s: ClusterStatus): string {
  const members = s.roles.flatMap((r) => r.members);
  const lines = [
    `**${s.namespace}/${s.name}** (app ${s.app}${s.appVersion ? ` ${s.appVersion}` : ''}): **${s.phase}**, generation ${s.observedGeneration}${s.generation > s.observedGeneration ? ` (working on ${s.generation})` : ''}, ${s.page.total} member(s)`,
    '',
  ];
  if (s.operation) lines.push(`Running: ${cell(s.operation)}`, '');
  if (s.rollout) lines.push(`${s.rollout.kind}: ${cell(rolloutLine(s.rollout))}`, '');
  if (s.lastError) lines.push(`Last error: ${cell(s.lastError)}`, '');
  if (s.lastHeal) lines.push(`Last heal: ${cell(s.lastHeal)}`, '');
  for (const hook of hookLines(s)) lines.push(`Hook ${cell(hook)}`, '');
  for (const a of s.actions ?? [])
    lines.push(
      `Action ${cell(a.id)}: ${a.state}, ${a.succeeded} ok and ${a.failed} failed of ${a.targets}${a.failures[0] ? ` — ${cell(a.failures[0])}` : ''}`,
      '',
    );
  if (s.lastRejection) lines.push(`Last rejected change: ${cell(s.lastRejection.reason)}`, '');
  if (members.length > 0) {
    lines.push('| member | role | state | last event |', '|---|---|---|---|');
    for (const m of members.slice(0, DETAIL_ROWS)) {
      const last = [...m.events].sort((a, b) => a.finishedAt.localeCompare(b.finishedAt)).at(-1);
      const event = last
        ? `${last.event} ${last.exitCode === 0 ? 'ok' : `failed (exit ${last.exitCode ?? 'none'})`}`
        : '';
      lines.push(
        `| ${cell(m.name)} | ${cell(m.role)} | ${m.state}${m.lastError ? ` — ${cell(m.lastError)}` : ''}${m.warning ? ` — warning: ${cell(m.warning)}` : ''} | ${event} |`,
      );
    }
    if (s.page.total > members.length) lines.push(`| … ${s.page.total - members.length} more | | | |`);
  }
  return lines.join('\n');
}
