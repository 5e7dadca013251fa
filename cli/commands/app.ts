import { specQuery } from '../../api/messages.ts';
// zod-free imports: list, get and delete load no schema (ADR 0036); apply and validate load the manifest reader.
import type { KdApp } from '../../api/app.ts';
import { CatalogRefusal } from '../../api/catalog.ts';
import { ValidationError } from '../../api/rules.ts';
import type { Manifest } from '../../api/manifest.ts';
import { localPackageIssues } from '../../lib/package-url.ts';
import type { CliContext } from '../context.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { printWarnings, renderTable } from '../render.ts';

const USAGE =
  'usage: kdflow app apply|validate -f FILE, kdflow app list, kdflow app get NAME [--version V], kdflow app delete NAME --version V';

export async function appCommand(
  ctx: CliContext,
  [verb, name, ...rest]: string[],
  flags: { file?: string[]; version?: string; output?: string },
): Promise<void> {
  if (rest.length > 0) throw new UsageError(USAGE);
  if (verb === 'list') return listApps(ctx, name);
  if (verb === 'get') return getApp(ctx, name, flags.version, flags.output);
  if (verb === 'delete') return deleteApp(ctx, name, flags.version);
  if (verb !== 'apply' && verb !== 'validate') throw new UsageError(USAGE);
  if (name !== undefined) throw new UsageError(`kdflow app ${verb} takes -f FILE, not a name (${name}); ${USAGE}`);
  const { readManifests } = await import('../files.ts');
  const manifests = await readManifests(flags.file);
  for (const m of manifests) {
    if (m.kind !== 'KdApp')
      throw new UsageError(`${m.source} holds a ${m.kind}; kdflow app takes KdApp or KubeDirectorApp manifests`);
    if (verb === 'apply') await applyApp(ctx, m);
    else {
      printWarnings(ctx, m);
      const packages = await localPackageIssues(m.value.spec);
      if (packages.length > 0) throw new ValidationError(packages, m.value.metadata.name);
      ctx.out(`app/${m.value.metadata.name} is valid`);
    }
  }
}

/**
 * Adds the manifest's version to the shared catalog (docs/adr/0039): http(s) packages are pinned to
 * their sha256 first (lib/package-pin.ts), so the version means those bytes wherever it is installed.
 */
export async function applyApp(ctx: CliContext, m: Extract<Manifest, { kind: 'KdApp' }>): Promise<void> {
  printWarnings(ctx, m);
  const name = m.value.metadata.name;
  const namespace = m.value.metadata.namespace ?? ctx.namespace;
  const packages = await localPackageIssues(m.value.spec);
  if (packages.length > 0) throw new ValidationError(packages, name);
  const known = await ctx.catalog.find(namespace, name, m.value.spec.version);
  const { pinPackages } = await import('../../lib/package-pin.ts');
  let pinned: Awaited<ReturnType<typeof pinPackages>>;
  try {
    pinned = await pinPackages(m.value.spec, 'snapshot' in known ? known.snapshot.app : undefined);
  } catch (error) {
    if (error instanceof ValidationError) throw new ValidationError(error.issues, name);
    throw error;
  }
  for (const pin of pinned.pinned) ctx.out(`app/${name}: ${pin.path}: pinned ${pin.url} at sha256 ${pin.sha256}`);
  const app: KdApp = { ...m.value, spec: pinned.app };
  let result;
  try {
    result = await ctx.catalog.put(namespace, app);
  } catch (error) {
    if (error instanceof CatalogRefusal)
      throw new ValidationError(
        [
          {
            path: error.type === 'AppVersionConflict' ? 'spec.version' : error.type === 'CatalogFull' ? '' : 'spec',
            message: error.message,
          },
        ],
        name,
      );
    throw error;
  }
  const version = result.version;
  const others = result.versions.length > 1 ? `; versions ${result.versions.join(', ')}` : '';
  if (result.outcome === 'added')
    ctx.out(
      `app/${name} applied: version ${version} added, current${result.previous ? ` (was ${result.previous})` : ''}${others}`,
    );
  else if (result.outcome === 'current again')
    ctx.out(`app/${name} applied: version ${version} unchanged, current again (was ${result.previous})${others}`);
  else ctx.out(`app/${name} applied: version ${version} unchanged${others}`);
}

