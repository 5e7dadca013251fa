import type { CliContext } from '../context.ts';
import { checkName } from '../names.ts';
import { UsageError } from '../errors.ts';
import { renderData, renderTable } from '../render.ts';

const DEFAULT_LIMIT = 50;

/** The newest script runs from Temporal's history (`--limit N`, default 50; `--all` for every retained run). */
export async function historyCommand(
  ctx: CliContext,
  [name]: string[],
  flags: { output?: string; limit?: string; all?: boolean },
): Promise<void> {
  if (!name) throw new UsageError('usage: kdflow history NAME [--limit N | --all]');
  await checkName('cluster name', 'NAME', name);
  if (flags.output !== undefined && !['table', 'json', 'yaml'].includes(flags.output))
    throw new UsageError(`-o must be table, json or yaml, got "${flags.output}"`);
  const limit = flags.all ? undefined : flags.limit === undefined ? DEFAULT_LIMIT : Number(flags.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    throw new UsageError(`--limit: expected a whole number of at least 1, got "${flags.limit}"`);
  await ctx.cluster(name);
  const entries = await ctx.scriptHistory(name, { limit });
  if (flags.output === 'json' || flags.output === 'yaml') {
    ctx.out(await renderData(entries, flags.output));
    return;
  }
  ctx.out(
    renderTable(
      ['FINISHED', 'MEMBER', 'EVENT', 'EXIT', 'ATTEMPTS', 'ARGV'],
      entries.map((e) => [
        e.finishedAt,
        e.member,
        e.event,
        `${e.exitCode ?? e.error?.split('\n')[0] ?? 'none'}${e.warning ? ` (warning: ${e.warning})` : ''}`,
        String(e.attempts),
        e.argv.join(' '),
      ]),
    ),
  );
}
