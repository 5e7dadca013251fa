/**
 * `kdflow get -w`: the table once, then a line for each row that changes, as `kubectl get -w` does
 * (the widths of the first table, no header again). A cluster is watched through its `statusVersion`
 * query, which costs a counter, and read in full only when that moved. Ctrl-C or SIGTERM ends the
 * watch (exit 0); a watched cluster that is deleted ends it too.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { statusVersionQuery } from '../api/messages.ts';
import type { ClusterStatus } from '../api/status.ts';
import { fullStatus } from '../lib/cluster-status.ts';
import { listenForStop } from '../lib/stop.ts';
import {
  CLUSTER_HEADER,
  MEMBER_HEADER,
  clusterLine,
  clusterRow,
  columnWidths,
  formatRow,
  memberRows,
  type ClusterFacts,
} from './render.ts';

export interface ClusterSnapshot {
  status: ClusterStatus;
  facts: ClusterFacts;
}

/** How often a watch asks: the status version of one cluster, or the list of a namespace. */
const CLUSTER_EVERY_MS = 500;
const LIST_EVERY_MS = 2000;

/** Runs `body` until it returns or a stop signal arrives; the pause between rounds ends early on a stop. */
async function untilStopped(body: (pause: (ms: number) => Promise<boolean>) => Promise<void>): Promise<void> {
  const stop = listenForStop();
  const pause = async (ms: number) => {
    await sleep(ms, undefined, { signal: stop.signal }).catch(() => {});
    return !stop.signal.aborted;
  };
  try {
    await body(pause);
  } finally {
    stop.dispose();
  }
}

/** Lines that changed since the last ones shown, by key; keys no longer there are shown by `gone`. */
class ChangedRows {
  private readonly shown = new Map<string, string>();
  private readonly out: (line: string) => void;
  constructor(out: (line: string) => void) {
    this.out = out;
  }
  /** `compare` is the part of the row that counts as a change (AGE moves by itself). */
  show(rows: { key: string; line: string; compare: string }[], gone: (key: string) => string | undefined): void {
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.key);
      if (this.shown.get(row.key) === row.compare) continue;
      this.shown.set(row.key, row.compare);
      this.out(row.line);
    }
    for (const key of [...this.shown.keys()]) {
      if (seen.has(key)) continue;
      this.shown.delete(key);
      const line = gone(key);
      if (line) this.out(line);
    }
  }
}

export async function watchCluster(
  out: (line: string) => void,
  handle: Pick<WorkflowHandle, 'query'>,
  first: ClusterStatus,
  facts: ClusterFacts,
): Promise<void> {
  const widths = columnWidths(MEMBER_HEADER, memberRows(first));
  const members = new ChangedRows(out);
  const rolesOf = new Map<string, string>();
  let header = '';
  const show = (status: ClusterStatus) => {
    const line = clusterLine(status);
    if (line !== header) {
      header = line;
      out(clusterLine(status, facts));
    }
    const rows = memberRows(status);
    for (const row of rows) rolesOf.set(row[0] ?? '', row[1] ?? '');
    members.show(
      rows.map((row) => ({ key: row[0] ?? '', line: formatRow(row, widths), compare: row.join('\t') })),
      (name) => formatRow([name, rolesOf.get(name) ?? '', 'deleted'], widths),
    );
  };
  header = clusterLine(first);
  out(clusterLine(first, facts));
  out(formatRow(MEMBER_HEADER, widths));
  show(first);
  let version = await handle.query(statusVersionQuery);
  await untilStopped(async (pause) => {
    while (await pause(CLUSTER_EVERY_MS)) {
      const now = await handle.query(statusVersionQuery).catch(() => undefined);
      // The workflow is gone (deleted and past retention, or never answering again): so is the cluster.
      if (now === undefined) return out(`cluster/${first.name} deleted`);
      if (now === version) continue;
      version = now;
      const status = await fullStatus(handle);
      show(status);
      if (status.phase === 'deleted') return out(`cluster/${first.name} deleted`);
    }
  });
}

export async function watchClusters(
  out: (line: string) => void,
  list: () => Promise<{ workflowId: string; version(): Promise<number>; snapshot(): Promise<ClusterSnapshot> }[]>,
): Promise<void> {
  const firstList = await list();
  const firsts = await Promise.all(firstList.map((c) => c.snapshot()));
  const widths = columnWidths(
    CLUSTER_HEADER,
    firsts.map((s) => clusterRow(s.status, s.facts)),
  );
  const rows = new ChangedRows(out);
  const versions = new Map<string, number>();
  const last = new Map<string, ClusterSnapshot>();
  const rowOf = (id: string, s: ClusterSnapshot) => {
    last.set(id, s);
    const row = clusterRow(s.status, s.facts);
    return { key: id, line: formatRow(row, widths), compare: row.slice(0, -1).join('\t') };
  };
  const gone = (id: string) => {
    const s = last.get(id);
    last.delete(id);
    versions.delete(id);
    return s ? formatRow(clusterRow({ ...s.status, phase: 'deleted' }, s.facts), widths) : undefined;
  };
  out(formatRow(CLUSTER_HEADER, widths));
  rows.show(
    firstList.map((c, i) => rowOf(c.workflowId, firsts[i] as ClusterSnapshot)),
    gone,
  );
  await Promise.all(firstList.map(async (c) => versions.set(c.workflowId, await c.version().catch(() => -1))));
  await untilStopped(async (pause) => {
    while (await pause(LIST_EVERY_MS)) {
      const current = await list();
      const changed = await Promise.all(
        current.map(async (c) => {
          const version = await c.version().catch(() => -1);
          const known = last.get(c.workflowId);
          if (known && versions.get(c.workflowId) === version) return rowOf(c.workflowId, known);
          versions.set(c.workflowId, version);
          return rowOf(c.workflowId, await c.snapshot());
        }),
      );
      rows.show(changed, gone);
    }
  });
}
