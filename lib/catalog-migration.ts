/** Moving the catalog of one home directory, from before the catalog was shared, into it (docs/adr/0039). */
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CatalogRefusal, KdApp, ValidationError, parseOrThrow } from '../api/index.ts';

/**
 * The catalog before it was shared: `$KDFLOW_HOME/apps/<namespace>/<name>.json`. Its apps are put into
 * the shared catalog once (each as a version; a version already there with another spec is reported,
 * not overwritten), then the directory becomes `apps.migrated`, so this runs once per home.
 */
export async function migrateLocalCatalog(
  home: string,
  put: (namespace: string, app: KdApp) => Promise<unknown>,
): Promise<{ migrated: string[]; refused: string[] } | undefined> {
  const root = path.join(home, 'apps');
  const namespaces = await readdir(root).catch(() => undefined);
  if (!namespaces) return undefined;
  const migrated: string[] = [];
  const refused: string[] = [];
  for (const namespace of namespaces.sort()) {
    const files = await readdir(path.join(root, namespace)).catch(() => [] as string[]);
    for (const file of files.filter((f) => f.endsWith('.json')).sort()) {
      const where = path.join(root, namespace, file);
      try {
        const app = parseOrThrow(KdApp, JSON.parse(await readFile(where, 'utf8')), where);
        await put(namespace, app);
        migrated.push(`${namespace}/${app.metadata.name} ${app.spec.version}`);
      } catch (error) {
        if (
          !(error instanceof CatalogRefusal) &&
          !(error instanceof ValidationError) &&
          !(error instanceof SyntaxError)
        )
          throw error;
        refused.push(`${where}: ${(error as Error).message}`);
      }
    }
  }
  await mkdir(home, { recursive: true });
  await rename(root, path.join(home, 'apps.migrated'));
  await writeFile(
    path.join(home, 'apps.migrated', 'README'),
    'These apps were moved into the shared app catalog in Temporal (kdflow app list); this copy is no longer read.\n',
  );
  return { migrated, refused };
}
