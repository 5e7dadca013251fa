/**
 * The api's rules that need no schema: issues and how they read, the cross-field rules of an app
 * and a cluster spec, the rules between a cluster and its app, and the changes a live cluster
 * accepts. zod-free, so the workflow sandbox shares one copy (docs/adr/0013); the zod schemas run
 * the same rules (their superRefine calls appSpecIssues and clusterSpecIssues), so no rule is
 * written twice.
 */
import type { ActionParam, AppRole, ConfigPackage, KdAppSpec } from './app.ts';
import { cardinalityViolation, parseCardinality } from './cardinality.ts';
import type { KdClusterSpec } from './cluster.ts';
import type { EventName } from './common.ts';
import { ACTION_PARAM_VALUE_MAX, DEFAULT_EVENTS, EVENTS, MAX_MEMBERS, oversize } from './fields.ts';
import { hookSpecIssues } from './hooks.ts';
import { kubeDirectorRefusals } from './kubedirector-fields.ts';
import { quantityValue } from './configmeta.ts';
import { dnsName, memberName } from './names.ts';

export interface FieldIssue {
  path: string;
  message: string;
}

/** An issue a schema's own rule finds, at a path from the schema's root. */
export interface RuleIssue {
  path: (string | number)[];
  message: string;
}

/** A spec that breaks a rule; every issue names its field. Shared by the CLI, the shim and the workflow. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  readonly issues: FieldIssue[];
  readonly source: string | undefined;
  constructor(issues: FieldIssue[], source?: string) {
    super(formatIssues(issues, source));
    this.issues = issues;
    this.source = source;
  }
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    '',
  );
}

export function formatIssues(issues: FieldIssue[], source?: string): string {
  const prefix = source ? `${source}: ` : '';
  return issues.map((i) => `${prefix}${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n');
}

/**
 * The value at a path, own properties only (a segment such as "constructor" finds nothing inherited).
 * A key missing from an object that is there is found, as undefined: the field was left out.
 */
export function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): { found: boolean; value?: unknown } {
  let at: unknown = root;
  for (const [i, key] of path.entries()) {
    if (at === null || typeof at !== 'object' || typeof key === 'symbol') return { found: false };
    if (!Object.hasOwn(at, key)) return i === path.length - 1 ? { found: true, value: undefined } : { found: false };
    at = (at as Record<string, unknown>)[key];
  }
  return { found: true, value: at };
}

const MAX_SHOWN = 40;

/** A value as a user would recognise it, short: strings quoted (escapes visible), long ones cut with their length. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') {
    const quoted = JSON.stringify(value);
    return quoted.length <= MAX_SHOWN
      ? quoted
      : `${JSON.stringify(value.slice(0, MAX_SHOWN - 8)).slice(0, -1)}…" (${value.length} characters)`;
  }
  if (typeof value !== 'object' || value === null) return String(value);
  const json = safeJson(value);
  if (json !== undefined && json.length <= MAX_SHOWN) return json;
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  const keys = Object.keys(value);
  return `an object with ${keys.length === 0 ? 'no keys' : `keys ${keys.slice(0, 4).join(', ')}${keys.length > 4 ? ', …' : ''}`}`;
}

function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/** Rules of an app spec across its fields: unique role and service ids, images, known references, KubeDirector fields refused, size. */
export function appSpecIssues(spec: KdAppSpec): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const roleIds = new Set<string>();
  const memberRoleNames = new Map<string, string>();
  spec.roles.forEach((role, i) => {
    if (roleIds.has(role.id)) issues.push({ path: ['roles', i, 'id'], message: `duplicate role id "${role.id}"` });
    roleIds.add(role.id);
    // Member names use the DNS-safe form, so "a_b", "a.b", "A-b" and "a-b" would name the same pods.
    const asName = dnsName(role.id);
    const clash = memberRoleNames.get(asName);
    if (clash && clash !== role.id)
      issues.push({
        path: ['roles', i, 'id'],
        message: `role id "${role.id}" gives the same member names (${asName}) as role "${clash}"; rename one of them`,
      });
    memberRoleNames.set(asName, role.id);
    if (!role.imageRepoTag && !spec.defaultImageRepoTag)
      issues.push({
        path: ['roles', i, 'imageRepoTag'],
        message: `role "${role.id}" has no imageRepoTag and the app has no defaultImageRepoTag`,
      });
  });
  const services = spec.services ?? [];
  const serviceIds = new Set(services.map((s) => s.id));
  services.forEach((s, i) => {
    if (services.findIndex((o) => o.id === s.id) !== i)
      issues.push({ path: ['services', i, 'id'], message: `duplicate service id "${s.id}"` });
  });
  spec.config?.roleServices?.forEach((rs, i) => {
    if (!roleIds.has(rs.roleID))
      issues.push({ path: ['config', 'roleServices', i, 'roleID'], message: `unknown role "${rs.roleID}"` });
    rs.serviceIDs.forEach((sid, j) => {
      if (!serviceIds.has(sid))
        issues.push({ path: ['config', 'roleServices', i, 'serviceIDs', j], message: `unknown service "${sid}"` });
    });
  });
  spec.config?.selectedRoles?.forEach((r, i) => {
    if (!roleIds.has(r)) issues.push({ path: ['config', 'selectedRoles', i], message: `unknown role "${r}"` });
  });
  const roleOrder = spec.upgrade?.roleOrder ?? [];
  roleOrder.forEach((r, i) => {
    const at = ['upgrade', 'roleOrder', i];
    if (!roleIds.has(r)) issues.push({ path: at, message: `unknown role "${r}"` });
    else if (roleOrder.indexOf(r) !== i) issues.push({ path: at, message: `role "${r}" is listed twice` });
  });
  issues.push(...actionSpecIssues(spec));
  issues.push(...hookSpecIssues(spec));
  issues.push(...kubeDirectorRefusals('app', spec));
  const big = oversize(spec, 'the app spec');
  if (big) issues.push(big);
  return issues;
}

