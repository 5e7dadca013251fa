/**
 * What tests, chaos and bench ask of processes. Every look goes through the local runtime's own
 * process table (runtimes/processes.ts), so the harness and the product agree on what a member's
 * process is; only the measurements (CPU time, RSS) read /proc here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { childrenOf, isAlive, processTable, type ProcessInfo } from '../runtimes/processes.ts';

export { childrenOf, isAlive, type ProcessInfo };

/** `file` is `dir` or below it. */
export const isInside = (dir: string, file: string) => file === dir || file.startsWith(dir + path.sep);

/** Live processes (zombies excluded) that match, this one never among them. */
export async function processes(match: (p: ProcessInfo) => boolean): Promise<ProcessInfo[]> {
  return (await processTable()).filter((p) => match(p) && isAlive(p.pid));
}

/** Pids of processes whose working directory is in `dir`: the keep-alives and scripts of the members below it. */
export async function processesUnder(dir: string): Promise<number[]> {
  return (await processes((p) => isInside(dir, p.cwd))).map((p) => p.pid);
}

/** Processes named `argv0` (a keep-alive's or a runner's tag) working in `dir`; other test files may use the same names elsewhere. */
export async function taggedProcesses(argv0: string, dir: string): Promise<number> {
  return (await processes((p) => p.argv[0] === argv0 && isInside(dir, p.cwd))).length;
}

/** Command lines of the processes with an argument that starts with `mark` (`sleep <mark>.N` daemons). */
export async function markedProcesses(mark: string): Promise<string[]> {
  return (await processes((p) => p.argv.some((arg) => arg.startsWith(mark)))).map((p) => p.argv.join(' ').trim());
}

/** SIGKILL to each; one already gone is no error. */
export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/**
 * Ends what members under `home` left running (keep-alives persist by design): every process working
 * there or carrying a member root from there (a script that changed directory). Returns how many.
 */
export async function killMemberProcesses(home: string): Promise<number> {
  const found = await processes((p) => isInside(home, p.cwd) || (!!p.memberRoot && isInside(home, p.memberRoot)));
  killAll(found.map((p) => p.pid));
  return found.length;
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 0, utime 11, stime 12 (proc(5) fields 14 and 15).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

export const rssMiB = (pid: number) => statusMiB(pid, 'VmRSS');
/** The peak RSS (high-water mark) over the process's life. */
export const peakRssMiB = (pid: number) => statusMiB(pid, 'VmHWM');
