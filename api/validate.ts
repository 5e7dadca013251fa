import type { z } from 'zod';
import { KdAppSpec } from './app.ts';
import { cardinalityViolation, parseCardinality } from './cardinality.ts';
import { KdClusterSpec, MAX_MEMBERS } from './cluster.ts';
import { dnsLabel } from './common.ts';
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
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '');
}

export function formatIssues(issues: FieldIssue[], source?: string): string {
  const prefix = source ? `${source}: ` : '';
  return issues.map((i) => `${prefix}${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n');
}

export function zodIssues(error: z.ZodError, basePath: PropertyKey[] = []): FieldIssue[] {
  return error.issues.map((issue) => ({ path: formatPath([...basePath, ...issue.path]), message: issue.message }));
}

/** Parse with a schema, or throw a ValidationError whose issues name the fields. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, source?: string, basePath: PropertyKey[] = []): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(zodIssues(result.error, basePath), source);
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
export function clusterIssues(clusterName: string, spec: KdClusterSpec, app: KdAppSpec, appName?: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (appName !== undefined && spec.app !== appName) issues.push({ path: 'app', message: `cluster names app "${spec.app}" but was given app "${appName}"` });
  spec.roles.forEach((role, i) => {
    if (!app.roles.some((r) => r.id === role.id)) {
      issues.push({ path: `roles[${i}].id`, message: `unknown role "${role.id}"; app "${spec.app}" has ${app.roles.map((r) => `"${r.id}"`).join(', ')}` });
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
      if (longest.length > 63) issues.push({ path: index >= 0 ? `roles[${index}].id` : 'roles', message: `member name "${longest}" is longer than 63 characters; shorten the cluster name` });
    }
  }
  if (total > MAX_MEMBERS) issues.push({ path: 'roles', message: `a cluster may have at most ${MAX_MEMBERS} members, got ${total}` });
  return issues;
}

/** Rules for changing a live cluster: the app is fixed, and a role with members changes only its count. */
export function changeIssues(current: KdClusterSpec, next: KdClusterSpec, app: KdAppSpec): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const live = desiredMembers(current, app);
  if (current.app !== next.app) issues.push({ path: 'app', message: `app is immutable (was "${current.app}", got "${next.app}")` });
  next.roles.forEach((role, i) => {
    const before = current.roles.find((r) => r.id === role.id);
    if (!before || (live.get(role.id) ?? 0) === 0) return;
    const { members: _a, ...restBefore } = before;
    const { members: _b, ...restNext } = role;
    if (stableJson(restBefore) !== stableJson(restNext)) {
      issues.push({ path: `roles[${i}]`, message: `role "${role.id}" has members, so only its members count may change` });
    }
  });
  return issues;
}

export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

/** A resize is a spec change: the listed roles get new member counts, roles not yet listed are added. */
export function resizedSpec(spec: KdClusterSpec, roles: Record<string, number>): KdClusterSpec {
  const next = { ...spec, roles: spec.roles.map((r) => (r.id in roles ? { ...r, members: roles[r.id] } : r)) };
  for (const [id, members] of Object.entries(roles)) if (!spec.roles.some((r) => r.id === id)) next.roles.push({ id, members });
  return next;
}

/** Every rule a change to a live cluster must pass: the schema, immutability, and the app's rules. */
export function checkChange(clusterName: string, current: KdClusterSpec, next: unknown, app: KdAppSpec): { spec: KdClusterSpec; issues: [] } | { issues: FieldIssue[] } {
  const parsed = KdClusterSpec.safeParse(next);
  if (!parsed.success) return { issues: zodIssues(parsed.error, ['spec']) };
  const issues = [...changeIssues(current, parsed.data, app), ...clusterIssues(clusterName, parsed.data, app)].map((i) => ({ ...i, path: `spec.${i.path}` }));
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
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { issues: [{ path: '', message: 'the cluster input must be an object with namespace, name, appName, app and spec' }] };
  const raw = input as Record<string, unknown>;
  const issues: FieldIssue[] = [];
  const names: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const field of ['namespace', 'name', 'appName'] as const) {
    const checked = dnsLabel(field).safeParse(raw[field]);
    if (checked.success) names[field] = checked.data;
    else issues.push(...zodIssues(checked.error, [field]));
  }
  const app = KdAppSpec.safeParse(raw.app);
  if (!app.success) issues.push(...zodIssues(app.error, ['app']));
  const spec = KdClusterSpec.safeParse(raw.spec);
  if (!spec.success) issues.push(...zodIssues(spec.error, ['spec']));
  if (issues.length > 0 || !app.success || !spec.success) return { issues };
  const parsed: ClusterInput = { namespace: names.namespace as string, name: names.name as string, appName: names.appName as string, app: app.data, spec: spec.data };
  const appIssues = clusterIssues(parsed.name, parsed.spec, parsed.app, parsed.appName).map((i) => ({ ...i, path: `spec.${i.path}` }));
  return appIssues.length > 0 ? { issues: appIssues } : { input: parsed, issues: [] };
}

export function clusterInputIssues(input: unknown): FieldIssue[] {
  return parseClusterInput(input).issues;
}
