import { historyQuery } from '../../api/index.ts';
import type { CliContext } from '../context.ts';
import { checkName } from '../names.ts';
import { UsageError } from '../errors.ts';
import { renderData, renderTable } from '../render.ts';

export async function historyCommand(ctx: CliContext, [name]: string[], flags: { output?: string }): Promise<void> {
  if (!name) throw new UsageError('usage: kdflow history NAME');
  checkName('cluster name', 'NAME', name);
  if (flags.output !== undefined && !['table', 'json', 'yaml'].includes(flags.output)) throw new UsageError(`-o must be table, json or yaml, got "${flags.output}"`);
  const entries = await (await ctx.cluster(name)).query(historyQuery);
  if (flags.output === 'json' || flags.output === 'yaml') {
    ctx.out(renderData(entries, flags.output));
    return;
  }
  ctx.out(renderTable(['FINISHED', 'MEMBER', 'EVENT', 'EXIT', 'ATTEMPTS', 'ARGV'], entries.map((e) => [e.finishedAt, e.member, e.event, String(e.exitCode ?? e.error?.split('\n')[0] ?? 'none'), String(e.attempts), e.argv.join(' ')])));
}
