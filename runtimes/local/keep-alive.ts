/**
 * A local member's keep-alive: the process that is its "container" (a `sleep infinity`, in a pid
 * namespace of its own where the machine allows one: docs/adr/0015). Found by its argv0 tag and its
 * cwd, recorded in `.kdflow/keepalive.pid` (`0` while it is about to start).
 */
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { RuntimeError } from '../errors.ts';
import { keepAliveCommand, namespaceReady, type ContainmentMode } from '../containment.ts';
import { isAlive, processesWhere, sleep, type ProcessInfo } from '../processes.ts';
import { spawnDetached } from '../spawner.ts';
import type { MemberTarget } from '../runtime.ts';
import { readPid, type MemberLayout } from './layout.ts';

const NAMESPACE_START_MS = 10_000;

export class KeepAlives {
  private readonly layout: MemberLayout;
  private readonly mode: () => ContainmentMode;
  /**
   * Keep-alives already found whole (tag, and namespace up), by pid, with their start time: the heal
   * watch asks about every member every interval, and the full check costs a dozen /proc reads. A pid
   * with the same start time is the same process, and a keep-alive's namespace stays up while it runs.
   */
  private readonly verified = new Map<number, string>();
  /** The member's other namespaces (docs/adr/0046): `unshare` flags. */
  private readonly namespaces: () => string[];
  constructor(layout: MemberLayout, mode: () => ContainmentMode, namespaces: () => string[] = () => []) {
    this.layout = layout;
    this.mode = mode;
    this.namespaces = namespaces;
  }

  tag(member: MemberTarget): string {
    return `kdflow-keepalive:${member.namespace}/${member.cluster}/${member.name}`;
  }

  /** Its tag, and its directory as cwd (another KDFLOW_HOME may use the same names). */
  isTagged(p: ProcessInfo, member: MemberTarget): boolean {
    return p.argv[0] === this.tag(member) && p.cwd === this.layout.memberRoot(member);
  }

  /** The pid of the member's keep-alive when it runs, and (in a pid namespace) holds the member's namespace. */
  live(member: MemberTarget): number | undefined {
    const pid = readPid(this.layout.stateFile(member, 'keepalive.pid'));
    return pid !== undefined && this.isKeepAlive(pid, member) ? pid : undefined;
  }

  private isKeepAlive(pid: number, member: MemberTarget): boolean {
    // One read says whether it runs (no file: gone; state Z: exited, not reaped) and which process it is.
    const stat = procStat(pid);
    if (stat === undefined || stat.state === 'Z') {
      this.verified.delete(pid);
      return false;
    }
    const known = `${stat.started}\0${this.tag(member)}`;
    // The same process as the last time it was found whole: its tag and namespace are not read again.
    if (this.verified.get(pid) === known) return true;
    // The tag in argv0: a recycled pid is never mistaken for the member's.
    const argv0 = readOr(`/proc/${pid}/cmdline`, '').split('\0')[0];
    if (argv0 !== this.tag(member) || !isAlive(pid)) return false;
    if (this.mode() !== 'tracked' && !namespaceReady(pid)) return false;
    // Bounded: a pid leaves the map when it is found gone; the map is emptied if it ever grows past the cap.
    if (this.verified.size >= MAX_VERIFIED) this.verified.clear();
    this.verified.set(pid, known);
    return true;
  }

  /**
   * Starts one, or adopts the one a worker killed mid-start left. `endMember` ends what a member
   * whose keep-alive died left behind, before the new one starts.
   */
  async start(member: MemberTarget, endMember: () => Promise<void>): Promise<void> {
    const root = this.layout.memberRoot(member);
    const pidFile = this.layout.stateFile(member, 'keepalive.pid');
    const recorded = (await readFile(pidFile, 'utf8').catch(() => undefined))?.trim();
    // The pid file still says "about to start" (0): a killed worker may have started one and never
    // recorded it. Adopt it, so a member never gets two. Only then is /proc searched (docs/adr/0012).
    if (recorded === '0') {
      const adopted = (await processesWhere((p) => this.isTagged(p, member))).find((pid) =>
        this.isKeepAlive(pid, member),
      );
      if (adopted !== undefined) {
        await writeFile(pidFile, `${adopted}\n`);
        return;
      }
    }
    // The member had a keep-alive and it is gone: the member died. What it left (in tracked mode, what
    // its scripts started; a keep-alive of the wrong kind) ends before it starts again.
    if (recorded !== undefined) await endMember();
    await writeFile(pidFile, '0\n');
    const { command, args } = keepAliveCommand(this.mode(), 'infinity', this.namespaces());
    const keepAlive = await spawnDetached({
      command,
      args,
      argv0: this.tag(member),
      cwd: root,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', KDFLOW_MEMBER_ROOT: root },
    });
    await writeFile(pidFile, `${keepAlive.pid}\n`);
    if (this.mode() === 'pid-namespace') await awaitNamespace(keepAlive.pid, keepAlive.exited, member.name);
  }
}

/** A pid namespace's keep-alive is ready once its pid 1 runs; before that, a command entering it would become pid 1. */
async function awaitNamespace(pid: number, exited: Promise<void>, member: string): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + NAMESPACE_START_MS;
  while (!namespaceReady(pid)) {
    if (gone || !isAlive(pid))
      throw new RuntimeError('RuntimeFailure', `the keep-alive of ${member} exited before its pid namespace was up`);
    if (Date.now() > deadline)
      throw new RuntimeError(
        'RuntimeFailure',
        `the keep-alive of ${member} did not start its pid namespace within ${NAMESPACE_START_MS / 1000} s`,
      );
    await sleep(2);
  }
}

const MAX_VERIFIED = 100_000;

/** A process's state letter and start time (clock ticks since boot: /proc/PID/stat's 3rd and 22nd fields); undefined when there is none. */
function procStat(pid: number): { state: string; started: string } | undefined {
  const text = readOr(`/proc/${pid}/stat`, '');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, started] = [fields[0], fields[19]];
  return state && started ? { state, started } : undefined;
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}
