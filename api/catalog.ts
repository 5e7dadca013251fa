/**
 * The shared app catalog of one namespace (docs/adr/0039): every version of every app, kept by one
 * catalog workflow per namespace in Temporal, so every CLI, worker and shim sees the same catalog.
 * Pure and zod-free: the catalog workflow runs this in the sandbox, the CLI and tests call it too.
 */
import type { KdAppSpec } from './app.ts';
import { DNS_LABEL_MAX, dnsLabelPattern } from './fields.ts';
import { checkAppSpec } from './light-check.ts';
import { describeValue, formatIssues, formatPath, stableJson } from './rules.ts';

/** One version of an app: the spec as parsed (defaults filled in), never package bytes (only URLs and digests). */
export interface CatalogVersion {
  version: string;
  app: KdAppSpec;
  /** Workflow time of the apply that added it. */
  appliedAt: string;
}

export interface CatalogApp {
  name: string;
  /** The version a new cluster gets: the one applied (or applied again) last. */
  current: string;
  /** In the order they were added. */
  versions: CatalogVersion[];
}

/** The catalog workflow's whole state, carried across continue-as-new: apps sorted by name. */
export interface CatalogState {
  apps: CatalogApp[];
}

/** What a cluster is created from, and what an upgrade resolves: one version of one app. */
export interface AppSnapshot {
  name: string;
  version: string;
  app: KdAppSpec;
  /** Whether this is the version a new cluster gets. */
  current: boolean;
  appliedAt: string;
}

/** One line of `kdflow app list`: no specs, so the answer stays small. */
export interface CatalogListing {
  name: string;
  current: string;
  versions: { version: string; label: string; roles: string[]; appliedAt: string }[];
}

export interface PutAppRequest {
  name: string;
  app: KdAppSpec;
}

export type PutOutcome = 'added' | 'unchanged' | 'current again';

export interface PutAppResult {
  outcome: PutOutcome;
  version: string;
  /** The current version before this apply. */
  previous?: string;
  versions: string[];
}

export interface DeleteAppVersionRequest {
  name: string;
  version: string;
}

export interface DeleteAppVersionResult {
  /** The app's current version after the delete; absent when its last version went. */
  current?: string;
  versions: string[];
}

export interface AppVersionRequest {
  name: string;
  /** Absent: the current version. */
  version?: string;
}

/** Found, or what there is instead: the versions of that app (none when the app is unknown). */
export type AppVersionAnswer = { snapshot: AppSnapshot } | { versions: string[]; current?: string };

/**
 * The catalog's state is the catalog workflow's input after continue-as-new and its query answers:
 * bounded in bytes, well under Temporal's 2 MiB payload limit. Versions no cluster pins can be deleted.
 */
export const CATALOG_MAX_BYTES = 1024 * 1024;

export const CATALOG_WORKFLOW_PREFIX = 'kdcatalog:';

export function catalogWorkflowId(namespace: string): string {
  return `${CATALOG_WORKFLOW_PREFIX}${namespace}`;
}

export const emptyCatalog = (): CatalogState => ({ apps: [] });

/** Why a put or delete is refused: the message a user reads, naming the app, version and field. */
export class CatalogRefusal extends Error {
  override readonly name = 'CatalogRefusal';
  readonly type: 'AppVersionConflict' | 'UnknownAppVersion' | 'CatalogFull' | 'InvalidApp';
  constructor(type: CatalogRefusal['type'], message: string) {
    super(message);
    this.type = type;
  }
}

const versionsOf = (app: CatalogApp) => app.versions.map((v) => v.version);

/**
 * The first field where two app specs differ, with both values, such as
 * `spec.roles[0].configPackage.sha256: "ab…" in the catalog, "cd…" applied`; undefined when they are equal.
 */
export function specDifference(
  stored: unknown,
  applied: unknown,
  path: (string | number)[] = ['spec'],
): string | undefined {
  if (stableJson(stored) === stableJson(applied)) return undefined;
  const bothObjects = stored !== null && applied !== null && typeof stored === 'object' && typeof applied === 'object';
  if (bothObjects && Array.isArray(stored) === Array.isArray(applied)) {
    if (Array.isArray(stored) && Array.isArray(applied) && stored.length !== applied.length)
      return `${formatPath(path)}: ${stored.length} item(s) in the catalog, ${applied.length} applied`;
    const a = stored as Record<string, unknown>;
    const b = applied as Record<string, unknown>;
    const keys = Array.isArray(stored)
      ? stored.map((_, i) => i)
      : [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const key of keys) {
      const inner = specDifference(
        Object.hasOwn(a, key) ? a[key] : undefined,
        Object.hasOwn(b, key) ? b[key] : undefined,
        [...path, key],
      );
      if (inner) return inner;
    }
  }
  return `${formatPath(path)}: ${shown(stored)} in the catalog, ${shown(applied)} applied`;
}

/** Digests and URLs whole (they are what differs); anything long, as describeValue cuts it. */
const shown = (value: unknown) =>
  typeof value === 'string' && value.length <= 200 ? JSON.stringify(value) : describeValue(value);

/**
 * Adds a version, or makes an identical one current again. A different spec under a version that is
 * there is refused, naming the field that differs: a version means one spec, so a cluster pinned to it
 * (and a rollback to it) always gets what it was created with.
 */
