/** What `status` answers, derived from the workflow's state. Pure. */
import { desiredMembers, memberFqdn, memberName, type ClusterPhase, type ClusterStatus, type MemberStatus, type Rejection } from '../api/index.ts';
import type { Desired, Member, Step } from './model.ts';

export const isLiveMember = (m: Member) => m.state !== 'delete pending' && m.state !== 'deleting';

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
}

export function clusterPhase(s: Pick<StatusInput, 'members' | 'observedGeneration' | 'busy' | 'deleting' | 'deleted'>): ClusterPhase {
  if (s.deleted) return 'deleted';
  if (s.deleting) return 'deleting';
  if (s.busy) return s.observedGeneration === 0 ? 'creating' : 'updating';
  return s.members.some((m) => m.state === 'config error') ? 'config error' : 'configured';
}

export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'runEvent':
      return step.about.length > 0 ? `${step.event} on ${step.targets.length} member(s) about ${step.about.join(',')}` : `${step.event} on ${step.targets.join(',')}`;
    case 'createMembers':
      return `create ${step.members.map((m) => m.name).join(',')}`;
    case 'installPackage':
      return `install ${step.packageURL} into ${step.members.join(',')}`;
    default:
      return `${step.kind} ${step.members.join(',')}`;
  }
}

export function buildStatus(s: StatusInput): ClusterStatus {
  const { desired } = s;
  const counts = desiredMembers(desired.spec, desired.app);
  const roles = desired.app.roles.map((role) => {
    const want = counts.get(role.id) ?? 0;
    const members: MemberStatus[] = s.members.filter((m) => m.role === role.id).map(memberStatus);
    // Members the spec asks for that do not exist yet show as KubeDirector shows them.
    for (let ordinal = 0; ordinal < want && !s.deleting; ordinal++) {
      if (members.some((m) => m.ordinal === ordinal)) continue;
      const name = memberName(desired.name, role.id, ordinal);
      members.push({ name, role: role.id, ordinal, fqdn: memberFqdn(name, desired.name, desired.namespace), state: 'create pending', ready: false, events: [] });
    }
    members.sort((a, b) => a.ordinal - b.ordinal);
    return { id: role.id, desired: s.deleting ? 0 : want, members };
  });
  return {
    name: desired.name,
    namespace: desired.namespace,
    app: desired.spec.app,
    phase: clusterPhase(s),
    generation: desired.generation,
    observedGeneration: s.observedGeneration,
    roles,
    ...(s.step ? { operation: describeStep(s.step) } : {}),
    ...(s.lastRejection ? { lastRejection: s.lastRejection } : {}),
    ...(s.lastError ? { lastError: s.lastError } : {}),
  };
}

function memberStatus(m: Member): MemberStatus {
  return { name: m.name, role: m.role, ordinal: m.ordinal, fqdn: m.fqdn, state: m.state, ready: m.ready, events: m.events, ...(m.lastError ? { lastError: m.lastError } : {}) };
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
    `**${s.namespace}/${s.name}** (app ${s.app}): **${s.phase}**, generation ${s.observedGeneration}${s.generation > s.observedGeneration ? ` (working on ${s.generation})` : ''}, ${members.length} member(s)`,
    '',
  ];
  if (s.operation) lines.push(`Running: ${cell(s.operation)}`, '');
  if (s.lastError) lines.push(`Last error: ${cell(s.lastError)}`, '');
  if (s.lastRejection) lines.push(`Last rejected change: ${cell(s.lastRejection.reason)}`, '');
  if (members.length > 0) {
    lines.push('| member | role | state | last event |', '|---|---|---|---|');
    for (const m of members.slice(0, DETAIL_ROWS)) {
      const last = m.events.at(-1);
      const event = last ? `${last.event} ${last.exitCode === 0 ? 'ok' : `failed (exit ${last.exitCode ?? 'none'})`}` : '';
      lines.push(`| ${cell(m.name)} | ${cell(m.role)} | ${m.state}${m.lastError ? ` — ${cell(m.lastError)}` : ''} | ${event} |`);
    }
    if (members.length > DETAIL_ROWS) lines.push(`| … ${members.length - DETAIL_ROWS} more | | | |`);
  }
  return lines.join('\n');
}
