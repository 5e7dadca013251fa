import { persistDirNotes } from '../api/persist-dirs.ts';
import type { ClusterStatus } from '../api/index.ts';
import type { Manifest } from '../api/manifest.ts';
import { rolloutLine } from '../api/rolling.ts';
import { hookLines } from '../api/hooks.ts';

/** Each column's width: its widest cell or header. */
export function columnWidths(header: string[], rows: string[][]): number[] {
  return header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
}

/** One row padded to the widths (a watch keeps the widths of its first table, as kubectl does). */
export function formatRow(row: string[], widths: number[]): string {
  return row
    .map((cell, i) => (cell ?? '').padEnd(widths[i] ?? 0))
    .join('  ')
    .trimEnd();
}

export function renderTable(header: string[], rows: string[][]): string {
  const widths = columnWidths(header, rows);
  return [header, ...rows].map((r) => formatRow(r, widths)).join('\n');
}

/** kubectl's short age: 45s, 12m, 5h, 3d. */
export function age(since: Date | undefined, now = Date.now()): string {
  if (!since) return '?';
  const s = Math.max(0, Math.floor((now - since.getTime()) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 120 * 60) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export type OutputFormat = 'table' | 'json' | 'yaml';

/** The YAML library loads only for -o yaml: a table or JSON does without it. */
export async function renderData(data: unknown, format: 'json' | 'yaml'): Promise<string> {
  return format === 'json' ? JSON.stringify(data, null, 2) : (await import('yaml')).stringify(data).trimEnd();
}

export function memberCounts(s: ClusterStatus): { ready: number; configured: number; total: number } {
  const sum = (count: (r: ClusterStatus['roles'][number]) => number) => s.roles.reduce((n, r) => n + count(r), 0);
  return { ready: sum((r) => r.ready), configured: sum((r) => r.configured), total: sum((r) => r.total) };
}

/** What `kdflow get` shows of a cluster beyond its status: its app's version and when it was created. */
export interface ClusterFacts {
  appVersion: string;
  createdAt?: Date;
  /** What the local runtime does not do as a pod would (docs/adr/0046): persistDirs it does not mount. */
  notes?: string[];
}

export const CLUSTER_HEADER = ['NAME', 'APP', 'VERSION', 'PHASE', 'MEMBERS', 'GENERATION', 'AGE'];

export function clusterRow(s: ClusterStatus, facts: ClusterFacts, now = Date.now()): string[] {
  const c = memberCounts(s);
  return [
    s.name,
    s.app,
    facts.appVersion,
    s.phase,
    `${c.configured}/${c.total}`,
    `${s.observedGeneration}/${s.generation}`,
    age(facts.createdAt, now),
  ];
}

export function renderClusters(clusters: { status: ClusterStatus; facts: ClusterFacts }[]): string {
  return renderTable(
    CLUSTER_HEADER,
    clusters.map((c) => clusterRow(c.status, c.facts)),
  );
}

export const MEMBER_HEADER = ['MEMBER', 'ROLE', 'STATE', 'LAST EVENT', 'ERROR'];

export function memberRows(s: ClusterStatus): string[][] {
  return s.roles.flatMap((r) =>
    r.members.map((m) => {
      const last = [...m.events].sort((a, b) => a.finishedAt.localeCompare(b.finishedAt)).at(-1);
      return [
        m.name,
        r.id,
        m.state,
        last ? `${last.event}=${last.exitCode ?? 'none'}` : '',
        (m.lastError ?? (m.warning ? `warning: ${m.warning}` : '')).split('\n')[0] ?? '',
      ];
    }),
  );
}

/** The line above a cluster's members. */
export function clusterLine(s: ClusterStatus, facts?: ClusterFacts): string {
  const app = facts ? `app ${s.app} ${facts.appVersion}, age ${age(facts.createdAt)}` : `app ${s.app}`;
  const rejection = s.lastRejection ? `\nlast rejected change: ${s.lastRejection.reason}` : '';
  const heal = s.lastHeal ? `\nlast heal: ${s.lastHeal}` : '';
  const rollout = s.rollout ? `\n${rolloutLine(s.rollout)}` : '';
  const hooks = hookLines(s)
    .map((line) => `\nhook ${line}`)
    .join('');
  const notes = [...(s.runtime ? [`runtime: ${s.runtime}`] : []), ...(facts?.notes ?? []).map((n) => `note: ${n}`)]
    .map((line) => `\n${line}`)
    .join('');
  return `cluster ${s.namespace}/${s.name} (${app}): ${s.phase}, generation ${s.observedGeneration}/${s.generation}${s.operation ? `, running: ${s.operation}` : ''}${rollout}${rejection}${heal}${hooks}${notes}`;
}

export function renderMembers(s: ClusterStatus, facts?: ClusterFacts): string {
  return `${clusterLine(s, facts)}\n${renderTable(MEMBER_HEADER, memberRows(s))}`;
}

/** A short list of the members there are, for a member that is not one of them. */
export function memberList(names: string[]): string {
  if (names.length === 0) return '; it has no members';
  const shown = names.slice(0, 5).join(', ');
  return `; its members: ${shown}${names.length > 5 ? `, … (${names.length} in all)` : ''}`;
}

/** What every command says about a manifest before it acts: warned fields, and the naming scheme a cluster's members get. */
export function printWarnings(ctx: { out: (line: string) => void }, m: Manifest): void {
  const name = m.value.metadata.name;
  for (const w of m.warnings) ctx.out(`warning: ${name}: ${w.path}: ${w.message}`);
  if (m.kind === 'KdApp') for (const note of persistDirNotes(m.value.spec)) ctx.out(`note: ${name}: ${note}`);
  if (m.kind === 'KdCluster' && m.value.spec.namingScheme === 'CrNameRole')
    ctx.out(`note: ${name}: spec.namingScheme: members are named <cluster>-<role>-<ordinal> (CrNameRole)`);
}
