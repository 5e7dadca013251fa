/**
 * The workflow's own check of what it is started and signalled with, without zod (docs/adr/0013).
 * The edges (CLI, shim, client helpers) validate with the zod schemas before they start or signal a
 * cluster; the workflow checks again because anyone with access to Temporal can start or signal it
 * by hand. zod builds its schemas per module instance and changes them on first use, so evaluating
 * them in every cached workflow cost about half a MiB each; this check is a few plain functions that
 * every workflow of a worker shares.
 *
 * It is the same shape as the schemas, written as checks: the types still come from the schemas
 * (z.infer), the field rules (patterns, limits, messages) and the cross-field rules come from
 * fields.ts and rules.ts, which the schemas use too, and test/unit/light-check.test.ts holds it to
 * the schemas' verdicts and output (defaults filled in) on thousands of generated inputs.
 */
import type {
  ActionParam,
  AppAction,
  AppHook,
  AppHooks,
  AppRole,
  AppService,
  ConfigPackage,
  KdAppSpec,
  RetryKnobs,
  UpgradePolicy,
  RoleOrder,
} from './app.ts';
import { parseCardinality } from './cardinality.ts';
import type { BlockStorage, ClusterRole, FileInjection, KdClusterSpec, MemberSecret } from './cluster.ts';
import type { EventName, Resources } from './common.ts';
import {
  ACTION_MODES,
  ACTION_PARAM_NAME,
  ACTION_PARAM_TYPES,
  ACTION_TIMEOUT,
  APP_CATALOGS,
  APP_KNOBS,
  BLOCK_DEVICES_RULES,
  FILE_MODE_RULES,
  INJECTION_URL_PATTERN,
  OWNER_PATTERN,
  guestPathDotDot,
  guestPathPattern,
  CARDINALITY_MESSAGE,
  CLUSTER_NAME_MAX,
  CONFIGURE_ATTEMPTS,
  CONFIG_SCHEMA_VERSION_MIN,
  DNS_LABEL_MAX,
  ENV_NAME_PATTERN,
  ENV_VALUE_MAX,
  EVENTS,
  HOOK_ATTEMPTS,
  HOOK_TIMEOUT,
  MEMBERS_RULES,
  NAMING_SCHEMES,
  PERSIST_DIR_DOTDOT,
  PERSIST_DIR_PATTERN,
  SHA256_PATTERN,
  QUANTITY_PATTERN,
  RESERVED_NAMES,
  RETRY_KNOBS,
  ROLE_ID_MAX,
  ROLE_ID_PATTERN,
  SERVICE_PORT,
  SERVICE_TYPES,
  STORAGE_SIZE_PATTERN,
  clusterNamePattern,
  dnsLabelPattern,
  persistDirClimbs,
  reservedMessage,
  type Pattern,
} from './fields.ts';
import type { ClusterInput } from './messages.ts';
import { MAX_UNAVAILABLE, ON_FAILURE } from './rolling.ts';
import {
  appSpecIssues,
  clusterIssues,
  clusterSpecIssues,
  describeValue,
  formatPath,
  specChangeIssues,
  type FieldIssue,
} from './rules.ts';

type Path = (string | number)[];

/** Checks `value` at `path`, records what is wrong in `issues`, and returns the value as parsed. */
type Check<T> = (value: unknown, path: Path, issues: FieldIssue[]) => T;

/**
 * Records an issue. A check that refuses a value returns nothing (typed `never` where it must return
 * the value): `checked` hands back only the issues then, never a value built from a refused one.
 */
const issue = (issues: FieldIssue[], path: Path, message: string, value?: unknown): undefined => {
  issues.push({
    path: formatPath(path),
    message: value === undefined ? message : `${message}, got ${describeValue(value)}`,
  });
  return undefined;
};
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const got = (v: unknown) => (v === undefined ? 'missing' : `got ${describeValue(v)}`);

interface StringRules {
  reserved?: string;
  min?: [number, string?];
  max?: [number, string?];
  pattern?: Pattern;
  rule?: [(s: string) => boolean, string];
}