async function listApps(ctx: CliContext, name: string | undefined): Promise<void> {
  const apps = (await ctx.catalog.list(ctx.namespace)).filter((a) => name === undefined || a.name === name);
  if (name !== undefined && apps.length === 0)
    throw new NotFoundError(`app "${name}" is not in the catalog of namespace ${ctx.namespace}`);
  ctx.out(
    renderTable(
      ['NAME', 'VERSION', 'CURRENT', 'LABEL', 'ROLES'],
      apps.flatMap((a) =>
        a.versions.map((v) => [a.name, v.version, v.version === a.current ? '*' : '', v.label, v.roles.join(' ')]),
      ),
    ),
  );
}

async function getApp(
  ctx: CliContext,
  name: string | undefined,
  version: string | undefined,
  output?: string,
): Promise<void> {
  if (!name) throw new UsageError(`kdflow app get needs an app name; ${USAGE}`);
  const answer = await ctx.catalog.find(ctx.namespace, name, version);
  if (!('snapshot' in answer)) throw new NotFoundError(notFound(ctx, name, version, answer));
  const { snapshot } = answer;
  const manifest = {
    apiVersion: 'kdflow.dev/v1beta1',
    kind: 'KdApp',
    metadata: { name: snapshot.name, namespace: ctx.namespace },
    spec: snapshot.app,
  };
  if (output === 'json') {
    ctx.out(JSON.stringify(manifest, null, 2));
    return;
  }
  const { stringify } = await import('yaml');
  ctx.out(`# version ${snapshot.version}${snapshot.current ? ' (current)' : ''}, applied ${snapshot.appliedAt}`);
  ctx.out(stringify(manifest).trimEnd());
}

/** A version goes only when no running cluster was created with it (or moved to it); the refusal names them. */
async function deleteApp(ctx: CliContext, name: string | undefined, version: string | undefined): Promise<void> {
  if (!name) throw new UsageError(`kdflow app delete needs an app name; ${USAGE}`);
  if (version === undefined)
    throw new UsageError(`kdflow app delete ${name} needs --version V (one version at a time); ${USAGE}`);
  const answer = await ctx.catalog.find(ctx.namespace, name, version);
  if (!('snapshot' in answer)) throw new NotFoundError(notFound(ctx, name, version, answer));
  const pinning: string[] = [];
  for (const cluster of await ctx.runningClusters()) {
    const view = await cluster.handle.query(specQuery);
    if (view.appName === name && view.app.version === version)
      pinning.push(cluster.run.workflowId.slice(cluster.run.workflowId.indexOf('/') + 1));
  }
  if (pinning.length > 0)
    throw new ValidationError(
      [
        {
          path: '--version',
          message: `version ${version} of app ${name} is in use by cluster(s) ${pinning.join(', ')} in namespace ${ctx.namespace}; delete them (or move them to another version) first`,
        },
      ],
      `app/${name}`,
    );
  const result = await ctx.catalog.delete(ctx.namespace, name, version).catch((error: unknown) => {
    if (error instanceof CatalogRefusal) throw new NotFoundError(error.message);
    throw error;
  });
  ctx.out(
    result.current === undefined
      ? `app/${name} version ${version} deleted; it was the app's last version`
      : `app/${name} version ${version} deleted; current ${result.current}, versions ${result.versions.join(', ')}`,
  );
}

function notFound(
  ctx: CliContext,
  name: string,
  version: string | undefined,
  answer: { versions: string[]; current?: string },
): string {
  if (answer.versions.length === 0)
    return `app "${name}" is not in the catalog of namespace ${ctx.namespace}; apply it first with: kdflow app apply -f FILE`;
  return `app "${name}" has no version "${version}" in namespace ${ctx.namespace}; its versions: ${answer.versions.join(', ')} (current ${answer.current})`;
}
