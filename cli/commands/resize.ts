import { ValidationError, clusterIssues, resizeUpdate, specQuery, type FieldIssue } from '../../api/index.ts';
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
  const spec = { ...view.spec, roles: view.spec.roles.map((r) => ({ ...r })) };
  const issues: FieldIssue[] = [];
  for (const [id, members] of Object.entries(roles)) {
    if (members < 0) issues.push({ path: id, message: `member count must not be negative, got ${members}` });
    const role = spec.roles.find((r) => r.id === id);
    if (role) role.members = members;
    else spec.roles.push({ id, members });
  }
  issues.push(...clusterIssues(name, spec, view.app));
  if (issues.length > 0) throw new ValidationError(issues, `resize ${name}`);
  const { generation } = await handle.executeUpdate(resizeUpdate, { args: [{ roles }] });
  ctx.out(`cluster/${name} resized (generation ${generation})`);
}
