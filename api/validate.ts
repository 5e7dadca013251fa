import type { z } from 'zod';
import { KdAppSpec } from './app.ts';
import { cardinalityViolation, parseCardinality } from './cardinality.ts';
import { KdClusterSpec, MAX_MEMBERS } from './cluster.ts';
import { ClusterName, dnsLabel } from './common.ts';
import { memberName } from './names.ts';
import type { ClusterInput } from './messages.ts';

export interface FieldIssue {
  path: string;
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
 * zod's issues as field issues that also name what the user wrote: `input` is what was parsed (the
 * schema's root), where each issue's value is looked up by its path. zod's own wording ("Invalid
 * option: expected one of …") becomes `got "reboot"; expected one of configure, addnodes, delnodes`;
 * a schema's own message gets `, got VALUE` unless it already quotes the value.
 */
export function zodIssues(error: z.ZodError, basePath: PropertyKey[], input: unknown): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath([...basePath, ...issue.path]),
    message: withValue(issue, valueAt(input, issue.path)),
  }));
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

const ZOD_WORDING = /^(Invalid input|Invalid option|Invalid string|Invalid|Too small|Too big)(: |$)/;
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

function withValue(issue: z.core.$ZodIssue, at: { found: boolean; value?: unknown }): string {
  // An unknown key is named by the message itself; the object it sits in is no help.
  if (issue.code === 'unrecognized_keys') return issue.message;
  if (!at.found && !('input' in issue)) return issue.message;
  const value = at.found ? at.value : issue.input;
  const got = value === undefined ? 'missing' : `got ${describeValue(value)}`;
  const zodWording = ZOD_WORDING.exec(issue.message);
  if (zodWording) {
    if (issue.code === 'invalid_value') {
      const shown = issue.values.map((v) => (typeof v === 'string' ? v : String(v)));
      return `${got}; expected ${shown.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${shown.join(', ')}`}`;
    }
    if (issue.code === 'invalid_union') return `${got}; ${unionExpectation(issue)}`;
    const rest = issue.message.slice(zodWording[0].length).replace(/, received \w+$/, '');
    return rest ? `${got}; ${rest}` : got;
  }
  // A schema's own message: it may quote the value already (duplicate role id "worker").
  if (value === undefined) return issue.message;
  if (typeof value === 'string' && issue.message.includes(JSON.stringify(value))) return issue.message;
  return `${issue.message}, ${got}`;
}

function unionExpectation(issue: z.core.$ZodIssueInvalidUnion): string {
  const types = issue.errors.flatMap((branch) =>
    branch.flatMap((i) => (i.code === 'invalid_type' && i.path.length === 0 ? [i.expected] : [])),
  );
  return types.length === issue.errors.length ? `expected ${types.join(' or ')}` : 'matches none of the accepted forms';
}

/** Parse with a schema, or throw a ValidationError whose issues name the fields and the values. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  source?: string,
  basePath: PropertyKey[] = [],
): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(zodIssues(result.error, basePath, input), source);
  return result.data;
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

/** Rules for changing a live cluster: the app is fixed, and a role with members changes only its count. */
export function changeIssues(current: KdClusterSpec, next: KdClusterSpec, app: KdAppSpec): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const live = desiredMembers(current, app);
  if (current.app !== next.app)
    issues.push({ path: 'app', message: `app is immutable (was "${current.app}", got "${next.app}")` });
  next.roles.forEach((role, i) => {
    const before = current.roles.find((r) => r.id === role.id);
    if (!before || (live.get(role.id) ?? 0) === 0) return;
    const { members: _a, ...restBefore } = before;
    const { members: _b, ...restNext } = role;
    if (stableJson(restBefore) !== stableJson(restNext)) {
      issues.push({
        path: `roles[${i}]`,
        message: `role "${role.id}" has members, so only its members count may change`,
      });
    }
  });
  return issues;
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

/** Every rule a change to a live cluster must pass: the schema, immutability, and the app's rules. */
export function checkChange(
  clusterName: string,
  current: KdClusterSpec,
  next: unknown,
  app: KdAppSpec,
): { spec: KdClusterSpec; issues: [] } | { issues: FieldIssue[] } {
  const parsed = KdClusterSpec.safeParse(next);
  if (!parsed.success) return { issues: zodIssues(parsed.error, ['spec'], next) };
  const issues = [...changeIssues(current, parsed.data, app), ...clusterIssues(clusterName, parsed.data, app)].map(
    (i) => ({ ...i, path: `spec.${i.path}` }),
  );
  return issues.length > 0 ? { issues } : { spec: parsed.data, issues: [] };
}

/** The app-level rules for a new cluster, with paths from the manifest's top. */
export function newClusterIssues(clusterName: string, spec: KdClusterSpec, app: KdAppSpec): FieldIssue[] {
  return clusterIssues(clusterName, spec, app).map((i) => ({ ...i, path: `spec.${i.path}` }));
}

/**
 * Every rule a new cluster workflow's input must pass, and the input as parsed (defaults filled in).
 * The CLI and the shim check before they start one; the workflow checks again and runs on the parsed
 * value, because anyone with access to Temporal can start it by hand with only the required fields.
 */
export function parseClusterInput(input: unknown): { input: ClusterInput; issues: [] } | { issues: FieldIssue[] } {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    return {
      issues: [
        { path: '', message: 'the cluster input must be an object with namespace, name, appName, app and spec' },
      ],
    };
  const raw = input as Record<string, unknown>;
  const issues: FieldIssue[] = [];
  const names: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const field of ['namespace', 'name', 'appName'] as const) {
    const checked = (field === 'name' ? ClusterName(field) : dnsLabel(field)).safeParse(raw[field]);
    if (checked.success) names[field] = checked.data;
    else issues.push(...zodIssues(checked.error, [field], raw[field]));
  }
  const app = KdAppSpec.safeParse(raw.app);
  if (!app.success) issues.push(...zodIssues(app.error, ['app'], raw.app));
  const spec = KdClusterSpec.safeParse(raw.spec);
  if (!spec.success) issues.push(...zodIssues(spec.error, ['spec'], raw.spec));
  if (issues.length > 0 || !app.success || !spec.success) return { issues };
  const parsed: ClusterInput = {
    namespace: names.namespace as string,
    name: names.name as string,
    appName: names.appName as string,
    app: app.data,
    spec: spec.data,
  };
  const appIssues = clusterIssues(parsed.name, parsed.spec, parsed.app, parsed.appName).map((i) => ({
    ...i,
    path: `spec.${i.path}`,
  }));
  return appIssues.length > 0 ? { issues: appIssues } : { input: parsed, issues: [] };
}

export function clusterInputIssues(input: unknown): FieldIssue[] {
  return parseClusterInput(input).issues;
}
