/** Naming is the same on every runtime, so a member keeps its identity wherever it runs. */

export const TASK_QUEUE = 'kdflow';
export const DEFAULT_NAMESPACE = 'default';

export function clusterWorkflowId(namespace: string, name: string): string {
  return `kdcluster:${namespace}/${name}`;
}

/**
 * The DNS-safe form of a role id or cluster name, as KubeDirector's CrNameRole scheme makes it:
 * lowercase, with '.' and '_' as '-' (`RESTServer` → `restserver`, `ubuntu18.04` → `ubuntu18-04`).
 * Ids already in that form are unchanged, so names of clusters made before stay the same.
 */
export function dnsName(id: string): string {
  return id.toLowerCase().replace(/[._]/g, '-');
}

/** `<cluster>-<role>-<ordinal>` in DNS-safe form: the Pod, PVC and hostname of a member. */
export function memberName(cluster: string, roleId: string, ordinal: number): string {
  return `${dnsName(cluster)}-${dnsName(roleId)}-${ordinal}`;
}

/** The headless Service's domain: `<cluster>.<namespace>.svc.cluster.local`, the cluster in DNS-safe form. */
export function clusterDomain(cluster: string, namespace: string): string {
  return `${dnsName(cluster)}.${namespace}.svc.cluster.local`;
}

export function memberFqdn(member: string, cluster: string, namespace: string): string {
  return `${member}.${clusterDomain(cluster, namespace)}`;
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
