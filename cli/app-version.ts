/**
 * Which app version `kdflow upgrade NAME --to VERSION` goes to: the one function the CLI asks. It
 * reads the shared catalog (lib/app-catalog.ts), which keeps several versions per app and refuses a
 * version it does not hold, naming the versions there are (on `--to`).
 */
import type { UpgradeTarget } from '../api/index.ts';
import type { CliContext } from './context.ts';

export async function resolveAppVersion(
  ctx: Pick<CliContext, 'catalog'>,
  namespace: string,
  appName: string,
  version: string,
): Promise<UpgradeTarget> {
  const snapshot = await ctx.catalog.get(namespace, appName, version, '--to');
  return { name: snapshot.name, version: snapshot.version, app: snapshot.app };
}
