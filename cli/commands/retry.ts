import { retrySignal } from '../../api/index.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';

export async function retryCommand(ctx: CliContext, [name, member]: string[]): Promise<void> {
  if (!name) throw new UsageError('usage: kdflow retry NAME [MEMBER]');
  const handle = await ctx.cluster(name);
  await handle.signal(retrySignal, member ? { member } : {});
  ctx.out(`cluster/${name}: retry requested for ${member ?? 'every failed member'}`);
}
