/**
 * Every field of KubeDirector's v1beta1 KubeDirectorApp and KubeDirectorCluster, and what kdflow does
 * with it: nothing is dropped without a word (docs/adr/0026). The schemas (api/app.ts, api/cluster.ts)
 * accept every field here, so a manifest reaches this table whichever command or shim reads it; the
 * README's "Coming from KubeDirector" section lists the same rows (a unit test keeps them in step).
 *
 * - supported: kdflow does what KubeDirector does with it;
 * - ignored: accepted with a warning, as it changes nothing kdflow does (a logo, a log size);
 * - later: not done yet; set, it is refused or warned (`whenSet`) so that nobody counts on it;
 * - refused: kdflow will not do it, and says what to use instead.
 */
import type { FieldIssue } from './rules.ts';

export type FieldStatus = 'supported' | 'ignored' | 'later' | 'refused';

export interface FieldRule {
  kind: 'app' | 'cluster';
  /** From the manifest's top; `[]` stands for every item of a list. */
  path: string;
  status: FieldStatus;
  /** What happens when the field is set; absent means nothing is said. */
  whenSet?: 'warn' | 'refuse';
  note: string;
}

const rule =
  (status: FieldStatus, whenSet?: FieldRule['whenSet']) =>
  (kind: FieldRule['kind'], path: string, note: string): FieldRule => ({
    kind,
    path,
    status,
    ...(whenSet ? { whenSet } : {}),
    note,
  });
const supported = rule('supported');
const ignored = rule('ignored', 'warn');
const laterWarned = rule('later', 'warn');
const laterRefused = rule('later', 'refuse');
const refused = rule('refused', 'refuse');

export const KUBEDIRECTOR_FIELDS: readonly FieldRule[] = [
  supported('app', 'spec.label', 'name and description; `kdflow app list` shows the name'),
  supported('app', 'spec.distroID', 'configmeta `distro_id` and the `distros.<distroID>` key'),
  supported('app', 'spec.version', 'configmeta `catalog_entry_version`'),
  supported('app', 'spec.configSchemaVersion', 'configmeta `version` (7 when absent)'),
  supported('app', 'spec.defaultImageRepoTag', 'the image of roles without their own (Kubernetes runtime)'),
  supported(
    'app',
    'spec.defaultConfigPackage',
    "`packageURL` under the `file://` rule; `useNewSetupLayout` changes nothing, as the configcli helpers are on every script's PATH",
  ),
  supported('app', 'spec.defaultPersistDirs', 'persist dirs of roles without their own'),
  supported('app', 'spec.defaultEventList', 'events of roles without their own `eventList`'),
  supported(
    'app',
    'spec.services',
    'configmeta `services` entries and endpoints; Services per role endpoint on Kubernetes',
  ),
  supported('app', 'spec.services[].exported_service', 'configmeta `exported_service`'),
  laterWarned('app', 'spec.services[].endpoint.hasAuthToken', 'configmeta `authToken` stays empty'),
  supported('app', 'spec.roles', 'roles with `cardinality` ("N" or "N+")'),
  supported('app', 'spec.roles[].id', 'kept as given (`LoadBalancer`, `a.b`); member names use its DNS-safe form'),
  supported('app', 'spec.roles[].cardinality', '"N" exactly or "N+" at least'),
  supported('app', 'spec.roles[].imageRepoTag', "the role's image (Kubernetes runtime)"),
  supported('app', 'spec.roles[].configPackage', 'as `defaultConfigPackage`; `null` means no package'),
  supported(
    'app',
    'spec.roles[].persistDirs',
    "on the member's volume; on the local runtime mounted at the guest path, except the host's system directories (said at apply and in get)",
  ),
  supported(
    'app',
    'spec.roles[].eventList',
    'configure, addnodes, delnodes (the default); kdflow adds upgrade, rollback, reconfigure and restart, run only when listed',
  ),
  laterWarned('app', 'spec.roles[].minResources', "not yet checked against the cluster's resources"),
  supported(
    'app',
    'spec.roles[].minStorage',
    "a new cluster's role storage must be at least `size`, or absent when `ephemeralModeSupported`",
  ),
  ignored('app', 'spec.roles[].containerSpec', 'members get no stdin or tty'),
  ignored(
    'app',
    'spec.roles[].maxLogSizeDump',
    'status keeps the last 4 KiB of each output; `kdflow logs` reads the whole files',
  ),
  supported('app', 'spec.config.roleServices', 'which role exposes which service'),
  supported('app', 'spec.config.selectedRoles', 'checked to name roles of the app'),
  supported(
    'app',
    'spec.config.configMeta',
    'configmeta `nodegroups.1.config_metadata` (and `cluster.config_metadata` by reference)',
  ),
  laterWarned('app', 'spec.capabilities', 'not yet granted to members'),
  ignored('app', 'spec.systemdRequired', 'members do not run systemd; start services from the startscript'),
  ignored('app', 'spec.logoURL', 'kdflow shows no app logos'),
  ignored(
    'app',
    'spec.defaultMaxLogSizeDump',
    'status keeps the last 4 KiB of each output; `kdflow logs` reads the whole files',
  ),

  supported('cluster', 'spec.app', "the app, fixed for the cluster's life"),
  ignored('cluster', 'spec.appCatalog', 'kdflow has one app catalog per namespace'),
  supported(
    'cluster',
    'spec.namingScheme',
    "members are always `<cluster>-<role>-<ordinal>` (KubeDirector's CrNameRole, without its random part); `UID` is warned about",
  ),
  supported('cluster', 'spec.serviceType', "every role's Service type (Kubernetes runtime)"),
  supported(
    'cluster',
    'spec.connections',
    "configmeta `connections` (other kdflow clusters; ConfigMaps and Secrets with KubeDirector's type labels, from the API on Kubernetes, stored by `kdflow apply` on the local runtime); a change sends `--reconnect`",
  ),
  supported('cluster', 'spec.defaultSecret', 'the `secret` of roles without their own'),
  supported('cluster', 'spec.roles', 'members per role'),
  supported('cluster', 'spec.roles[].id', 'a role of the app'),
  supported('cluster', 'spec.roles[].members', 'N of the cardinality when absent'),
  supported('cluster', 'spec.roles[].resources', 'Pod resources (Kubernetes); configmeta `flavor`'),
  supported('cluster', 'spec.roles[].storage', 'a PVC per member (Kubernetes); configmeta `flavor.storage`'),
  supported('cluster', 'spec.roles[].env', "every script's environment"),
  supported('cluster', 'spec.roles[].podLabels', 'Pod labels (Kubernetes)'),
  supported('cluster', 'spec.roles[].secretKeys', 'configmeta `roles.<role>.secret_keys`, from `value`'),
  refused(
    'cluster',
    'spec.roles[].secretKeys[].encryptedValue',
    "it is encrypted with KubeDirector's key, which kdflow does not have; give `value` instead",
  ),
  supported('cluster', 'spec.roles[].podAnnotations', 'Pod annotations (Kubernetes)'),
  laterWarned('cluster', 'spec.roles[].serviceLabels', 'not yet put on the Services'),
  laterWarned('cluster', 'spec.roles[].serviceAnnotations', 'not yet put on the Services'),
  laterWarned('cluster', 'spec.roles[].affinity', 'not yet given to the scheduler'),
  laterWarned('cluster', 'spec.roles[].sharedMemory', "/dev/shm keeps the runtime's default size"),
  laterRefused('cluster', 'spec.roles[].serviceAccountName', 'members run without a ServiceAccount token for now'),
  supported(
    'cluster',
    'spec.roles[].fileInjections',
    '`srcURL` fetched by the worker (http(s), or `file://` under the package rule) into `destDir` before --configure, with `permissions`',
  ),
  supported(
    'cluster',
    'spec.roles[].secret',
    'the Secret mounted at `mountPath` (a Secret volume on Kubernetes; on the local runtime one stored by `kdflow apply`, written as files)',
  ),
  supported(
    'cluster',
    'spec.roles[].blockStorage',
    'Kubernetes: `numDevices` Block PVCs at `pathPrefix`0, 1, … and configmeta `node.block_device_paths`; refused on the local runtime',
  ),
  laterRefused('cluster', 'spec.roles[].volumeProjections', 'volume projections are not supported yet'),
];

