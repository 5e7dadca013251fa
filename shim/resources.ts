/** The custom resources the shim watches, and the little it needs to know about their objects. */
import { API_GROUP } from '../api/index.ts';

export const VERSION = 'v1beta1';
export const FINALIZER = 'kdflow.dev/teardown';
export const KINDS = {
  app: { kind: 'KdApp', plural: 'kdapps' },
  cluster: { kind: 'KdCluster', plural: 'kdclusters' },
  action: { kind: 'KdAction', plural: 'kdactions' },
} as const;

export interface CrObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string | Date;
    finalizers?: string[];
    ownerReferences?: { apiVersion?: string; kind?: string; name?: string; uid?: string }[];
  };
  spec?: unknown;
  status?: Record<string, unknown>;
}

export const keyOf = (o: Pick<CrObject, 'metadata'>) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
export const listPath = (plural: string) => `/apis/${API_GROUP}/${VERSION}/${plural}`;
export const crApi = (plural: string) => ({ group: API_GROUP, version: VERSION, plural });
