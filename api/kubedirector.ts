/**
 * KubeDirector v1beta1 manifests → kdflow kinds. Field names already match, and kdflow's schemas know
 * every KubeDirector field (api/kubedirector-fields.ts says what each does), so this is a copy with
 * three changes: `storageClassName` is `storageClass`, a cluster's `serviceType` goes to each role,
 * and configure runs once (`configureAttempts: 1`) unless the app says otherwise, as in KubeDirector.
 * A field KubeDirector does not define either (its CRD keeps unknown fields) is dropped and named.
 */
import { AppRole, AppService, KdAppSpec } from './app.ts';
import { ClusterRole, KdClusterSpec } from './cluster.ts';
import { API_VERSION } from './common.ts';
import type { FieldIssue } from './rules.ts';

export const KUBEDIRECTOR_API_VERSION = 'kubedirector.hpe.com/v1beta1';

type Json = Record<string, unknown>;

export interface Converted {
  manifest: Json;
  /** Fields dropped, by path: neither KubeDirector nor kdflow defines them. */
  dropped: FieldIssue[];
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pick(source: Json, fields: readonly string[], path: string, dropped: FieldIssue[]): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(source)) {
    if (fields.includes(key)) out[key] = value;
    else
      dropped.push({
        path: `${path}${key}`,
        message: 'not a KubeDirector v1beta1 field that kdflow knows; dropped',
      });
  }
  return out;
}

const eachObject = (list: unknown, convert: (item: Json, i: number) => Json): unknown =>
  Array.isArray(list) ? list.map((item: unknown, i) => (isObject(item) ? convert(item, i) : item)) : list;

function metadataOf(doc: Json): Json {
  const meta = isObject(doc.metadata) ? doc.metadata : {};
  const out: Json = {};
  if (meta.name !== undefined) out.name = meta.name;
  if (meta.namespace !== undefined) out.namespace = meta.namespace;
  if (meta.labels !== undefined) out.labels = meta.labels;
  if (meta.annotations !== undefined) out.annotations = meta.annotations;
  return out;
}

export function convertKubeDirectorApp(doc: Json): Converted {
  const dropped: FieldIssue[] = [];
  const spec = isObject(doc.spec) ? doc.spec : {};
  const out = pick(spec, Object.keys(KdAppSpec.shape), 'spec.', dropped);
  // KubeDirector's CRD keeps unknown fields in `label` too.
  if (isObject(spec.label)) out.label = pick(spec.label, ['name', 'description'], 'spec.label.', dropped);
  out.roles = eachObject(spec.roles, (role, i) => pick(role, Object.keys(AppRole.shape), `spec.roles[${i}].`, dropped));
  out.services = eachObject(spec.services, (service, i) =>
    pick(service, Object.keys(AppService.shape), `spec.services[${i}].`, dropped),
  );
  if (out.services === undefined) delete out.services;
  // KubeDirector runs --configure once: its scripts are not written to run twice (docs/adr/0027).
  out.configureAttempts ??= 1;
  return { manifest: { apiVersion: API_VERSION, kind: 'KdApp', metadata: metadataOf(doc), spec: out }, dropped };
}

export function convertKubeDirectorCluster(doc: Json): Converted {
  const dropped: FieldIssue[] = [];
  const spec = isObject(doc.spec) ? doc.spec : {};
  // KubeDirector sets serviceType once per cluster; kdflow per role.
  const { serviceType, ...rest } = spec;
  const out = pick(rest, Object.keys(KdClusterSpec.shape), 'spec.', dropped);
  out.roles = eachObject(spec.roles, (role, i) => {
    const converted = pick(role, Object.keys(ClusterRole.shape), `spec.roles[${i}].`, dropped);
    if (isObject(role.storage)) {
      const { storageClassName, ...storage } = pick(
        role.storage,
        ['size', 'storageClassName'],
        `spec.roles[${i}].storage.`,
        dropped,
      );
      converted.storage = storageClassName === undefined ? storage : { ...storage, storageClass: storageClassName };
    }
    if (serviceType !== undefined && converted.serviceType === undefined) converted.serviceType = serviceType;
    return converted;
  });
  return { manifest: { apiVersion: API_VERSION, kind: 'KdCluster', metadata: metadataOf(doc), spec: out }, dropped };
}