/** Set means more than a default: undefined, null, false, '', [] and {} (or only such values inside) are not. */
function isSet(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === '') return false;
  if (Array.isArray(value)) return value.some(isSet);
  if (typeof value === 'object') return Object.values(value).some(isSet);
  return true;
}

/** The concrete paths (`spec.roles[1].affinity`) under `path` whose value is set. */
function setPaths(root: unknown, path: string): string[] {
  const parts = path.split('.').slice(1);
  let found: { at: string; value: unknown }[] = [{ at: 'spec', value: root }];
  for (const part of parts) {
    const list = part.endsWith('[]');
    const key = list ? part.slice(0, -2) : part;
    found = found.flatMap(({ at, value }) => {
      if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return [];
      const next = (value as Record<string, unknown>)[key];
      if (!list) return [{ at: `${at}.${key}`, value: next }];
      return Array.isArray(next) ? next.map((item, i) => ({ at: `${at}.${key}[${i}]`, value: item })) : [];
    });
  }
  return found.filter(({ value }) => isSet(value)).map(({ at }) => at);
}

function message(rule: FieldRule): string {
  const what = rule.status === 'later' ? 'not supported by kdflow yet' : `${rule.status} by kdflow`;
  return `${what}: ${rule.note}`;
}

/** Issues for a spec (the object under `spec`), paths relative to it as zod reports them. */
function notes(kind: FieldRule['kind'], spec: unknown, when: 'warn' | 'refuse'): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  for (const rule of KUBEDIRECTOR_FIELDS) {
    if (rule.kind !== kind || rule.whenSet !== when) continue;
    for (const at of setPaths(spec, rule.path))
      out.push({
        path: at
          .replace(/^spec\.?/, '')
          .split(/\.|\[|\]/)
          .filter(Boolean),
        message: message(rule),
      });
  }
  return out;
}

/** The fields set in a spec that kdflow refuses, for the schemas' refinements. */
export function kubeDirectorRefusals(
  kind: FieldRule['kind'],
  spec: unknown,
): { path: (string | number)[]; message: string }[] {
  return notes(kind, spec, 'refuse').map((n) => ({
    path: n.path.map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
    message: n.message,
  }));
}

/**
 * What `app apply`, `app validate`, `apply`, `plan` and the shim say about a valid spec: the fields
 * set that kdflow ignores or does not do yet, and which naming scheme is in use.
 */
export function kubeDirectorWarnings(kind: FieldRule['kind'], spec: unknown): FieldIssue[] {
  const warnings = notes(kind, spec, 'warn').map((n) => ({
    path: `spec.${n.path
      .map((p) => (/^\d+$/.test(p) ? `[${p}]` : p))
      .join('.')
      .replace(/\.\[/g, '[')}`,
    message: n.message,
  }));
  const scheme = (spec as { namingScheme?: unknown } | null)?.namingScheme;
  if (kind === 'cluster' && scheme === 'UID')
    warnings.push({
      path: 'spec.namingScheme',
      message:
        'UID is not used: member names are <cluster>-<role>-<ordinal> (the CrNameRole scheme), so they are stable and readable',
    });
  return warnings;
}
