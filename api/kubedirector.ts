/**
 * KubeDirector v1beta1 manifests → kdflow kinds. Field names already match, so this is mostly a
 * copy of the fields kdflow knows, and a list of the ones it drops, so nothing is lost silently.
 */
import { API_VERSION } from './common.ts';

export const KUBEDIRECTOR_API_VERSION = 'kubedirector.hpe.com/v1beta1';

type Json = Record<string, unknown>;

export interface Converted {
  manifest: Json;
  dropped: string[];
}

const APP_FIELDS = [
  'label',
  'distroID',
  'version',
  'defaultImageRepoTag',
  'defaultConfigPackage',
  'defaultPersistDirs',
  'defaultEventList',
  'systemdRequired',
  'roles',
  'services',
  'config',
];
const APP_ROLE_FIELDS = [
  'id',
  'cardinality',
  'imageRepoTag',
  'configPackage',
  'persistDirs',
  'eventList',
  'minResources',
  'minStorage',
];
const CLUSTER_ROLE_FIELDS = ['id', 'members', 'resources', 'env', 'podLabels'];

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pick(source: Json, fields: string[], path: string, dropped: string[]): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(source)) {
    if (fields.includes(key)) out[key] = value;
    else dropped.push(`${path}${key}`);
  }
  return out;
}

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
  const dropped: string[] = [];
  const spec = isObject(doc.spec) ? doc.spec : {};
  const out = pick(spec, APP_FIELDS, 'spec.', dropped);
  if (Array.isArray(spec.roles)) {
    out.roles = spec.roles.map((role: unknown, i) =>
      isObject(role) ? pick(role, APP_ROLE_FIELDS, `spec.roles[${i}].`, dropped) : role,
    );
  }
  return { manifest: { apiVersion: API_VERSION, kind: 'KdApp', metadata: metadataOf(doc), spec: out }, dropped };
}

export function convertKubeDirectorCluster(doc: Json): Converted {
  const dropped: string[] = [];
  const spec = isObject(doc.spec) ? doc.spec : {};
  const out: Json = {};
  for (const key of Object.keys(spec)) if (!['app', 'roles', 'serviceType'].includes(key)) dropped.push(`spec.${key}`);
  out.app = spec.app;
  // KubeDirector sets serviceType once per cluster; kdflow per role.
  const serviceType = spec.serviceType;
  out.roles = Array.isArray(spec.roles)
    ? spec.roles.map((role: unknown, i) => {
        if (!isObject(role)) return role;
        const converted = pick(role, [...CLUSTER_ROLE_FIELDS, 'storage'], `spec.roles[${i}].`, dropped);
        if (isObject(role.storage)) {
          const { size, storageClassName, ...rest } = role.storage;
          converted.storage = storageClassName === undefined ? { size } : { size, storageClass: storageClassName };
          for (const key of Object.keys(rest)) dropped.push(`spec.roles[${i}].storage.${key}`);
        }
        if (serviceType !== undefined) converted.serviceType = serviceType;
        return converted;
      })
    : spec.roles;
  return { manifest: { apiVersion: API_VERSION, kind: 'KdCluster', metadata: metadataOf(doc), spec: out }, dropped };
}
