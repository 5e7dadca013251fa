import { statusQuery } from '../../api/messages.ts';
import type { ClusterStatus } from '../../api/status.ts';
import { elapsed } from '../../lib/build-progress.ts';
import { fullStatus } from '../../lib/cluster-status.ts';
import type { CliContext } from '../context.ts';
import { checkName } from '../names.ts';
import { UsageError, WaitError } from '../errors.ts';
import { memberCounts } from '../render.ts';
import { rolloutProgress } from '../../api/rolling.ts';

export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!match) throw new UsageError(`--timeout must be a duration such as 120s or 5m, got "${text}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}

/** The one line a wait redraws on a terminal: what it waits for, how far it is, and for how long. */
export function waitProgress(name: string, status: ClusterStatus, ms: number): string {
  const c = memberCounts(status);
  // A rolling operation in flight says how far it is (k/N members, the member in progress): docs/adr/0037.
  const r = status.rollout;
  const rolling =
    r && (r.phase === 'rolling' || r.phase === 'rolling back' || r.phase === 'paused') ? `; ${rolloutProgress(r)}` : '';
  return `cluster/${name}: ${status.phase}, configured ${c.configured}/${c.total} (ready ${c.ready}/${c.total})${rolling}, ${elapsed(ms)}`;
}

function isBusyWorker(error: unknown): boolean {
  return /query timed out before a worker could process it|DEADLINE_EXCEEDED|deadline exceeded/i.test(
    `${String(error)} ${String((error as Error)?.cause ?? '')}`,
  );
}

export async function waitCommand(
  ctx: CliContext,
  [name]: string[],
  flags: { for?: string; timeout?: string },
): Promise<void> {
  if (!name || (flags.for !== 'configured' && flags.for !== 'deleted'))
    throw new UsageError('usage: kdflow wait NAME --for configured|deleted [--timeout 120s]');
  await checkName('cluster name', 'NAME', name);
  const started = Date.now();
  const deadline = started + parseDuration(flags.timeout ?? '120s');
  const tty = process.stderr.isTTY;
  for (;;) {
    if (flags.for === 'deleted') {
      if ((await ctx.clusterRunStatus(name)) !== 'RUNNING') break;
    } else {
      const handle = await ctx.cluster(name);
      const status = await handle.query(statusQuery).catch((error: unknown) => {
        // A busy worker may miss one query's deadline; the wait's own timeout is what bounds it.
        if (isBusyWorker(error) && Date.now() < deadline) return undefined;
        throw error;
      });
      if (!status) continue;
      const settled = status.observedGeneration >= status.generation;
      if (settled && status.phase === 'configured') break;
      if (settled && status.phase === 'config error') {
        const failed = (await fullStatus(handle)).roles
          .flatMap((r) => r.members)
          .filter((m) => m.state === 'config error');
        throw new WaitError(
          `cluster/${name} settled with ${failed.length} member(s) in config error: ${failed.map((m) => `${m.name} (${(m.lastError ?? '').split('\n')[0]})`).join(', ')}; see kdflow logs ${name} MEMBER, then kdflow retry ${name}`,
        );
      }
      if (tty) process.stderr.write(`\r\x1b[K${waitProgress(name, status, Date.now() - started)}`);
    }
    if (Date.now() > deadline) throw new WaitError(`timed out waiting for cluster/${name} to be ${flags.for}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  if (tty) process.stderr.write('\r\x1b[K');
  ctx.out(`cluster/${name} ${flags.for}`);
}
