/**
 * ConfigMaps and Secrets a cluster connects to (`spec.connections`, docs/adr/0044). On Kubernetes they
 * are the API's own; on the local runtime `kdflow apply -f` takes their manifests (apiVersion v1) and
 * stores them, so a KubeDirector user's files work unchanged on both.
 */
import { z } from 'zod';
import { ClusterName, dnsLabel } from './common.ts';

/** The labels that put a connected object into configmeta, and under which type (KubeDirector's). */
export const CONFIGMAP_TYPE_LABEL = 'kubedirector.hpe.com/cmType';
export const SECRET_TYPE_LABEL = 'kubedirector.hpe.com/secretType';

const stringMap = z.record(z.string(), z.string());

const ObjectMetadata = z.looseObject({
  name: ClusterName('metadata.name'),
  namespace: dnsLabel('metadata.namespace').optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
});

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const ConfigMapManifest = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('ConfigMap'),
  metadata: ObjectMetadata,
  data: stringMap.optional(),
});

export const SecretManifest = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Secret'),
  metadata: ObjectMetadata,
  data: z
    .record(z.string(), z.string().regex(BASE64, "a Secret's data values are base64; use stringData for plain text"))
    .optional(),
  stringData: stringMap.optional(),
  type: z.string().optional(),
});

export type ObjectKind = 'ConfigMap' | 'Secret';

/** A connected object as kdflow reads it on either runtime: a Secret's data base64, as the API keeps it. */
export interface StoredObject {
  kind: ObjectKind;
  metadata: { name: string; namespace?: string; labels: Record<string, string>; annotations: Record<string, string> };
  data: Record<string, string>;
}

/** UTF-8, then base64 (api/ stays free of Node built-ins). */
export function base64(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function storedObject(
  manifest: z.infer<typeof ConfigMapManifest> | z.infer<typeof SecretManifest>,
): StoredObject {
  const { name, namespace, labels = {}, annotations = {} } = manifest.metadata;
  const data: Record<string, string> = { ...(manifest.data ?? {}) };
  // As the API server does: stringData is written into data, base64, and wins over it.
  if (manifest.kind === 'Secret')
    for (const [key, value] of Object.entries(manifest.stringData ?? {})) data[key] = base64(value);
  return { kind: manifest.kind, metadata: { name, ...(namespace ? { namespace } : {}), labels, annotations }, data };
}
