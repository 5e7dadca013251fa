/**
 * Finding and ending every process of a local member (docs/adr/0015): its keep-alives (by tag, not
 * only by pid file: a worker killed mid-ensure may have left one without), everything in their pid
 * namespaces, whatever carries the member's tag (execs, runners, and in tracked mode what its
 * scripts started), and runners whose status file is in the member.
 */
import path from 'node:path';
import { childrenOf, endProcesses, isAlive, namespaceOf, processTable, processesWhere } from '../processes.ts';
import type { ProcessInfo } from '../processes.ts';
import type { MemberTarget } from '../runtime.ts';
import { runnerOf } from '../script/protocol.ts';
import type { KeepAlives } from './keep-alive.ts';

export async function endMember(root: string, member: MemberTarget, keepAlives: KeepAlives): Promise<void> {
  const inMember = `${root}${path.sep}`;
  const host = namespaceOf(process.pid, 'pid');
  // One look at /proc finds the keep-alives, their namespaces and everything else of the member.
  const table = await processTable();
  const alive = table.filter((p) => keepAlives.isTagged(p, member) && isAlive(p.pid)).map((p) => p.pid);
  const namespaces = new Set(
    alive.map((pid) => namespaceOf(pid, 'pid_for_children')).filter((ns) => ns !== undefined && ns !== host),
  );
  const isMine = (p: ProcessInfo) =>
    p.memberRoot === root ||
    keepAlives.isTagged(p, member) ||
    (namespaces.size > 0 && namespaces.has(p.pidNs)) ||
    (runnerOf(p.argv)?.status.startsWith(inMember) ?? false);
  // The member's services get SIGTERM and a grace period, as in a container stop; its keep-alive and
  // the namespace's init (which ignore SIGTERM) go last, and with them whatever is left inside.
  const inits = alive.flatMap((pid) => childrenOf(pid));
  await endProcesses(() => processesWhere(isMine), {
    first: table.filter((p) => isMine(p) && isAlive(p.pid)).map((p) => p.pid),
    killOnly: [...alive, ...inits],
  });
}
