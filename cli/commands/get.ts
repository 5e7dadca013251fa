import { clusterWorkflowId, statusQuery, type ClusterStatus } from '../../api/index.ts';
import { fullStatus } from '../../lib/cluster-status.ts';
import type { CliContext } from '../context.ts';
import { checkName } from '../names.ts';
import { UsageError } from '../errors.ts';
import { renderClusters, renderData, renderMembers, type OutputFormat } from '../render.ts';

export async function getCommand(ctx: CliContext, [name]: string[], flags: { output?: string }): Promise<void> {
  const format = (flags.output ?? 'table') as OutputFormat;
  if (!['table', 'json', 'yaml'].includes(format))
    throw new UsageError(`-o must be table, json or yaml, got "${format}"`);
  if (name) {
    checkName('cluster name', 'NAME', name);
    const status = await fullStatus(await ctx.cluster(name));
    ctx.out(format === 'table' ? renderMembers(status) : renderData(status, format));
    return;
  }
  const client = await ctx.temporal();
  const prefix = clusterWorkflowId(ctx.namespace, '');
  const statuses: ClusterStatus[] = [];
  for await (const wf of client.workflow.list({
    query: `WorkflowType = 'clusterWorkflow' AND ExecutionStatus = 'Running'`,
  })) {
    if (!wf.workflowId.startsWith(prefix)) continue;
    statuses.push(await client.workflow.getHandle(wf.workflowId).query(statusQuery));
  }
  statuses.sort((a, b) => a.name.localeCompare(b.name));
  ctx.out(format === 'table' ? renderClusters(statuses) : renderData(statuses, format));
}
