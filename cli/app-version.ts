/**
 * Which app version an upgrade goes to: `kdflow upgrade NAME --to VERSION`, and a `spec.appVersion`
 * that `kdflow apply` or `kdflow plan` sends (docs/adr/0037). It reads the shared catalog
 * (lib/app-catalog.ts), which keeps several versions per app and refuses a version it does not hold,
 * naming the versions there are (on the field the user gave it with).
 */
import {
  ValidationError,
  upgradeRequestIssue,
  type ClusterSpecView,
  type KdClusterSpec,
  type UpgradeRequest,
  type UpgradeTarget,
} from '../api/index.ts';
import type { CliContext } from './context.ts';

export async function resolveAppVersion(
  ctx: Pick<CliContext, 'catalog'>,
  namespace: string,
  appName: string,
  version: string,
  field = '--to',
): Promise<UpgradeTarget> {
  const snapshot = await ctx.catalog.get(namespace, appName, version, field);
  return { name: snapshot.name, version: snapshot.version, app: snapshot.app };
}

/** Refuses an upgrade the workflow would refuse, before anything is sent; `field` names what the user gave. */
export function checkUpgradeRequest(
  request: UpgradeRequest,
  view: ClusterSpecView,
  source: string,
  field = 'to',
): void {
  const issue = upgradeRequestIssue(request, view.appName, view.app);
  if (!issue) return;
  const [path, ...rest] = issue.split(': ');
  const at = field === 'to' ? (path ?? 'to') : field;
  throw new ValidationError([{ path: at, message: rest.join(': ') }], source);
}

/**
 * The snapshot a live cluster's new spec upgrades to, or undefined when its `appVersion` is absent or
 * the version the cluster runs: the workflow never reads the catalog, so the change carries it.
 */
export async function specUpgradeTarget(
  ctx: Pick<CliContext, 'catalog'>,
  namespace: string,
  name: string,
  view: ClusterSpecView,
  spec: KdClusterSpec,
): Promise<UpgradeTarget | undefined> {
  if (spec.appVersion === undefined || spec.appVersion === view.app.version) return undefined;
  const to = await resolveAppVersion(ctx, namespace, view.appName, spec.appVersion, 'spec.appVersion');
  checkUpgradeRequest({ to }, view, name, 'spec.appVersion');
  return to;
}
