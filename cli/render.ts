import { stringify } from 'yaml';
import type { ClusterStatus } from '../api/index.ts';
import type { Manifest } from '../api/manifest.ts';

export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((cell, i) => (cell ?? '').padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export type OutputFormat = 'table' | 'json' | 'yaml';

export function renderData(data: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? JSON.stringify(data, null, 2) : stringify(data).trimEnd();
}

export function memberCounts(s: ClusterStatus): { ready: number; configured: number; total: number } {
  const sum = (count: (r: ClusterStatus['roles'][number]) => number) => s.roles.reduce((n, r) => n + count(r), 0);
  return { ready: sum((r) => r.ready), configured: sum((r) => r.configured), total: sum((r) => r.total) };
}

export function renderClusters(statuses: ClusterStatus[]): string {
  return renderTable(
    ['NAME', 'APP', 'PHASE', 'MEMBERS', 'GENERATION'],
    statuses.map((s) => {
      const c = memberCounts(s);
      return [s.name, s.app, s.phase, `${c.configured}/${c.total}`, `${s.observedGeneration}/${s.generation}`];
    }),
  );
}

export function renderMembers(s: ClusterStatus): string {
  const rows = s.roles.flatMap((r) =>
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
  const header = `cluster ${s.namespace}/${s.name} (app ${s.app}): ${s.phase}, generation ${s.observedGeneration}/${s.generation}${s.operation ? `, running: ${s.operation}` : ''}`;
  const rejection = s.lastRejection ? `\nlast rejected change: ${s.lastRejection.reason}` : '';
  return `${header}${rejection}\n${renderTable(['MEMBER', 'ROLE', 'STATE', 'LAST EVENT', 'ERROR'], rows)}`;
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
  if (m.kind === 'KdCluster' && m.value.spec.namingScheme === 'CrNameRole')
    ctx.out(`note: ${name}: spec.namingScheme: members are named <cluster>-<role>-<ordinal> (CrNameRole)`);
}