// Messages a schema does not set are zod's own, as validate.ts words them: `got 0; expected number to be >=1`.
function string(rules: StringRules = {}): Check<string> {
  return (value, path, issues) => {
    if (typeof value !== 'string') return issue(issues, path, `${got(value)}; expected string`) as never;
    if (rules.reserved !== undefined && RESERVED_NAMES.has(value))
      return issue(issues, path, reservedMessage(rules.reserved)) as never;
    const [min, minMessage] = rules.min ?? [];
    if (min !== undefined && value.length < min)
      if (minMessage) issue(issues, path, minMessage, value);
      else issue(issues, path, `${got(value)}; expected string to have >=${min} characters`);
    const [max, maxMessage] = rules.max ?? [];
    if (max !== undefined && value.length > max)
      if (maxMessage) issue(issues, path, maxMessage, value);
      else issue(issues, path, `${got(value)}; expected string to have <=${max} characters`);
    if (rules.pattern && !rules.pattern.regex.test(value)) issue(issues, path, rules.pattern.message, value);
    if (rules.rule && !rules.rule[0](value)) issue(issues, path, rules.rule[1], value);
    return value;
  };
}

interface NumberRules {
  /** true, or the message a schema gives for a fraction. */
  int?: boolean | string;
  min?: number | readonly [number, string];
  max?: number | readonly [number, string];
}

function number(rules: NumberRules = {}): Check<number> {
  const bound = (b: number | readonly [number, string] | undefined): [number?, string?] =>
    typeof b === 'number' ? [b] : b ? [b[0], b[1]] : [];
  const [min, minMessage] = bound(rules.min);
  const [max, maxMessage] = bound(rules.max);
  return (value, path, issues) => {
    if (typeof value !== 'number' || !Number.isFinite(value))
      return issue(issues, path, `${got(value)}; expected number`) as never;
    // As in zod, a fraction (or an unsafe integer) is refused as that alone.
    if (rules.int && !Number.isSafeInteger(value)) {
      if (typeof rules.int === 'string') return issue(issues, path, rules.int, value) as never;
      if (!Number.isInteger(value)) return issue(issues, path, `${got(value)}; expected int`) as never;
      const limit = `${value > 0 ? '<=' : '>='}${Math.sign(value) * Number.MAX_SAFE_INTEGER}`;
      return issue(issues, path, `${got(value)}; expected int to be ${limit}`) as never;
    }
    if (min !== undefined && value < min)
      if (minMessage) issue(issues, path, minMessage, value);
      else issue(issues, path, `${got(value)}; expected number to be >=${min}`);
    if (max !== undefined && value > max)
      if (maxMessage) issue(issues, path, maxMessage, value);
      else issue(issues, path, `${got(value)}; expected number to be <=${max}`);
    return value;
  };
}

const boolean: Check<boolean> = (value, path, issues) =>
  typeof value === 'boolean' ? value : (issue(issues, path, `${got(value)}; expected boolean`) as never);

function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return (value, path, issues) =>
    values.includes(value as T)
      ? (value as T)
      : (issue(issues, path, `${got(value)}; expected one of ${values.join(', ')}`) as never);
}

function array<T>(item: Check<T>, min?: [number, string]): Check<T[]> {
  return (value, path, issues) => {
    if (!Array.isArray(value)) return issue(issues, path, `${got(value)}; expected array`) as never;
    const out = value.map((v, i) => item(v, [...path, i], issues));
    if (min && value.length < min[0]) issue(issues, path, min[1], value);
    return out;
  };
}

function record<T>(item: Check<T>): Check<Record<string, T>> {
  return (value, path, issues) => {
    if (!isObject(value)) return issue(issues, path, `${got(value)}; expected record`) as never;
    const out: Record<string, T> = {};
    for (const [k, v] of Object.entries(value)) out[k] = item(v, [...path, k], issues);
    return out;
  };
}

function nullable<T>(check: Check<T>): Check<T | null> {
  return (value, path, issues) => (value === null ? null : check(value, path, issues));
}

