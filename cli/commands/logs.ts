import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isScriptEvent, memberFqdn, statusQuery } from '../../api/index.ts';
import { SCRIPT_EVENTS } from '../../api/fields.ts';
import { LocalRuntime } from '../../runtimes/local.ts';
import type { MemberTarget } from '../../runtimes/runtime.ts';
import type { CliContext } from '../context.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { checkName } from '../names.ts';
import { memberList } from '../render.ts';
import { followFiles, followGuestFiles } from '../follow.ts';
import { tailStart } from '../tail.ts';

const USAGE = 'usage: kdflow logs NAME MEMBER [--event EVENT] [--tail N | --all]';
export const DEFAULT_TAIL_LINES = 100;
/** What the tail shows at most, however long its lines: one line without a newline must not become the whole file. */
const TAIL_MAX_BYTES = 1024 * 1024;
const STREAMS = ['stdout', 'stderr', 'status'] as const;

export async function logsCommand(
  ctx: CliContext,
  [name, memberName]: string[],
  flags: { event?: string; tail?: string; all?: boolean; follow?: boolean },
): Promise<void> {
  if (!name || !memberName) throw new UsageError(USAGE);
  await checkName('cluster name', 'NAME', name);
  await checkName('member name', 'MEMBER', memberName);
  const event = flags.event ?? 'configure';
  // The event names files: only a lifecycle event, reconnect, or a custom action's `action-NAME` (docs/adr/0044, 0050).
  if (!isScriptEvent(event))
    throw new UsageError(
      `--event must be one of ${SCRIPT_EVENTS.join(', ')} or action-NAME (a custom action), got "${flags.event}"`,
    );
  if (flags.all && flags.tail !== undefined)
    throw new UsageError('--tail and --all do not go together: --tail N shows the last N lines, --all every line');
  const lines = flags.all ? Infinity : parseTail(flags.tail);

  // Only the member's identity comes from the workflow; its output comes from its files.
  const status = await (await ctx.cluster(name)).query(statusQuery);
  const role = status.roles.find((r) => r.members.some((m) => m.name === memberName));
  const ordinal = role?.members.find((m) => m.name === memberName)?.ordinal;
  if (!role || ordinal === undefined)
    throw new NotFoundError(
      `member ${memberName} not found in cluster ${ctx.namespace}/${name}${memberList(status.roles.flatMap((r) => r.members.map((m) => m.name)))}`,
    );
  const target: MemberTarget = {
    namespace: ctx.namespace,
    cluster: name,
    name: memberName,
    role: role.id,
    ordinal,
    fqdn: memberFqdn(memberName, name, ctx.namespace),
  };

  const runtime = await ctx.runtime();
  const files = STREAMS.map((stream) => `${event}.${stream}`);
  if (runtime instanceof LocalRuntime) {
    const root = runtime.memberRoot(target);
    if (!(await stat(root).catch(() => undefined))?.isDirectory()) {
      throw new NotFoundError(
        `member ${memberName} has no files here: ${root} does not exist. Is KDFLOW_HOME (${ctx.home}) the one the worker runs with? Run kdflow with the worker's KDFLOW_HOME (npm start prints it).`,
      );
    }
    const sizes: number[] = [];
    for (const file of files) sizes.push(await showFile(ctx, file, path.join(root, 'opt', 'guestconfig', file), lines));
    if (flags.follow)
      await followFiles(
        ctx.output,
        files.map((label, i) => ({ label, file: path.join(root, 'opt', 'guestconfig', label), offset: sizes[i] ?? 0 })),
      );
    return;
  }
  // Other runtimes read through the Runtime interface, which bounds what it returns.
  const texts: (string | undefined)[] = [];
  for (const file of files) {
    const text = await runtime.readGuestFile(target, `/opt/guestconfig/${file}`);
    texts.push(text);
    ctx.out(`==> ${file} <==`);
    if (text === undefined) ctx.out('(none)');
    else await ctx.output.stream(Readable.from([Buffer.from(lastLines(text, lines))]));
  }
  if (flags.follow)
    await followGuestFiles(
      ctx.output,
      files.map((label, i) => ({ label, text: texts[i] })),
      (label) => runtime.readGuestFile(target, `/opt/guestconfig/${label}`),
    );
}

function parseTail(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TAIL_LINES;
  if (!/^\d{1,9}$/.test(text)) throw new UsageError(`--tail must be a number of lines such as 100, got "${text}"`);
  return Number(text);
}

/** One file, streamed: its last `lines` lines, or all of it. Memory stays at a chunk whatever its size. Returns the size shown up to. */
async function showFile(ctx: CliContext, label: string, file: string, lines: number): Promise<number> {
  const handle = await open(file, 'r').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!handle) {
    ctx.out(`==> ${label} <==`);
    ctx.out('(none)');
    return 0;
  }
  try {
    const { size } = await handle.stat();
    const { start, cut } =
      lines === Infinity ? { start: 0, cut: false } : await tailStart(handle, size, lines, TAIL_MAX_BYTES);
    const shown = cut === 'lines' ? `last ${lines} lines` : `last ${size - start} bytes`;
    ctx.out(cut ? `==> ${label} (${shown} of ${size} bytes; --tail N or --all for more) <==` : `==> ${label} <==`);
    if (size === 0) ctx.out('(empty)');
    else if (start < size) await ctx.output.stream(handle.createReadStream({ start, end: size - 1, autoClose: false }));
    return size;
  } finally {
    await handle.close();
  }
}

function lastLines(text: string, lines: number): string {
  if (lines === Infinity) return text;
  if (lines === 0) return '';
  const parts = text.split('\n');
  if (parts.at(-1) === '') parts.pop();
  return parts.slice(-lines).join('\n');
}
