import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** What the Web UI's query box can find a cluster by, such as KdPhase = "config error". */
export const searchAttributes = {
  cluster: defineSearchAttributeKey('KdCluster', SearchAttributeType.KEYWORD),
  namespace: defineSearchAttributeKey('KdNamespace', SearchAttributeType.KEYWORD),
  app: defineSearchAttributeKey('KdApp', SearchAttributeType.KEYWORD),
  phase: defineSearchAttributeKey('KdPhase', SearchAttributeType.KEYWORD),
  members: defineSearchAttributeKey('KdMembers', SearchAttributeType.INT),
};
export const SEARCH_ATTRIBUTE_KEYS = Object.values(searchAttributes);
