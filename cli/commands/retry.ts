import { retrySignal, statusQuery } from '../../api/index.ts';
import type { CliContext } from '../context.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { checkName } from '../names.ts';
import { memberList } from '../render.ts';

export async function retryCommand(ctx: CliContext, [name, member]: string[]): Promise<void> {
  if (!name) throw new UsageError('usage: kdflow retry NAME [MEMBER]');
  await checkName('cluster name', 'NAME', name);
  if (member !== undefined) await checkName('member name', 'MEMBER', member);
  const handle = await ctx.cluster(name);
  if (member !== undefined) {
    // The workflow ignores a retry for a member it does not have: say so here, before sending it.
    const status = await handle.query(statusQuery);
    const names = status.roles.flatMap((r) => r.members.map((m) => m.name));
    if (!names.includes(member))
      throw new NotFoundError(`member ${member} not found in cluster ${ctx.namespace}/${name}${memberList(names)}`);
  }
  await handle.signal(retrySignal, member ? { member } : {});
  ctx.out(`cluster/${name}: retry requested for ${member ?? 'every failed member'}`);
}