/** A field of a strict object: required, optional, or filled in with a default when absent. */
type Field<T> = { check: Check<T>; optional?: true; default?: () => T };
const optional = <T>(check: Check<T>): Field<T> => ({ check, optional: true });
const withDefault = <T>(check: Check<T>, value: () => T): Field<T> => ({ check, default: value });

/** An object with exactly these fields: an unknown key is an issue, as with zod's strictObject. */
function strict<T>(fields: { [K in keyof T]-?: Field<T[K]> | Check<T[K]> }): Check<T> {
  return (value, path, issues) => {
    if (!isObject(value)) return issue(issues, path, `${got(value)}; expected object`) as never;
    const out: Record<string, unknown> = {};
    for (const [key, spec] of Object.entries(fields) as [string, Field<unknown> | Check<unknown>][]) {
      const field = typeof spec === 'function' ? { check: spec } : spec;
      const v = Object.hasOwn(value, key) ? value[key] : undefined;
      if (v === undefined && (field.default || field.optional)) {
        if (field.default) out[key] = field.default();
        continue;
      }
      // A required field left out is refused by its own check: `missing; expected string`.
      out[key] = field.check(v, [...path, key], issues);
    }
    const unknown = Object.keys(value).filter((k) => !Object.hasOwn(fields, k));
    if (unknown.length > 0)
      issue(
        issues,
        path,
        `Unrecognized key${unknown.length === 1 ? '' : 's'}: ${unknown.map((k) => `"${k}"`).join(', ')}`,
      );
    return out as T;
  };
}

/** Any object, its keys kept, as with zod's `looseObject({})`: a KubeDirector field kdflow passes by. */
const looseObject: Check<Record<string, unknown>> = (value, path, issues) =>
  isObject(value) ? { ...value } : (issue(issues, path, `${got(value)}; expected object`) as never);

/** A Kubernetes quantity, as a string or a number; the output is its string. */
const quantity: Check<string> = (value, path, issues) => {
  if ((typeof value !== 'number' || !Number.isFinite(value)) && typeof value !== 'string')
    return issue(issues, path, `${got(value)}; expected string or number`) as never;
  const text = String(value);
  if (!QUANTITY_PATTERN.regex.test(text)) issue(issues, path, QUANTITY_PATTERN.message, value);
  return text;
};

const nonEmpty = (message?: string): StringRules => ({ min: [1, message] });
/** A name rule as api/common.ts's boundedName: not reserved, not empty, at most `max` characters, matching `pattern`. */
const boundedName = (what: string, max: number, pattern: Pattern) =>
  string({
    reserved: what,
    min: [1, `${what} must not be empty`],
    max: [max, `${what} must be at most ${max} characters`],
    pattern,
  });
const dnsLabel = (what: string) => boundedName(what, DNS_LABEL_MAX, dnsLabelPattern(what));
const clusterName = (what: string) => boundedName(what, CLUSTER_NAME_MAX, clusterNamePattern(what));
const roleId = boundedName('role id', ROLE_ID_MAX, ROLE_ID_PATTERN);
const knob = (k: { min: number; max: number; default: number; int?: boolean }) =>
  withDefault(number({ int: k.int !== false, min: k.min, max: k.max }), () => k.default);
const event = oneOf<EventName>(EVENTS);

// --- the cluster spec (api/cluster.ts) ---
const guestPath = (what: string) =>
  string({ pattern: guestPathPattern(what), rule: [(p) => !persistDirClimbs(p), guestPathDotDot(what)] });
