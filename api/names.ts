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
