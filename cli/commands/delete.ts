import { deleteSignal } from '../../api/index.ts';
import type { CliContext } from '../context.ts';
import { checkName } from '../names.ts';
import { UsageError } from '../errors.ts';

export async function deleteCommand(ctx: CliContext, [name]: string[]): Promise<void> {
  if (!name) throw new UsageError('usage: kdflow delete NAME');
  await checkName('cluster name', 'NAME', name);
  const handle = await ctx.cluster(name);
  await handle.signal(deleteSignal);
  ctx.out(`cluster/${name} deleting (kdflow wait ${name} --for deleted)`);
}