const fileMode = number(FILE_MODE_RULES);
const owner = string({ pattern: OWNER_PATTERN });
const memberSecret = strict<MemberSecret>({
  name: clusterName('secret name'),
  defaultMode: optional(fileMode),
  mountPath: guestPath('secret mountPath'),
  readOnly: optional(boolean),
});
const fileInjection = strict<FileInjection>({
  srcURL: string({ pattern: INJECTION_URL_PATTERN }),
  destDir: guestPath('destDir'),
  permissions: optional(
    strict<NonNullable<FileInjection['permissions']>>({
      fileMode: optional(fileMode),
      fileOwner: optional(owner),
      fileGroup: optional(owner),
    }),
  ),
});
const blockStorage = strict<BlockStorage>({
  storageClassName: optional(string(nonEmpty())),
  pathPrefix: guestPath('blockStorage pathPrefix'),
  size: optional(string({ pattern: STORAGE_SIZE_PATTERN })),
  numDevices: number(BLOCK_DEVICES_RULES),
});
const resources = strict<Resources>({ requests: optional(record(quantity)), limits: optional(record(quantity)) });
const clusterRole = strict<ClusterRole>({
  id: roleId,
  members: optional(number(MEMBERS_RULES)),
  resources: optional(resources),
  storage: optional(
    strict<NonNullable<ClusterRole['storage']>>({
      size: string({ pattern: STORAGE_SIZE_PATTERN }),
      storageClass: optional(string(nonEmpty())),
    }),
  ),
  env: optional(
    array(
      strict<NonNullable<ClusterRole['env']>[number]>({
        name: string({ reserved: 'env name', pattern: ENV_NAME_PATTERN }),
        value: string({ max: [ENV_VALUE_MAX, 'env value must be at most 32 KiB'] }),
      }),
    ),
  ),
  podLabels: optional(record(string())),
  serviceType: optional(oneOf(SERVICE_TYPES)),
  secretKeys: optional(
    array(
      strict<NonNullable<ClusterRole['secretKeys']>[number]>({
        name: string({ reserved: 'secret key name', min: [1, 'secret key name must not be empty'] }),
        value: optional(string()),
        encryptedValue: optional(string()),
      }),
    ),
  ),
  podAnnotations: optional(nullable(record(string()))),
  serviceLabels: optional(nullable(record(string()))),
  serviceAnnotations: optional(nullable(record(string()))),
  affinity: optional(looseObject),
  sharedMemory: optional(string()),
  serviceAccountName: optional(string()),
  fileInjections: optional(array(fileInjection)),
  secret: optional(nullable(memberSecret)),
  blockStorage: optional(nullable(blockStorage)),
  volumeProjections: optional(array(looseObject)),
});
const clusterSpecShape = strict<KdClusterSpec>({
  app: dnsLabel('app'),
  roles: array(clusterRole),
  namingScheme: optional(oneOf(NAMING_SCHEMES)),
  appCatalog: optional(oneOf(APP_CATALOGS)),
  connections: optional(
    strict<NonNullable<KdClusterSpec['connections']>>({
      clusters: optional(array(clusterName('connected cluster'))),
      configmaps: optional(array(clusterName('connected configmap'))),
      secrets: optional(array(clusterName('connected secret'))),
    }),
  ),
  defaultSecret: optional(nullable(memberSecret)),
  appVersion: optional(string(nonEmpty('appVersion must not be empty'))),
});

