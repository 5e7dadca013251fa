/**
 * Which app snapshot `kdflow upgrade NAME --to VERSION` goes to: the one function the CLI asks, so
 * that the shared catalog of several versions per app (issue 18) replaces only this. Today the
 * catalog ($KDFLOW_HOME/apps, lib/app-catalog.ts) keeps one version per app: the version asked for
 * must be the one it holds (apply the new version with `kdflow app apply` first).
 */
import { ValidationError, type AppSnapshot } from '../api/index.ts';
import type { CliContext } from './context.ts';

export async function resolveAppVersion(
  ctx: Pick<CliContext, 'catalog'>,
  namespace: string,
  appName: string,
  version: string,
): Promise<AppSnapshot> {
  const app = await ctx.catalog.get(namespace, appName);
  if (app.spec.version !== version)
    throw new ValidationError([
      {
        path: '--to',
        message: `app "${appName}" in namespace "${namespace}" has version ${app.spec.version} in the catalog, got ${version}; apply version ${version} with kdflow app apply -f FILE first`,
      },
    ]);
  return { name: appName, version, app: app.spec };
}
