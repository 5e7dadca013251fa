import { ValidationError } from '../../api/index.ts';
import { localPackageIssues } from '../../lib/package-url.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { readManifests } from '../files.ts';
import { printWarnings, renderTable } from '../render.ts';

export async function appCommand(ctx: CliContext, [verb]: string[], flags: { file?: string[] }): Promise<void> {
  if (verb === 'list') {
    const apps = await ctx.catalog.list(ctx.namespace);
    ctx.out(
      renderTable(
        ['NAME', 'LABEL', 'VERSION', 'ROLES'],
        apps.map((a) => [
          a.metadata.name,
          a.spec.label.name,
          a.spec.version,
          a.spec.roles.map((r) => `${r.id}(${r.cardinality})`).join(' '),
        ]),
      ),
    );
    return;
  }
  if (verb !== 'apply' && verb !== 'validate')
    throw new UsageError('usage: kdflow app apply|validate -f FILE, or kdflow app list');
  const manifests = await readManifests(flags.file);
  for (const m of manifests) {
    if (m.kind !== 'KdApp')
      throw new UsageError(`${m.source} holds a ${m.kind}; kdflow app takes KdApp or KubeDirectorApp manifests`);
    printWarnings(ctx, m);
    const packages = await localPackageIssues(m.value.spec);
    if (packages.length > 0) throw new ValidationError(packages, m.value.metadata.name);
    if (verb === 'apply') await ctx.catalog.put(m.value.metadata.namespace ?? ctx.namespace, m.value);
    ctx.out(`app/${m.value.metadata.name} ${verb === 'apply' ? 'applied' : 'is valid'}`);
  }
}