// --- the app spec (api/app.ts) ---
const configPackage = nullable(
  strict<NonNullable<ConfigPackage>>({
    packageURL: string(nonEmpty('packageURL must not be empty')),
    sha256: optional(string({ pattern: SHA256_PATTERN })),
    useNewSetupLayout: optional(boolean),
  }),
);
const persistDir = string({ pattern: PERSIST_DIR_PATTERN, rule: [(d) => !persistDirClimbs(d), PERSIST_DIR_DOTDOT] });
const cardinality = string({ rule: [(c) => parseCardinality(c) !== undefined, CARDINALITY_MESSAGE] });
const appRole = strict<AppRole>({
  id: roleId,
  cardinality,
  imageRepoTag: optional(string(nonEmpty())),
  configPackage: optional(configPackage),
  persistDirs: optional(array(persistDir)),
  eventList: optional(array(event)),
  minResources: optional(record(quantity)),
  minStorage: optional(
    strict<NonNullable<AppRole['minStorage']>>({ size: quantity, ephemeralModeSupported: optional(boolean) }),
  ),
  containerSpec: optional(looseObject),
  maxLogSizeDump: optional(number({ int: true, min: 0 })),
});
const appService = strict<AppService>({
  id: dnsLabel('service id'),
  label: strict<AppService['label']>({ name: string(nonEmpty()), description: optional(string()) }),
  endpoint: optional(
    strict<NonNullable<AppService['endpoint']>>({
      urlScheme: optional(string()),
      port: number({ int: true, min: SERVICE_PORT.min, max: SERVICE_PORT.max }),
      path: optional(string()),
      isDashboard: optional(boolean),
      hasAuthToken: optional(boolean),
    }),
  ),
  exported_service: optional(string()),
});
const retryKnobs = strict<RetryKnobs>({
  maximumAttempts: knob(RETRY_KNOBS.maximumAttempts),
  initialIntervalSeconds: knob(RETRY_KNOBS.initialIntervalSeconds),
  backoffCoefficient: knob(RETRY_KNOBS.backoffCoefficient),
});
const appAction = strict<AppAction>({
  name: dnsLabel('action name'),
  description: optional(string()),
  roles: optional(array(roleId)),
  mode: optional(oneOf(ACTION_MODES)),
  timeoutSeconds: optional(number({ int: true, min: ACTION_TIMEOUT.min, max: ACTION_TIMEOUT.max })),
  params: optional(
    array(
      strict<ActionParam>({
        name: string({ pattern: ACTION_PARAM_NAME }),
        type: oneOf(ACTION_PARAM_TYPES),
        values: optional(array(string())),
        required: optional(boolean),
        default: optional(string()),
        description: optional(string()),
      }),
    ),
  ),
});
const appHook = strict<AppHook>({
  role: roleId,
  timeoutSeconds: optional(number({ int: true, min: HOOK_TIMEOUT.min, max: HOOK_TIMEOUT.max })),
  attempts: optional(number({ int: true, min: HOOK_ATTEMPTS.min, max: HOOK_ATTEMPTS.max })),
});
const appHooks = strict<AppHooks>({ postProvision: optional(appHook), preTerminate: optional(appHook) });
const roleOrder = strict<RoleOrder>({
  provision: optional(array(array(roleId))),
  terminate: optional(array(array(roleId))),
  grow: optional(array(roleId)),
});
const appSpecShape = strict<KdAppSpec>({
  label: strict<KdAppSpec['label']>({
    name: string(nonEmpty('label.name must not be empty')),
    description: optional(string()),
  }),
  distroID: string(nonEmpty('distroID must not be empty')),
  version: string(nonEmpty('version must not be empty')),
  configSchemaVersion: optional(
    number({
      int: true,
      min: [CONFIG_SCHEMA_VERSION_MIN, `configSchemaVersion must be at least ${CONFIG_SCHEMA_VERSION_MIN}`],
    }),
  ),
  defaultImageRepoTag: optional(string(nonEmpty())),
  defaultConfigPackage: optional(configPackage),
  defaultPersistDirs: optional(array(persistDir)),
  defaultEventList: optional(array(event)),
  systemdRequired: optional(boolean),
  roles: array(appRole, [1, 'an app needs at least one role']),
  services: optional(array(appService)),
  config: optional(
    strict<NonNullable<KdAppSpec['config']>>({
      roleServices: optional(
        array(
          strict<NonNullable<NonNullable<KdAppSpec['config']>['roleServices']>[number]>({
            roleID: roleId,
            serviceIDs: array(string()),
          }),
        ),
      ),
      selectedRoles: optional(array(roleId)),
      configMeta: optional(nullable(record(string()))),
    }),
  ),
  capabilities: optional(array(string())),
  logoURL: optional(string()),
  defaultMaxLogSizeDump: optional(number({ int: true, min: 0 })),
  scriptTimeoutSeconds: knob(APP_KNOBS.scriptTimeoutSeconds),
  maxParallel: knob(APP_KNOBS.maxParallel),
  retry: withDefault(retryKnobs, () => ({
    maximumAttempts: RETRY_KNOBS.maximumAttempts.default,
    initialIntervalSeconds: RETRY_KNOBS.initialIntervalSeconds.default,
    backoffCoefficient: RETRY_KNOBS.backoffCoefficient.default,
  })),
  configureAttempts: optional(number({ int: true, min: CONFIGURE_ATTEMPTS.min, max: CONFIGURE_ATTEMPTS.max })),
  actions: optional(array(appAction)),
  upgrade: optional(
    strict<UpgradePolicy>({
      roleOrder: optional(array(roleId)),
      onFailure: optional(oneOf(ON_FAILURE)),
      maxUnavailable: optional(number({ int: true, min: MAX_UNAVAILABLE.min, max: MAX_UNAVAILABLE.max })),
    }),
  ),
  hooks: optional(appHooks),
  roleOrder: optional(roleOrder),
});

