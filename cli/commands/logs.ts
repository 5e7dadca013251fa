import { EventName, statusQuery } from '../../api/index.ts';
import type { CliContext } from '../context.ts';
import { NotFoundError, UsageError } from '../errors.ts';

export async function logsCommand(ctx: CliContext, [name, memberName]: string[], flags: { event?: string }): Promise<void> {
  if (!name || !memberName) throw new UsageError('usage: kdflow logs NAME MEMBER [--event configure|addnodes|delnodes]');
  const event = EventName.safeParse(flags.event ?? 'configure');
  if (!event.success) throw new UsageError(`--event must be configure, addnodes or delnodes, got "${flags.event}"`);
  const status = await (await ctx.cluster(name)).query(statusQuery);
  const member = status.roles.flatMap((r) => r.members).find((m) => m.name === memberName);
  if (!member) throw new NotFoundError(`member ${memberName} not found in cluster ${name}`);
  const runtime = await ctx.runtime();
  const target = { namespace: status.namespace, cluster: name, name: member.name, role: member.role, ordinal: member.ordinal, fqdn: member.fqdn };
  for (const stream of ['stdout', 'stderr', 'status'] as const) {
    const text = await runtime.readGuestFile(target, `/opt/guestconfig/${event.data}.${stream}`);
    ctx.out(`==> ${event.data}.${stream} <==`);
    ctx.out(text === undefined ? '(none)' : text.trimEnd());
  }
}