/** Rules of a cluster spec across its fields: unique role ids, unique env names per role, KubeDirector fields refused, size. */
export function clusterSpecIssues(spec: KdClusterSpec): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const seen = new Set<string>();
  spec.roles.forEach((role, i) => {
    if (seen.has(role.id)) issues.push({ path: ['roles', i, 'id'], message: `duplicate role id "${role.id}"` });
    seen.add(role.id);
    const names = new Set<string>();
    role.env?.forEach((env, j) => {
      if (names.has(env.name))
        issues.push({ path: ['roles', i, 'env', j, 'name'], message: `duplicate env name "${env.name}"` });
      names.add(env.name);
    });
  });
  issues.push(...kubeDirectorRefusals('cluster', spec));
  const big = oversize(spec, 'the cluster spec');
  if (big) issues.push(big);
  return issues;
}

/** A service endpoint a role's members expose, as the app declares it. */
export interface RoleService {
  id: string;
  port: number;
  urlScheme?: string;
}

/** The app's services with an endpoint that `config.roleServices` gives this role. */
export function roleServices(app: KdAppSpec, roleId: string): RoleService[] {
  const ids = new Set(
    (app.config?.roleServices ?? []).filter((rs) => rs.roleID === roleId).flatMap((rs) => rs.serviceIDs),
  );
  return (app.services ?? []).flatMap((s) =>
    ids.has(s.id) && s.endpoint
      ? [{ id: s.id, port: s.endpoint.port, ...(s.endpoint.urlScheme ? { urlScheme: s.endpoint.urlScheme } : {}) }]
      : [],
  );
}

/** The settings of one role after the app's defaults are applied. */
export interface EffectiveRole {
  id: AppRole['id'];
  cardinality: string;
  image: string;
  configPackage: ConfigPackage;
  persistDirs: string[];
  events: EventName[];
}

export function effectiveRole(app: KdAppSpec, roleId: string): EffectiveRole | undefined {
  const role = app.roles.find((r) => r.id === roleId);
  if (!role) return undefined;
  return {
    id: role.id,
    cardinality: role.cardinality,
    image: role.imageRepoTag ?? app.defaultImageRepoTag ?? '',
    configPackage: role.configPackage !== undefined ? role.configPackage : (app.defaultConfigPackage ?? null),
    persistDirs: role.persistDirs ?? app.defaultPersistDirs ?? [],
    // An absent eventList means KubeDirector's events; kdflow's rolling events are asked for by name.
    events: role.eventList ?? app.defaultEventList ?? [...DEFAULT_EVENTS],
  };
}

/** The member count each app role ends up with: the spec's, or N of the cardinality when absent. */
export function desiredMembers(spec: KdClusterSpec, app: KdAppSpec): Map<string, number> {
  const counts = new Map<string, number>();
  for (const role of app.roles) {
    const listed = spec.roles.find((r) => r.id === role.id);
    counts.set(role.id, listed?.members ?? (listed ? (parseCardinality(role.cardinality)?.min ?? 0) : 0));
  }
  return counts;
}

