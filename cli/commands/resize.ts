import { ValidationError, checkChange, resizeUpdate, resizedSpec, specQuery } from '../../api/index.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';

export function parseRoleCounts(args: string[]): Record<string, number> {
  if (args.length === 0) throw new UsageError('usage: kdflow resize NAME ROLE=N [ROLE=N…]');
  const roles: Record<string, number> = {};
  for (const arg of args) {
    const match = /^([^=]+)=(-?\d+)$/.exec(arg);
    if (!match) throw new UsageError(`"${arg}" is not ROLE=N (for example worker=3)`);
    roles[match[1] as string] = Number(match[2]);
  }
  return roles;
}

export async function resizeCommand(ctx: CliContext, [name, ...pairs]: string[]): Promise<void> {
  if (!name) throw new UsageError('usage: kdflow resize NAME ROLE=N [ROLE=N…]');
  const roles = parseRoleCounts(pairs);
  const handle = await ctx.cluster(name);
  const view = await handle.query(specQuery);
  // The same rules the workflow applies, checked before anything is sent.
  const { issues } = checkChange(name, view.spec, resizedSpec(view.spec, roles), view.app);
  if (issues.length > 0) throw new ValidationError(issues, `resize ${name}`);
  const { generation } = await handle.executeUpdate(resizeUpdate, { args: [{ roles }] });
  ctx.out(`cluster/${name} resized (generation ${generation})`);
}
