/**
 * Validation at the edges (CLI, shim, client helpers): the zod schemas, and their issues as field
 * issues that name the field and the value. The workflow sandbox does not load zod (docs/adr/0013):
 * it runs the light check of light-check.ts, which a test holds to the same verdicts as these.
 */
import type { z } from 'zod';
import { KdAppSpec } from './app.ts';
import { KdClusterSpec } from './cluster.ts';
import { ClusterName, dnsLabel } from './common.ts';
import type { ClusterInput } from './messages.ts';
import {
  ValidationError,
  clusterIssues,
  describeValue,
  formatPath,
  specChangeIssues,
  valueAt,
  type FieldIssue,
} from './rules.ts';

/**
 * zod's issues as field issues that also name what the user wrote: `input` is what was parsed (the
 * schema's root), where each issue's value is looked up by its path. zod's own wording ("Invalid
 * option: expected one of …") becomes `got "reboot"; expected one of configure, addnodes, …`;
 * a schema's own message gets `, got VALUE` unless it already quotes the value.
 */
export function zodIssues(error: z.ZodError, basePath: PropertyKey[], input: unknown): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath([...basePath, ...issue.path]),
    message: withValue(issue, valueAt(input, issue.path)),
  }));
}

const ZOD_WORDING = /^(Invalid input|Invalid option|Invalid string|Invalid|Too small|Too big)(: |$)/;
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

/** Every rule a change to a live cluster must pass: the schema, immutability, and the app's rules. */
export function checkChange(
  clusterName: string,
  current: KdClusterSpec,
  next: unknown,
  app: KdAppSpec,
): { spec: KdClusterSpec; issues: [] } | { issues: FieldIssue[] } {
  const parsed = KdClusterSpec.safeParse(next);
  if (!parsed.success) return { issues: zodIssues(parsed.error, ['spec'], next) };
  const issues = specChangeIssues(clusterName, current, parsed.data, app);
  return issues.length > 0 ? { issues } : { spec: parsed.data, issues: [] };
}

/**
 * Every rule a new cluster workflow's input must pass, and the input as parsed (defaults filled in),
 * with zod: what the edges check before they start one. The workflow checks again with the light
 * check (light-check.ts `parseClusterInput`), which must agree with this on every input.
 */
export function validateClusterInput(input: unknown): { input: ClusterInput; issues: [] } | { issues: FieldIssue[] } {
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
  return validateClusterInput(input).issues;
}
