/** `kdflow upgrade`, `kdflow restart` and `kdflow cancel`: rolling operations (docs/adr/0037). */
import {
  MAX_UNAVAILABLE,
  ON_FAILURE,
  cancelUpdate,
  restartUpdate,
  rolloutDecisionUpdate,
  rolloutLine,
  rolloutProgress,
  specQuery,
  upgradeUpdate,
  type OnFailure,
  type UpgradeRequest,
} from '../../api/index.ts';
import { checkUpgradeRequest, resolveAppVersion } from '../app-version.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { checkName } from '../names.ts';

const UPGRADE_USAGE =
  'usage: kdflow upgrade NAME --to VERSION [--max-unavailable N] [--on-failure rollback|pause] | kdflow upgrade NAME --resume|--rollback';

export async function upgradeCommand(
  ctx: CliContext,
  [name]: string[],
  flags: { to?: string; resume?: boolean; rollback?: boolean; 'max-unavailable'?: string; 'on-failure'?: string },
): Promise<void> {
  if (!name) throw new UsageError(UPGRADE_USAGE);
  await checkName('cluster name', 'NAME', name);
  const decisions = [flags.resume && 'resume', flags.rollback && 'rollback'].filter(Boolean) as (
    'resume' | 'rollback'
  )[];
  if (decisions.length + (flags.to !== undefined ? 1 : 0) !== 1)
    throw new UsageError(`give exactly one of --to VERSION, --resume or --rollback; ${UPGRADE_USAGE}`);
  const handle = await ctx.cluster(name);
  const action = decisions[0];
  if (action) {
    const status = await handle.executeUpdate(rolloutDecisionUpdate, { args: [{ action }] });
    ctx.out(`cluster/${name}: ${rolloutProgress(status)}`);
    return;
  }
  const request: UpgradeRequest = { to: { name: '', version: '', app: undefined as never } };
  const max = flags['max-unavailable'];
  if (max !== undefined) {
    if (!/^\d+$/.test(max))
      throw new UsageError(
        `--max-unavailable: a whole number from ${MAX_UNAVAILABLE.min} to ${MAX_UNAVAILABLE.max}, got "${max}"`,
      );
    request.maxUnavailable = Number(max);
  }
  const onFailure = flags['on-failure'];
  if (onFailure !== undefined) {
    if (!(ON_FAILURE as readonly string[]).includes(onFailure))
      throw new UsageError(`--on-failure: expected one of ${ON_FAILURE.join(', ')}, got "${onFailure}"`);
    request.onFailure = onFailure as OnFailure;
  }
  const view = await handle.query(specQuery);
  request.to = await resolveAppVersion(ctx, ctx.namespace, view.appName, flags.to as string);
  // The workflow checks again: this says it before anything is sent.
  checkUpgradeRequest(request, view, `upgrade ${name}`);
  const status = await handle.executeUpdate(upgradeUpdate, { args: [request] });
  ctx.out(`cluster/${name}: ${rolloutLine(status)}`);
}

export async function restartCommand(
  ctx: CliContext,
  [name, ...members]: string[],
  flags: { role?: string },
): Promise<void> {
  if (!name) throw new UsageError('usage: kdflow restart NAME [--role ROLE] [MEMBER…]');
  await checkName('cluster name', 'NAME', name);
  for (const m of members) await checkName('member name', 'MEMBER', m);
  const handle = await ctx.cluster(name);
  const status = await handle.executeUpdate(restartUpdate, {
    args: [{ ...(flags.role !== undefined ? { role: flags.role } : {}), members }],
  });
  ctx.out(`cluster/${name}: ${rolloutProgress(status)}`);
}

export async function cancelCommand(ctx: CliContext, [name]: string[]): Promise<void> {
  if (!name) throw new UsageError('usage: kdflow cancel NAME');
  await checkName('cluster name', 'NAME', name);
  const handle = await ctx.cluster(name);
  const answer = await handle.executeUpdate(cancelUpdate);
  ctx.out(`cluster/${name}: ${answer.message}`);
}
