import { deleteSignal } from '../../api/index.ts';
import type { CliContext } from '../context.ts';
import { checkName } from '../names.ts';
import { UsageError } from '../errors.ts';

export async function deleteCommand(
  ctx: CliContext,
  [name]: string[],
  flags: { 'skip-hooks'?: boolean } = {},
): Promise<void> {
  if (!name) throw new UsageError('usage: kdflow delete NAME');
  await checkName('cluster name', 'NAME', name);
  const handle = await ctx.cluster(name);
  // Sent bare unless asked: what the shim and older clients send, and what a running cluster has seen.
  if (flags['skip-hooks'] === true) await handle.signal(deleteSignal, { skipHooks: true });
  else await handle.signal(deleteSignal);
  ctx.out(
    `cluster/${name} deleting${flags['skip-hooks'] === true ? ' (hooks skipped)' : ''} (kdflow wait ${name} --for deleted)`,
  );
}
