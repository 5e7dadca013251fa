/**
 * The member-name rule (api/member-names.ts) against the clusters that exist: found through Temporal
 * visibility (KdNamespace, KdCluster), their roles read with the spec query. Shared by `kdflow apply`
 * and the CRD shim, on every runtime. Only a cluster that does not run yet is checked: the prefixes
 * of a running one were checked when it was created, and never change (its app is fixed).
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  dnsLabel,
  memberNameIssues,
  namesMayCollide,
  parseOrThrow,
  searchAttributes,
  specQuery,
  type ClusterRoleNames,
  type FieldIssue,
  type KdAppSpec,
} from '../api/index.ts';

/** Every running cluster workflow in a namespace, by cluster name. */
async function runningClusters(client: Client, namespace: string): Promise<Map<string, string>> {
  // Validated before it becomes part of a visibility query.
  parseOrThrow(dnsLabel('namespace'), namespace, undefined, ['metadata', 'namespace']);
  const found = new Map<string, string>();
  const query = `WorkflowType = 'clusterWorkflow' AND ExecutionStatus = 'Running' AND KdNamespace = '${namespace}'`;
  for await (const execution of client.workflow.list({ query })) {
    const name = execution.typedSearchAttributes.get(searchAttributes.cluster);
    if (name) found.set(name, execution.workflowId);
  }
  return found;
}

/**
 * The issues that keep a new cluster from being created because its member names would be another
 * cluster's; none when the cluster already runs. Visibility lags a start by a moment, so two
 * clusters created at the same instant can both pass: the runtime's ownership check is the second
 * line (ADR 0018).
 */
export async function memberNameCollisionIssues(
  client: Client,
  namespace: string,
  name: string,
  app: KdAppSpec,
): Promise<FieldIssue[]> {
  const running = await runningClusters(client, namespace);
  if (running.has(name)) return [];
  const others: ClusterRoleNames[] = [];
  for (const [other, workflowId] of running) {
    if (!namesMayCollide(name, other)) continue;
    try {
      const view = await client.workflow.getHandle(workflowId).query(specQuery);
      others.push({ name: other, roles: view.app.roles.map((r) => r.id) });
    } catch (error) {
      // Ended since it was listed: its members are gone.
      if (error instanceof WorkflowNotFoundError) continue;
      throw new Error(`cannot check member names against cluster ${namespace}/${other}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  return memberNameIssues({ name, roles: app.roles.map((r) => r.id) }, others, namespace);
}
