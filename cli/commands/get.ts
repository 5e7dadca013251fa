import { statusQuery, statusVersionQuery } from '../../api/messages.ts';
import type { ClusterStatus } from '../../api/status.ts';
import { fullStatus } from '../../lib/cluster-status.ts';
import { clusterFacts } from '../cluster-facts.ts';
import type { CliContext, RunningCluster } from '../context.ts';
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
    await checkName('cluster name', 'NAME', name);
    const cluster = await ctx.runningCluster(name);
    const { handle } = cluster;
    const [status, facts] = await Promise.all([fullStatus(handle), clusterFacts(cluster)]);
    if (format !== 'table') {
      ctx.out(await renderData(status, format));
      return;
    }
    if (flags.watch) await watchCluster(ctx.out, handle, status, facts);
    else ctx.out(renderMembers(status, facts));
    return;
  }
  if (flags.watch) {
    await watchClusters(ctx.out, () => listClusters(ctx));
    return;
  }
  const clusters = await listClusters(ctx);
  const snapshots = await Promise.all(clusters.map((c) => c.snapshot()));
  ctx.out(
    format === 'table'
      ? renderClusters(snapshots)
      : await renderData(
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

async function listClusters(ctx: CliContext): Promise<ListedCluster[]> {
  return (await ctx.runningClusters()).map((cluster) => ({
    workflowId: cluster.run.workflowId,
    version: () => cluster.handle.query(statusVersionQuery),
    snapshot: () => snapshotOf(cluster),
  }));
}

async function snapshotOf(cluster: RunningCluster): Promise<ClusterSnapshot> {
  const [status, facts]: [ClusterStatus, ClusterFacts] = await Promise.all([
    cluster.handle.query(statusQuery),
    clusterFacts(cluster),
  ]);
  return { status, facts };
}