/** A shape, then its cross-field rules (only on a value whose fields are right, as zod runs superRefine). */
function checked<T>(
  shape: Check<T>,
  rules: (value: T) => { path: Path; message: string }[],
  value: unknown,
  path: Path,
): { value: T; issues: [] } | { issues: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  const out = shape(value, path, issues);
  if (issues.length > 0) return { issues };
  const broken = rules(out).map((i) => ({ path: formatPath([...path, ...i.path]), message: i.message }));
  return broken.length > 0 ? { issues: broken } : { value: out, issues: [] };
}

/** A cluster spec as the schema KdClusterSpec parses it, or its issues (paths from `path`). */
export function checkClusterSpec(
  value: unknown,
  path: Path = [],
): { value: KdClusterSpec; issues: [] } | { issues: FieldIssue[] } {
  return checked(clusterSpecShape, clusterSpecIssues, value, path);
}

/** An app spec as the schema KdAppSpec parses it (defaults filled in), or its issues. */
export function checkAppSpec(
  value: unknown,
  path: Path = [],
): { value: KdAppSpec; issues: [] } | { issues: FieldIssue[] } {
  return checked(appSpecShape, appSpecIssues, value, path);
}

/**
 * Every rule a new cluster workflow's input must pass, and the input as parsed (defaults filled in):
 * the workflow runs on this, never on the raw input, so a cluster started by hand with only the
 * required fields works. Agrees with `validateClusterInput` (validate.ts, zod), the edges' check.
 */
export function parseClusterInput(input: unknown): { input: ClusterInput; issues: [] } | { issues: FieldIssue[] } {
  if (!isObject(input))
    return {
      issues: [
        { path: '', message: 'the cluster input must be an object with namespace, name, appName, app and spec' },
      ],
    };
  const issues: FieldIssue[] = [];
  const names = { namespace: '', name: '', appName: '' };
  for (const field of ['namespace', 'name', 'appName'] as const)
    names[field] = (field === 'name' ? clusterName : dnsLabel)(field)(input[field], [field], issues);
  const app = checkAppSpec(input.app, ['app']);
  const spec = checkClusterSpec(input.spec, ['spec']);
  issues.push(...app.issues, ...spec.issues);
  if (issues.length > 0 || !('value' in app) || !('value' in spec)) return { issues };
  const parsed: ClusterInput = { ...names, app: app.value, spec: spec.value };
  const appIssues = clusterIssues(parsed.name, parsed.spec, parsed.app, parsed.appName).map((i) => ({
    ...i,
    path: `spec.${i.path}`,
  }));
  return appIssues.length > 0 ? { issues: appIssues } : { input: parsed, issues: [] };
}

/** `checkChange` (validate.ts) without zod: what the workflow runs on a change it is sent. */
export function checkSpecChange(
  clusterName: string,
  current: KdClusterSpec,
  next: unknown,
  app: KdAppSpec,
): { spec: KdClusterSpec; issues: [] } | { issues: FieldIssue[] } {
  const parsed = checkClusterSpec(next, ['spec']);
  if (!('value' in parsed)) return parsed;
  const issues = specChangeIssues(clusterName, current, parsed.value, app);
  return issues.length > 0 ? { issues } : { spec: parsed.value, issues: [] };
}
