import type { Client, WorkflowHandle } from '@temporalio/client';
import { clusterWorkflowId } from '../../api/names.ts';
import { statusQuery, statusVersionQuery } from '../../api/messages.ts';
import type { ClusterStatus } from '../../api/status.ts';
import { fullStatus } from '../../lib/cluster-status.ts';
import { clusterFacts, type RunInfo } from '../cluster-facts.ts';
import type { CliContext } from '../context.ts';
import { checkName } from '../names.ts';
import { UsageError } from '../errors.ts';
import { renderClusters, renderData, renderMembers, type ClusterFacts, type OutputFormat } from '../render.ts';
import { watchCluster, watchClusters, type ClusterSnapshot } from '../watch.ts';

export async function getCommand(
  ctx: CliContext,
  [name]: string[],
  flags: { output?: string; watch?: boolean },
): Promise<void> {
  const format = (flags.output ?? 'table') as OutputFormat;
  if (!['table', 'json', 'yaml'].includes(format))
    throw new UsageError(`-o must be table, json or yaml, got "${format}"`);
  if (flags.watch && format !== 'table')
    throw new UsageError(`-w/--watch shows a table and its changes; it does not go with -o ${format}`);
  if (name) {
    checkName('cluster name', 'NAME', name);
    const { handle, run } = await ctx.runningCluster(name);
    const [status, facts] = await Promise.all([fullStatus(handle), clusterFacts(await ctx.temporal(), handle, run)]);
    if (format !== 'table') {
      ctx.out(renderData(status, format));
      return;
    }
    if (flags.watch) await watchCluster(ctx.out, handle, status, facts);
    else ctx.out(renderMembers(status, facts));
    return;
  }
  const client = await ctx.temporal();
  if (flags.watch) {
    await watchClusters(ctx.out, () => listClusters(client, ctx.namespace));
    return;
  }
  const clusters = await listClusters(client, ctx.namespace);
  const snapshots = await Promise.all(clusters.map((c) => c.snapshot()));
  ctx.out(
    format === 'table'
      ? renderClusters(snapshots)
      : renderData(
          snapshots.map((s) => s.status),
          format,
        ),
  );
}

/** A running cluster of the namespace, not yet read: its status version is one cheap query, its snapshot three. */
export interface ListedCluster {
  workflowId: string;
  version(): Promise<number>;
  snapshot(): Promise<ClusterSnapshot>;
}

async function listClusters(client: Client, namespace: string): Promise<ListedCluster[]> {
  const prefix = clusterWorkflowId(namespace, '');
  const listed: ListedCluster[] = [];
  for await (const wf of client.workflow.list({
    query: `WorkflowType = 'clusterWorkflow' AND ExecutionStatus = 'Running'`,
  })) {
    if (!wf.workflowId.startsWith(prefix)) continue;
    const handle = client.workflow.getHandle(wf.workflowId);
    const run: RunInfo = {
      workflowId: wf.workflowId,
      runId: wf.runId,
      startTime: wf.startTime,
      firstRunId: wf.raw.firstRunId,
    };
    listed.push({
      workflowId: wf.workflowId,
      version: () => handle.query(statusVersionQuery),
      snapshot: () => snapshotOf(client, handle, run),
    });
  }
  return listed.sort((a, b) => a.workflowId.localeCompare(b.workflowId));
}

async function snapshotOf(client: Client, handle: WorkflowHandle, run: RunInfo): Promise<ClusterSnapshot> {
  const [status, facts]: [ClusterStatus, ClusterFacts] = await Promise.all([
    handle.query(statusQuery),
    clusterFacts(client, handle, run),
  ]);
  return { status, facts };
}