export function putAppVersion(
  state: CatalogState,
  request: PutAppRequest,
  now: string,
): { state: CatalogState; result: PutAppResult } {
  const { name, app } = request;
  const version = app.version;
  const existing = state.apps.find((a) => a.name === name);
  const stored = existing?.versions.find((v) => v.version === version);
  if (existing && stored) {
    const difference = specDifference(stored.app, app);
    if (difference)
      throw new CatalogRefusal(
        'AppVersionConflict',
        `app ${name} version ${version} is already in the catalog with another spec (${difference}); a version means one spec: give the changed app a new spec.version (versions there: ${versionsOf(existing).join(', ')})`,
      );
    const result: PutAppResult = {
      outcome: existing.current === version ? 'unchanged' : 'current again',
      version,
      previous: existing.current,
      versions: versionsOf(existing),
    };
    if (existing.current === version) return { state, result };
    return { state: replaceApp(state, { ...existing, current: version }), result };
  }
  const entry: CatalogVersion = { version, app, appliedAt: now };
  const next: CatalogApp = existing
    ? { ...existing, current: version, versions: [...existing.versions, entry] }
    : { name, current: version, versions: [entry] };
  const after = replaceApp(state, next);
  const bytes = stableJson(after).length;
  if (bytes > CATALOG_MAX_BYTES)
    throw new CatalogRefusal(
      'CatalogFull',
      `app ${name} version ${version} would make the catalog ${bytes} bytes, over its limit of ${CATALOG_MAX_BYTES}; delete versions no cluster uses (kdflow app delete NAME --version V)`,
    );
  return {
    state: after,
    result: {
      outcome: 'added',
      version,
      ...(existing ? { previous: existing.current } : {}),
      versions: versionsOf(next),
    },
  };
}

/** Removes one version; when it was current, the version added last of those left becomes current. */
export function deleteAppVersion(
  state: CatalogState,
  request: DeleteAppVersionRequest,
): { state: CatalogState; result: DeleteAppVersionResult } {
  const existing = state.apps.find((a) => a.name === request.name);
  if (!existing || !existing.versions.some((v) => v.version === request.version))
    throw new CatalogRefusal('UnknownAppVersion', unknownVersionMessage(request, existing));
  const versions = existing.versions.filter((v) => v.version !== request.version);
  const last = versions.at(-1);
  if (!last) return { state: { apps: state.apps.filter((a) => a.name !== request.name) }, result: { versions: [] } };
  const current = existing.current === request.version ? last.version : existing.current;
  return {
    state: replaceApp(state, { ...existing, current, versions }),
    result: { current, versions: versions.map((v) => v.version) },
  };
}

export function listCatalog(state: CatalogState): CatalogListing[] {
  return state.apps.map((a) => ({
    name: a.name,
    current: a.current,
    versions: a.versions.map((v) => ({
      version: v.version,
      label: v.app.label.name,
      roles: v.app.roles.map((r) => `${r.id}(${r.cardinality})`),
      appliedAt: v.appliedAt,
    })),
  }));
}

export function findAppVersion(state: CatalogState, request: AppVersionRequest): AppVersionAnswer {
  const app = state.apps.find((a) => a.name === request.name);
  if (!app) return { versions: [] };
  const version = request.version ?? app.current;
  const found = app.versions.find((v) => v.version === version);
  if (!found) return { versions: versionsOf(app), current: app.current };
  return {
    snapshot: {
      name: app.name,
      version: found.version,
      app: found.app,
      current: found.version === app.current,
      appliedAt: found.appliedAt,
    },
  };
}

/** "unknown app …" or "app … has no version …", saying what there is. */
export function unknownVersionMessage(
  request: AppVersionRequest,
  app: Pick<CatalogApp, 'current' | 'versions'> | { versions: string[]; current?: string } | undefined,
  namespace?: string,
): string {
  const where = namespace ? ` in namespace "${namespace}"` : '';
  const versions = (app?.versions ?? []).map((v) => (typeof v === 'string' ? v : v.version));
  if (versions.length === 0)
    return `unknown app "${request.name}"${where}; apply it first with: kdflow app apply -f FILE`;
  return `app "${request.name}"${where} has no version "${request.version}"; its versions: ${versions.join(', ')} (current ${app?.current})`;
}

/** A put as a client sent it, checked as `kdflow app apply` checks it (anyone with access to Temporal can send one). */
export function parsePutRequest(raw: unknown): PutAppRequest {
  const request = (raw ?? {}) as { name?: unknown; app?: unknown };
  const name = checkedName(request.name, 'metadata.name');
  const app = checkAppSpec(request.app, ['spec']);
  if (!('value' in app)) throw new CatalogRefusal('InvalidApp', `app ${name}: ${formatIssues(app.issues)}`);
  return { name, app: app.value };
}

export function parseDeleteRequest(raw: unknown): DeleteAppVersionRequest {
  const request = (raw ?? {}) as { name?: unknown; version?: unknown };
  const name = checkedName(request.name, 'name');
  if (typeof request.version !== 'string' || request.version === '')
    throw new CatalogRefusal(
      'InvalidApp',
      `version: got ${describeValue(request.version)}; expected a version of app ${name}`,
    );
  return { name, version: request.version };
}

function checkedName(value: unknown, what: string): string {
  const pattern = dnsLabelPattern(what);
  if (typeof value !== 'string' || value.length > DNS_LABEL_MAX || !pattern.regex.test(value))
    throw new CatalogRefusal('InvalidApp', `${pattern.message}, got ${describeValue(value)}`);
  return value;
}

function replaceApp(state: CatalogState, app: CatalogApp): CatalogState {
  const apps = [...state.apps.filter((a) => a.name !== app.name), app];
  return { apps: apps.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
}
