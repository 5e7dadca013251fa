import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import type { ClusterInput } from './messages.ts';
import { clusterWorkflowId } from './names.ts';
import type { ClusterPhase } from './status.ts';

/** What the Web UI's query box can find a cluster by, such as KdPhase = "config error". */
export const searchAttributes = {
  cluster: defineSearchAttributeKey('KdCluster', SearchAttributeType.KEYWORD),
  namespace: defineSearchAttributeKey('KdNamespace', SearchAttributeType.KEYWORD),
  app: defineSearchAttributeKey('KdApp', SearchAttributeType.KEYWORD),
  phase: defineSearchAttributeKey('KdPhase', SearchAttributeType.KEYWORD),
  members: defineSearchAttributeKey('KdMembers', SearchAttributeType.INT),
};
export const SEARCH_ATTRIBUTE_KEYS = Object.values(searchAttributes);

type ClusterIdentity = Pick<ClusterInput, 'namespace' | 'name' | 'appName'>;

/** Every kdflow search attribute of a cluster in the given phase with the given number of live members. */
export function clusterSearchAttributes(
  cluster: ClusterIdentity,
  phase: ClusterPhase,
  members: number,
): SearchAttributePair[] {
  return [
    { key: searchAttributes.cluster, value: cluster.name },
    { key: searchAttributes.namespace, value: cluster.namespace },
    { key: searchAttributes.app, value: cluster.appName },
    { key: searchAttributes.phase, value: phase },
    { key: searchAttributes.members, value: members },
  ];
}

/** The one-line summary the Web UI shows for a cluster workflow: app/namespace/name and the app's role count, e.g. `spark/default/analytics — 3 roles`. */
export function clusterSummary(input: ClusterInput): string {
  const roles = input.app.roles.length;
  return `${input.appName}/${input.namespace}/${input.name} — ${roles} role${roles === 1 ? '' : 's'}`;
}

/**
 * What every start of a cluster workflow carries besides task queue and arguments: its id, the summary
 * and the search attributes of a cluster that is about to be created. Every caller of
 * `client.workflow.start` for a cluster spreads this in.
 */
export function clusterStartOptions(input: ClusterInput) {
  return {
    workflowId: clusterWorkflowId(input.namespace, input.name),
    staticSummary: clusterSummary(input),
    typedSearchAttributes: clusterSearchAttributes(input, 'creating', 0),
  };
}