/** Rules that need both the cluster and its app: known roles, cardinality, the member cap, name length. */
export function clusterIssues(
  clusterName: string,
  spec: KdClusterSpec,
  app: KdAppSpec,
  appName?: string,
): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (appName !== undefined && spec.app !== appName)
    issues.push({ path: 'app', message: `cluster names app "${spec.app}" but was given app "${appName}"` });
  spec.roles.forEach((role, i) => {
    if (!app.roles.some((r) => r.id === role.id)) {
      issues.push({
        path: `roles[${i}].id`,
        message: `unknown role "${role.id}"; app "${spec.app}" has ${app.roles.map((r) => `"${r.id}"`).join(', ')}`,
      });
    }
  });
  const counts = desiredMembers(spec, app);
  let total = 0;
  for (const appRole of app.roles) {
    const members = counts.get(appRole.id) ?? 0;
    total += members;
    const index = spec.roles.findIndex((r) => r.id === appRole.id);
    const violation = cardinalityViolation(appRole.id, appRole.cardinality, members);
    if (violation) issues.push({ path: index >= 0 ? `roles[${index}].members` : 'roles', message: violation });
    if (members > 0) {
      const longest = memberName(clusterName, appRole.id, members - 1);
      if (longest.length > 63)
        issues.push({
          path: index >= 0 ? `roles[${index}].id` : 'roles',
          message: `member name "${longest}" is longer than 63 characters; shorten the cluster name`,
        });
    }
  }
  if (total > MAX_MEMBERS)
    issues.push({ path: 'roles', message: `a cluster may have at most ${MAX_MEMBERS} members, got ${total}` });
  return issues;
}

/**
 * A new `appVersion` is an upgrade (docs/adr/0037), rolled out on its own: the rest of the spec must
 * be the running one, so that no member is launched on the old version while others move to the new.
 */
export function appVersionChangeIssues(current: KdClusterSpec, next: KdClusterSpec, app: KdAppSpec): FieldIssue[] {
  if (next.appVersion === undefined || next.appVersion === app.version) return [];
  const { appVersion: _a, ...restNext } = next;
  const { appVersion: _b, ...restCurrent } = current;
  const keys = [...new Set([...Object.keys(restNext), ...Object.keys(restCurrent)])].sort();
  const changed = keys.filter(
    (k) => stableJson(restNext[k as keyof typeof restNext]) !== stableJson(restCurrent[k as keyof typeof restCurrent]),
  );
  if (changed.length === 0) return [];
  return [
    {
      path: 'appVersion',
      message: `an upgrade (${app.version} → ${next.appVersion}) changes nothing else, and ${changed.join(', ')} changed too: apply those changes before or after the upgrade`,
    },
  ];
}

/** Rules for changing a live cluster: the app is fixed, and a role with members changes only its count. */
export function changeIssues(current: KdClusterSpec, next: KdClusterSpec, app: KdAppSpec): FieldIssue[] {
  const issues: FieldIssue[] = [...appVersionChangeIssues(current, next, app)];
  const live = desiredMembers(current, app);
  if (current.app !== next.app)
    issues.push({ path: 'app', message: `app is immutable (was "${current.app}", got "${next.app}")` });
  next.roles.forEach((role, i) => {
    const before = current.roles.find((r) => r.id === role.id);
    if (!before || (live.get(role.id) ?? 0) === 0) return;
    // env, pod labels and resources are rolled out to the members one at a time (a reconfigure, docs/adr/0037).
    const { members: _a, env: _c, podLabels: _d, resources: _e, ...restBefore } = before;
    const { members: _b, env: _f, podLabels: _g, resources: _h, ...restNext } = role;
    if (stableJson(restBefore) !== stableJson(restNext)) {
      issues.push({
        path: `roles[${i}]`,
        message: `role "${role.id}" has members, so only its members count, env, podLabels and resources may change`,
      });
    }
  });
  return issues;
}

/** The app-level and change rules of a new spec for a live cluster, with paths from the change's top. */
export function specChangeIssues(
  clusterName: string,
  current: KdClusterSpec,
  next: KdClusterSpec,
  app: KdAppSpec,
): FieldIssue[] {
  return [...changeIssues(current, next, app), ...clusterIssues(clusterName, next, app)].map((i) => ({
    ...i,
    path: `spec.${i.path}`,
  }));
}

export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

/**
 * A resize is a spec change: the listed roles get new member counts, roles not yet listed are added.
 * `roles` is a client's payload: only its own keys count (a role named "constructor" must not find
 * Object.prototype.constructor), and a "__proto__" key becomes a role id the schema then refuses.
 */
export function resizedSpec(spec: KdClusterSpec, roles: Readonly<Record<string, number>>): KdClusterSpec {
  const counts = new Map(Object.entries(roles));
  const next = { ...spec, roles: spec.roles.map((r) => (counts.has(r.id) ? { ...r, members: counts.get(r.id) } : r)) };
  for (const [id, members] of counts) if (!spec.roles.some((r) => r.id === id)) next.roles.push({ id, members });
  return next;
}

