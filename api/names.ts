/** Naming is the same on every runtime, so a member keeps its identity wherever it runs. */

export const TASK_QUEUE = 'kdflow';
export const DEFAULT_NAMESPACE = 'default';

export function clusterWorkflowId(namespace: string, name: string): string {
  return `kdcluster:${namespace}/${name}`;
}

export function memberName(cluster: string, roleId: string, ordinal: number): string {
  return `${cluster}-${roleId.replaceAll('_', '-')}-${ordinal}`;
}

export function memberFqdn(member: string, cluster: string, namespace: string): string {
  return `${member}.${cluster}.${namespace}.svc.cluster.local`;
}

/** A script run's id: unique per cluster, generation, step, member and event, so a retried activity finds its own run. */
export function scriptRunId(
  namespace: string,
  cluster: string,
  generation: number,
  seq: number,
  member: string,
  event: string,
): string {
  return `${namespace}/${cluster}/g${generation}/s${seq}/${member}/${event}`;
}
