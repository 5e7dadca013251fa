/**
 * `kdflow action NAME ACTION [--role R] [MEMBER…] [-p key=value…]`: one of the app's custom actions
 * (docs/adr/0050) as one tracked operation. The request is checked here with the workflow's own check
 * (api/actions.ts) before anything is sent; the `runAction` update answers with the operation's id;
 * then, unless --no-wait, the command follows it in status and prints each member's result.
 */
import type { RunActionRequest } from '../../api/actions.ts';
import { statusQuery } from '../../api/messages.ts';
import { ValidationError } from '../../api/rules.ts';
import type { ActionStatus } from '../../api/status.ts';
import { fullStatus } from '../../lib/cluster-status.ts';
import { startAction } from '../../lib/start-action.ts';
import type { CliContext } from '../context.ts';
import { UsageError, WaitError } from '../errors.ts';
import type { Flags } from '../main.ts';
import { checkName } from '../names.ts';
import { renderTable } from '../render.ts';

const USAGE = 'usage: kdflow action NAME ACTION [--role ROLE] [MEMBER…] [-p KEY=VALUE…] [--no-wait]';
const POLL_MS = 300;

/** `-p key=value` flags as an object without a prototype; a key given twice is a usage error. */
export function parseParams(pairs: string[]): Record<string, string> {
  const params = Object.create(null) as Record<string, string>;
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`-p ${JSON.stringify(pair)} is not KEY=VALUE (for example -p level=2)`);
    const key = pair.slice(0, at);
    if (Object.hasOwn(params, key)) throw new UsageError(`parameter ${key} is given twice`);
    params[key] = pair.slice(at + 1);
  }
  return params;
}

export async function actionCommand(ctx: CliContext, [name, action, ...named]: string[], flags: Flags): Promise<void> {
  if (!name || !action) throw new UsageError(USAGE);
  await checkName('cluster name', 'NAME', name);
  for (const member of named) await checkName('member name', 'MEMBER', member);
  const params = parseParams(flags.param ?? []);
  const request: RunActionRequest = {
    action,
    ...(flags.role !== undefined ? { role: flags.role } : {}),
    ...(named.length > 0 ? { members: named } : {}),
    params: { ...params },
  };
  const handle = await ctx.cluster(name);
  // Refused here, before anything is sent or runs: the same check the workflow makes.
  const result = await startAction(handle, request);
  if ('issues' in result) throw new ValidationError(result.issues, `action ${action}`);
  const { started } = result;
  ctx.out(`cluster/${name}: action ${started.id} started on ${started.targets} member(s)`);
  if (flags['no-wait']) return;

  let done: ActionStatus | undefined;
  for (;;) {
    const status = await handle.query(statusQuery, { limit: 1 });
    const current = status.actions?.find((a) => a.id === started.id);
    if (!current) throw new WaitError(`action ${started.id} is no longer in the status of cluster/${name}`);
    if (current.finishedAt !== undefined) {
      done = current;
      break;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const after = await fullStatus(handle);
  const rows = after.roles.flatMap((r) =>
    r.members
      .filter((m) => m.lastAction?.id === started.id)
      .map((m) => [m.name, r.id, String(m.lastAction?.exitCode ?? 'none'), m.lastAction?.error ?? '']),
  );
  if (rows.length > 0) ctx.out(renderTable(['MEMBER', 'ROLE', 'EXIT', 'ERROR'], rows));
  const summary = `action ${done.id} ${done.state}: ${done.succeeded} of ${done.targets} succeeded`;
  if (done.state !== 'succeeded')
    throw new WaitError(`${summary}${done.failures.length > 0 ? `; ${done.failures.join('; ')}` : ''}`);
  ctx.out(summary);
}
