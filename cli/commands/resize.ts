import { checkSpecChange } from '../../api/light-check.ts';
import { resizeUpdate, specQuery } from '../../api/messages.ts';
import { ValidationError, resizedSpec } from '../../api/rules.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { checkName } from '../names.ts';

const USAGE = 'usage: kdflow resize NAME ROLE=N [ROLE=N…]';

/**
 * ROLE=N arguments as role id → count, in an object without a prototype: "constructor=3" is a role
 * like any other and "__proto__=3" an own key, which the role id rules then refuse by name.
 */
export function parseRoleCounts(args: string[]): Record<string, number> {
  if (args.length === 0) throw new UsageError(USAGE);
  const roles = Object.create(null) as Record<string, number>;
  for (const arg of args) {
    const match = /^([^=]+)=(-?\d+)$/.exec(arg);
    if (!match) throw new UsageError(`"${arg}" is not ROLE=N (for example worker=3)`);
    const role = match[1] as string;
    if (Object.hasOwn(roles, role))
      throw new UsageError(`role ${role} is given twice (${role}=${roles[role]} and ${arg})`);
    roles[role] = Number(match[2]);
  }
  return roles;
}

export async function resizeCommand(ctx: CliContext, [name, ...pairs]: string[]): Promise<void> {
  if (!name) throw new UsageError(USAGE);
  await checkName('cluster name', 'NAME', name);
  const roles = parseRoleCounts(pairs);
  const handle = await ctx.cluster(name);
  const view = await handle.query(specQuery);
  // The same rules the workflow applies, checked before anything is sent, with the workflow's own
  // check: the same verdicts and messages as the schemas' (test/unit/light-check.test.ts), without zod.
  const { issues } = checkSpecChange(name, view.spec, resizedSpec(view.spec, roles), view.app);
  if (issues.length > 0) throw new ValidationError(issues, `resize ${name}`);
  const { generation } = await handle.executeUpdate(resizeUpdate, { args: [{ roles }] });
  ctx.out(
    generation === view.generation
      ? `cluster/${name} unchanged (generation ${generation})`
      : `cluster/${name} resized (generation ${generation})`,
  );
}
