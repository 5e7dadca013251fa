/**
 * What the local runtime knows of processes, read from /proc (the local runtime is Linux-only), and
 * how it ends them. Scripts and everything they start carry KDFLOW_MEMBER_ROOT and KDFLOW_RUN_ID in
 * their environment (inherited by every descendant that does not clear it), which is how a run's
 * tree and a member's processes are found again (docs/adr/0015-member-process-containment.md).
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import { KILL_GRACE_SECONDS } from './runtime.ts';

/** One process, as /proc shows it. Its cwd and pid namespace are read when first asked for. */
export class ProcessInfo {
  readonly pid: number;
  readonly argv: string[];
  /** KDFLOW_MEMBER_ROOT and KDFLOW_RUN_ID from its environment, when present. */
  readonly memberRoot?: string;
  readonly runId?: string;
  private cwdRead?: string;
  private pidNsRead?: string;
  constructor(pid: number, argv: string[], environ: string) {
    this.pid = pid;
    this.argv = argv;
    for (const variable of environ.split('\0')) {
      if (variable.startsWith('KDFLOW_MEMBER_ROOT=')) this.memberRoot = variable.slice('KDFLOW_MEMBER_ROOT='.length);
      else if (variable.startsWith('KDFLOW_RUN_ID=')) this.runId = variable.slice('KDFLOW_RUN_ID='.length);
    }
  }

  /** Working directory, without the " (deleted)" the kernel appends once it is removed. */
  get cwd(): string {
    this.cwdRead ??= linkOr(`/proc/${this.pid}/cwd`, '').replace(/ \(deleted\)$/, '');
    return this.cwdRead;
  }

  /** Its pid namespace, such as "pid:[4026532177]". */
  get pidNs(): string {
    this.pidNsRead ??= linkOr(`/proc/${this.pid}/ns/pid`, '');
    return this.pidNsRead;
  }
}

/**
 * Every process but this one, read after the call began. Callers that arrive while a read is under
 * way share the next one, so many members at once (a thousand keep-alives make /proc long) cost a
 * few reads instead of one each. Small synchronous reads: /proc never touches a disk, and the thread
 * pool stays free for the member files.
 */
let nextTable: Promise<ProcessInfo[]> | undefined;
let tableReading: Promise<unknown> = Promise.resolve();
export function processTable(): Promise<ProcessInfo[]> {
  if (nextTable) return nextTable;
  const table = tableReading.then(async () => {
    nextTable = undefined;
    const infos: ProcessInfo[] = [];
    const entries = await readdir('/proc').catch(() => [] as string[]);
    for (const [i, entry] of entries.entries()) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      if (i % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
      const info = readProcess(Number(entry));
      if (info) infos.push(info);
    }
    return infos;
  });
  nextTable = table;
  tableReading = table.catch(() => undefined);
  return table;
}

function readProcess(pid: number): ProcessInfo | undefined {
  // Gone meanwhile, or not ours to read: then empty.
  const cmdline = readOr(`/proc/${pid}/cmdline`, '');
  return cmdline ? new ProcessInfo(pid, cmdline.split('\0'), readOr(`/proc/${pid}/environ`, '')) : undefined;
}

/** Pids of live processes that match. */
export async function processesWhere(match: (info: ProcessInfo) => boolean): Promise<number[]> {
  return (await processTable()).filter((info) => match(info) && isAlive(info.pid)).map((info) => info.pid);
}

export function isAlive(pid: number): boolean {
  // 0 is "about to start", never a process (kill(0) would signal our own group).
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An exited child that nobody reaped yet still answers kill(0).
  return !/^\d+ \(.*\) Z/s.test(readOr(`/proc/${pid}/stat`, ''));
}

/** The children of a process (the kernel's list, for its main thread). */
export function childrenOf(pid: number): number[] {
  return readOr(`/proc/${pid}/task/${pid}/children`, '').split(' ').filter(Boolean).map(Number);
}

export function namespaceOf(pid: number, kind: 'pid' | 'pid_for_children' | 'user'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
}

function linkOr(file: string, fallback: string): string {
  try {
    return readlinkSync(file);
  } catch {
    return fallback;
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

const KILL_GRACE_MS = KILL_GRACE_SECONDS * 1000;
const MAX_KILL_ROUNDS = 50;

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch {
    // Already gone.
  }
}

/**
 * Ends what `find` finds: SIGTERM (and to each one's process group, when `groups` is set), up to
 * `graceMs` for them to go, then SIGKILL, and again to whatever a fresh look still finds, until it
 * finds nothing: a process that forks while it is being ended does not leave a child behind.
 * `killOnly` are not asked first (a pid namespace's init and its unshare do not act on SIGTERM).
 * `first` is a look already taken, so the first /proc read is not repeated.
 */
export async function endProcesses(
  find: () => Promise<number[]>,
  options: { graceMs?: number; groups?: number[]; killOnly?: number[]; first?: number[] } = {},
): Promise<void> {
  const spared = new Set(options.killOnly ?? []);
  let targets = options.first ?? (await find());
  const asked = targets.filter((pid) => !spared.has(pid));
  const groups = (options.groups ?? []).filter((group) => group > 0);
  for (const group of groups) signal(-group, 'SIGTERM');
  for (const pid of asked) signal(pid, 'SIGTERM');
  const watched = [...asked, ...groups];
  await until(() => !watched.some(isAlive), options.graceMs ?? KILL_GRACE_MS);
  for (const group of groups) signal(-group, 'SIGKILL');
  for (let round = 0; round < MAX_KILL_ROUNDS; round++) {
    const alive = targets.filter(isAlive);
    for (const pid of alive) signal(pid, 'SIGKILL');
    await until(() => !alive.some(isAlive), 1_000);
    targets = await find();
    if (targets.length === 0) return;
  }
  throw new Error(`processes ${targets.join(', ')} did not end after SIGKILL`);
}

/** Waits until the condition holds or the time is up (cheap per-pid checks, not /proc reads). */
async function until(done: () => boolean, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!done() && Date.now() < deadline) await sleep(5);
}

// First name wins: SIGABRT before its alias SIGIOT, SIGIO before SIGPOLL.
const SIGNAL_NAMES = new Map<number, string>();
for (const [name, number] of Object.entries(os.constants.signals))
  if (!SIGNAL_NAMES.has(number)) SIGNAL_NAMES.set(number, name);

/** SIGKILL for 9, on this platform's numbering; SIG<n> for a number it has no name for. */
export function signalName(number: number): string {
  return SIGNAL_NAMES.get(number) ?? `SIG${number}`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
