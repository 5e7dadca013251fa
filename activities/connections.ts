/**
 * What a cluster connects to, read the way configmeta shows it (docs/adr/0044): other kdflow
 * clusters (their workflow's topology query), and ConfigMaps and Secrets (the runtime's: the API on
 * Kubernetes, what `kdflow apply` stored on the local runtime). Read by an activity each time it
 * writes configmeta, and by the check whose digest is all the workflow keeps.
 */
import { createHash } from 'node:crypto';
import {
  CONFIGMAP_TYPE_LABEL,
  SECRET_TYPE_LABEL,
  base64,
  stableJson,
  type ConnectedContent,
  type ConnectedObject,
  type KdClusterSpec,
  type ObjectKind,
  type StoredObject,
  type Topology,
} from '../api/index.ts';

export interface ConnectionReaders {
  object(kind: ObjectKind, namespace: string, name: string): Promise<StoredObject | undefined>;
  /** The topology of a running cluster, or undefined when there is none of that name. */
  cluster(namespace: string, name: string): Promise<Topology | undefined>;
}

export interface ReadConnections {
  content: ConnectedContent;
  /** What was named but left out, one line each: not found, or without KubeDirector's type label. */
  notes: string[];
}

export async function readConnections(
  namespace: string,
  connections: NonNullable<KdClusterSpec['connections']>,
  readers: ConnectionReaders,
): Promise<ReadConnections> {
  const notes: string[] = [];
  const content: ConnectedContent = {
    clusters: Object.create(null) as ConnectedContent['clusters'],
    configmaps: Object.create(null) as ConnectedContent['configmaps'],
    secrets: Object.create(null) as ConnectedContent['secrets'],
  };
  // As KubeDirector: a connected object that is not there is left out until it is.
  for (const name of connections.clusters ?? []) {
    const topology = await readers.cluster(namespace, name);
    if (topology) content.clusters[name] = topology;
    else notes.push(`connected cluster ${namespace}/${name} is not running`);
  }
  const objects = async (kind: ObjectKind, names: string[], into: Record<string, ConnectedObject[]>) => {
    const label = kind === 'ConfigMap' ? CONFIGMAP_TYPE_LABEL : SECRET_TYPE_LABEL;
    for (const name of names) {
      const object = await readers.object(kind, namespace, name);
      const type = object?.metadata.labels[label];
      if (!object) notes.push(`connected ${kind} ${namespace}/${name} not found`);
      else if (type === undefined) notes.push(`connected ${kind} ${namespace}/${name} has no ${label} label: left out`);
      else (into[type] ??= []).push(connectedObject(object));
    }
  };
  await objects('ConfigMap', connections.configmaps ?? [], content.configmaps);
  await objects('Secret', connections.secrets ?? [], content.secrets);
  return { content, notes };
}

/** KubeDirector's shape: a Secret's name, labels and annotations base64 too, as Go writes its []byte maps. */
function connectedObject(object: StoredObject): ConnectedObject {
  const { name, labels, annotations } = object.metadata;
  if (object.kind === 'ConfigMap') return { metadata: { name }, data: object.data, labels, annotations };
  const encoded = (map: Record<string, string>) =>
    Object.fromEntries(Object.entries(map).map(([key, value]) => [key, base64(value)]));
  return {
    metadata: { name: base64(name) },
    data: object.data,
    labels: encoded(labels),
    annotations: encoded(annotations),
  };
}

/** The one thing the workflow keeps about its connections: a change of any content is a new digest. */
export function connectionsDigest(content: ConnectedContent): string {
  return createHash('sha256').update(stableJson(content)).digest('hex').slice(0, 32);
}