/** The app-level rules for a new cluster, with paths from the manifest's top. */
export function newClusterIssues(clusterName: string, spec: KdClusterSpec, app: KdAppSpec): FieldIssue[] {
  const version: FieldIssue[] =
    spec.appVersion !== undefined && spec.appVersion !== app.version
      ? [{ path: 'appVersion', message: `"${spec.appVersion}" is not the app snapshot's version "${app.version}"` }]
      : [];
  return [...version, ...clusterIssues(clusterName, spec, app), ...minStorageIssues(spec, app)].map((i) => ({
    ...i,
    path: `spec.${i.path}`,
  }));
}

/**
 * KubeDirector's minStorage: a role's storage must be at least the app's `size`; none at all only when
 * the app says `ephemeralModeSupported`. Checked when a cluster is made (a role with members cannot
 * change its storage afterwards).
 */
export function minStorageIssues(spec: KdClusterSpec, app: KdAppSpec): FieldIssue[] {
  return spec.roles.flatMap((role, i): FieldIssue[] => {
    const min = app.roles.find((r) => r.id === role.id)?.minStorage;
    if (!min) return [];
    if (!role.storage)
      return min.ephemeralModeSupported
        ? []
        : [
            {
              path: `roles[${i}].storage`,
              message: `role "${role.id}" needs storage of at least ${min.size} (the app's minStorage; it does not support ephemeral mode)`,
            },
          ];
    return quantityValue(role.storage.size) < quantityValue(min.size)
      ? [
          {
            path: `roles[${i}].storage.size`,
            message: `${role.storage.size} is less than the app's minStorage ${min.size} for role "${role.id}"`,
          },
        ]
      : [];
  });
}

/** Whether a cluster connects to anything: only then is there a digest to check and a --reconnect to send (docs/adr/0044). */
export function hasConnections(spec: Pick<KdClusterSpec, 'connections'>): boolean {
  const c = spec.connections;
  return Boolean(
    c && ((c.clusters?.length ?? 0) > 0 || (c.configmaps?.length ?? 0) > 0 || (c.secrets?.length ?? 0) > 0),
  );
}

/** Custom actions (docs/adr/0050): why a parameter value does not fit its declared type, or undefined when it does. */
export function paramProblem(param: ActionParam, value: string): string | undefined {
  if (value.length > ACTION_PARAM_VALUE_MAX) return `expected at most ${ACTION_PARAM_VALUE_MAX} characters`;
  // One argv word on one line: no control characters (a newline would split the script's own parsing).
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'expected no control characters (newline, tab, NUL)';
  switch (param.type) {
    case 'integer':
      return /^-?\d+$/.test(value) && Number.isSafeInteger(Number(value)) ? undefined : 'expected an integer';
    case 'number':
      return value.trim() !== '' && Number.isFinite(Number(value)) ? undefined : 'expected a number';
    case 'boolean':
      return value === 'true' || value === 'false' ? undefined : 'expected true or false';
    case 'enum': {
      const values = param.values ?? [];
      return values.includes(value) ? undefined : `expected one of ${values.join(', ')}`;
    }
    case 'string':
      return undefined;
  }
}

/** The app's own action declarations: what a KdApp with `actions` must get right (called by appSpecIssues). */
export function actionSpecIssues(app: KdAppSpec): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const roleIds = new Set(app.roles.map((r) => r.id));
  const actions = app.actions ?? [];
  actions.forEach((action, i) => {
    const at = ['actions', i];
    if (actions.findIndex((a) => a.name === action.name) !== i)
      issues.push({ path: [...at, 'name'], message: `duplicate action name "${action.name}"` });
    // An action's output files are named after it, beside the lifecycle events' files.
    if ((EVENTS as readonly string[]).includes(action.name))
      issues.push({ path: [...at, 'name'], message: `action name "${action.name}" is a lifecycle event's` });
    action.roles?.forEach((role, j) => {
      if (!roleIds.has(role)) issues.push({ path: [...at, 'roles', j], message: `unknown role "${role}"` });
    });
    const params = action.params ?? [];
    params.forEach((p, j) => {
      const pat = [...at, 'params', j];
      if (params.findIndex((o) => o.name === p.name) !== j)
        issues.push({ path: [...pat, 'name'], message: `duplicate parameter name "${p.name}"` });
      if (p.type === 'enum' && (p.values ?? []).length === 0)
        issues.push({ path: [...pat, 'values'], message: 'an enum parameter needs at least one value' });
      if (p.type !== 'enum' && p.values !== undefined)
        issues.push({ path: [...pat, 'values'], message: `values are for enum parameters, not ${p.type}` });
      const problem = p.default === undefined ? undefined : paramProblem(p, p.default);
      if (problem) issues.push({ path: [...pat, 'default'], message: `got ${describeValue(p.default)}; ${problem}` });
    });
  });
  return issues;
}
