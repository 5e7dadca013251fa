/**
 * The local runtime: a member is a directory (its volume) with a keep-alive process (its "container"),
 * and scripts run as real processes. It is the app author's fast loop, and what `npm start` uses.
 */
import { readFileSync } from 'node:fs';
import { chmod, mkdir, open, readFile, readdir, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuntimeError } from './errors.ts';
import { unpackPackage } from './config-package.ts';
import { guestMountPrefix } from './guest-mounts.ts';
import { spawnDetached } from './spawner.ts';
import { CONFIGMETA_PATH, GUESTCONFIG_DIR, OUTPUT_TAIL_BYTES, type GuestFile, type MemberSpec, type MemberTarget, type Readiness, type ReadyWait, type RunControl, type Runtime, type ScriptRequest, type ScriptResult } from './runtime.ts';

const RUNNER = fileURLToPath(new URL('./local-run.sh', import.meta.url));
const KILL_GRACE_MS = 3_000;
const POLL_MS = 100;

export class LocalRuntime implements Runtime {
  readonly kind = 'local';
  private readonly home: string;
  constructor(home: string) {
    this.home = home;
  }

  /** $KDFLOW_HOME/members/<namespace>/<cluster>/<member>/ */
  memberRoot(member: Pick<MemberTarget, 'namespace' | 'cluster' | 'name'>): string {
    return path.join(this.clusterDir(member.namespace, member.cluster), safeSegment('member name', member.name));
  }

  /** Names become paths here, so each must be a DNS label: "..", "/" or "" never reach path.join (nor rm). */
  private clusterDir(namespace: string, cluster: string): string {
    return path.join(this.home, 'members', safeSegment('namespace', namespace), safeSegment('cluster name', cluster));
  }

  private guestPath(member: MemberTarget, guest: string): string {
    const root = this.memberRoot(member);
    const resolved = path.join(root, guest);
    if (!resolved.startsWith(root + path.sep)) throw new RuntimeError('RuntimeFailure', `path ${guest} leaves the member directory`, true);
    return resolved;
  }

  async ensureMember(member: MemberSpec): Promise<void> {
    const root = this.memberRoot(member);
    // Only the user running kdflow may read a member: script output may hold secrets.
    await mkdir(root, { recursive: true, mode: 0o700 });
    await mkdir(path.join(root, GUESTCONFIG_DIR), { recursive: true });
    await mkdir(path.join(root, path.dirname(CONFIGMETA_PATH)), { recursive: true, mode: 0o700 });
    await chmod(path.join(root, path.dirname(CONFIGMETA_PATH)), 0o700);
    for (const dir of member.persistDirs) await mkdir(this.guestPath(member, dir), { recursive: true });
    await mkdir(path.join(root, '.kdflow'), { recursive: true });
    if (!(await this.keepAliveAlive(member))) await this.startKeepAlive(member);
  }

  /** A directory and a process have no events to watch, so this checks a few times a second. */
  async awaitReady(members: MemberTarget[], wait: ReadyWait): Promise<Record<string, Readiness>> {
    const result: Record<string, Readiness> = {};
    let pending = [...members];
    for (;;) {
      const next: MemberTarget[] = [];
      for (const member of pending) {
        result[member.name] = await this.readiness(member);
        if (!result[member.name]?.ready) next.push(member);
      }
      pending = next;
      wait.heartbeat({ waiting: pending.map((m) => m.name) });
      if (pending.length === 0 || Date.now() >= wait.deadline || wait.signal.aborted) return result;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async removeCluster(namespace: string, cluster: string): Promise<void> {
    await rm(this.clusterDir(namespace, cluster), { recursive: true, force: true });
  }

  private async readiness(member: MemberTarget): Promise<Readiness> {
    const root = this.memberRoot(member);
    if (!(await isDir(root))) return { ready: false, reason: `member directory ${root} is missing` };
    if (!(await this.keepAliveAlive(member))) return { ready: false, reason: 'keep-alive process is not running' };
    return { ready: true };
  }

  async writeFiles(member: MemberTarget, files: GuestFile[]): Promise<void> {
    for (const file of files) {
      const target = this.guestPath(member, file.path);
      await mkdir(path.dirname(target), { recursive: true });
      const tmp = `${target}.tmp`;
      await writeFile(tmp, file.content, { mode: file.mode });
      await chmod(tmp, file.mode);
      await rename(tmp, target);
    }
  }

  async installPackage(member: MemberTarget, tgzPath: string, onProgress?: (bytes: number, total: number) => void): Promise<void> {
    await unpackPackage(tgzPath, this.guestPath(member, GUESTCONFIG_DIR), onProgress);
  }

  async runScript(member: MemberTarget, request: ScriptRequest, control: RunControl): Promise<ScriptResult> {
    const guestconfig = this.guestPath(member, GUESTCONFIG_DIR);
    const files = outputFiles(guestconfig, request.event);
    const recorded = await readStatus(files.status);
    if (recorded?.runId === request.runId && recorded.exitCode === 0) return { ...(await tails(files)), exitCode: 0, timedOut: false, recorded: true };

    const running = await readRunning(files.pid);
    if (running?.runId === request.runId) {
      // A worker that died mid-run left the runner going: wait for it rather than start a second run.
      if (isAlive(running.pid)) return this.awaitRunner(running.pid, request, files, control);
      // `.running` still says "about to start" (pid 0): a worker killed between spawning the runner and
      // recording it left a runner nobody knows of. Only then is /proc searched (docs/adr/0012).
      const orphan = (await processesWhere((argv) => isRunnerOf(argv, (status, runId) => status === files.status && runId === request.runId)))[0];
      if (orphan !== undefined) {
        await writeFile(files.pid, `${request.runId}=${orphan}\n`);
        return this.awaitRunner(orphan, request, files, control);
      }
    }

    const script = await findStartscript(guestconfig);
    const root = this.memberRoot(member);
    // Recorded before the runner exists, so a crash before its pid is recorded is seen above.
    await writeFile(files.pid, `${request.runId}=0\n`);
    // A failed earlier attempt of this run id left its status: it must not pass for this attempt's.
    await rm(files.status, { force: true });
    const mounts = guestMountPrefix(guestconfig, path.join(root, path.dirname(CONFIGMETA_PATH)));
    const runner = await spawnDetached({ command: RUNNER, args: [files.status, request.runId, files.stdout, files.stderr, ...mounts, script, ...request.argv], cwd: root, env: scriptEnv(root, guestconfig, request) }).catch(
      (error: Error) => {
        throw new RuntimeError('RuntimeFailure', `could not start ${script}: ${error.message}`);
      },
    );
    await writeFile(files.pid, `${request.runId}=${runner.pid}\n`);
    // Its exit ends the wait at once instead of at the next poll.
    return this.awaitRunner(runner.pid, request, files, control, runner.exited);
  }

  private async awaitRunner(pid: number, request: ScriptRequest, files: OutputFiles, control: RunControl, exited?: Promise<void>): Promise<ScriptResult> {
    const deadline = Date.now() + request.timeoutSeconds * 1000;
    let timedOut = false;
    for (;;) {
      const status = await readStatus(files.status);
      if (status?.runId === request.runId) return { ...(await tails(files)), exitCode: status.exitCode, timedOut: false, recorded: false };
      if (!isAlive(pid)) {
        // It may have recorded its exit just before it exited; otherwise it was killed from outside.
        const last = await readStatus(files.status);
        const exitCode = last?.runId === request.runId ? last.exitCode : null;
        return { ...(await tails(files)), exitCode, timedOut, recorded: false };
      }
      if (control.signal.aborted || Date.now() > deadline) {
        timedOut = !control.signal.aborted;
        await killGroup(pid);
        await writeFile(files.status, `${request.runId}=${timedOut ? 124 : 130}\n`);
        if (control.signal.aborted) throw new RuntimeError('RuntimeFailure', `${request.event} on ${path.basename(path.dirname(path.dirname(files.status)))} was cancelled`);
        return { ...(await tails(files)), exitCode: null, timedOut: true, recorded: false };
      }
      control.heartbeat({ pid });
      await (exited ? Promise.race([sleep(POLL_MS), exited]) : sleep(POLL_MS));
    }
  }

  async removeMember(member: MemberTarget): Promise<void> {
    const root = this.memberRoot(member);
    // By tag, not only by pid file: a worker killed mid-ensure may have left a keep-alive without one.
    for (const pid of await this.keepAlivesOf(member)) await killGroup(pid);
    // Every runner whose status file is in this member, recorded in `.running` or not.
    for (const pid of await processesWhere((argv) => isRunnerOf(argv, (status) => status.startsWith(`${root}${path.sep}`)))) await killGroup(pid);
    await rm(root, { recursive: true, force: true });
  }

  async readGuestFile(member: MemberTarget, guestPath: string): Promise<string | undefined> {
    return readFile(this.guestPath(member, guestPath), 'utf8').catch(() => undefined);
  }

  async listMembers(namespace: string, cluster: string): Promise<string[]> {
    const entries = await readdir(this.clusterDir(namespace, cluster), { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  }

  private keepAliveTag(member: MemberTarget): string {
    return `kdflow-keepalive:${member.namespace}/${member.cluster}/${member.name}`;
  }

  private async keepAliveAlive(member: MemberTarget): Promise<boolean> {
    const pid = await readPid(path.join(this.memberRoot(member), '.kdflow', 'keepalive.pid'));
    return pid !== undefined && (await isKeepAliveOf(pid, member));
  }

  /** Keep-alive processes of this member: its tag, and its directory as cwd (another KDFLOW_HOME may use the same names). */
  private async keepAlivesOf(member: MemberTarget): Promise<number[]> {
    const root = this.memberRoot(member);
    const tagged = await processesWhere((argv) => argv[0] === this.keepAliveTag(member));
    const mine: number[] = [];
    for (const pid of tagged) if ((await readlink(`/proc/${pid}/cwd`).catch(() => '')).replace(/ \(deleted\)$/, '') === root) mine.push(pid);
    return mine;
  }

  private async startKeepAlive(member: MemberTarget): Promise<void> {
    const pidFile = path.join(this.memberRoot(member), '.kdflow', 'keepalive.pid');
    // The pid file still says "about to start" (0): a killed worker may have started one and never
    // recorded it. Adopt it, so a member never gets two. Only then is /proc searched (docs/adr/0012).
    if ((await readFile(pidFile, 'utf8').catch(() => ''))?.trim() === '0') {
      const adopted = (await this.keepAlivesOf(member))[0];
      if (adopted !== undefined) {
        await writeFile(pidFile, `${adopted}\n`);
        return;
      }
    }
    await writeFile(pidFile, '0\n');
    // argv0 tags the process, so a recycled pid is never mistaken for the member's.
    const keepAlive = await spawnDetached({ command: 'sleep', args: ['infinity'], argv0: this.keepAliveTag(member), cwd: this.memberRoot(member) });
    await writeFile(pidFile, `${keepAlive.pid}\n`);
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function safeSegment(what: string, value: string): string {
  if (!DNS_LABEL.test(value)) throw new RuntimeError('RuntimeFailure', `${what} ${JSON.stringify(value)} is not a DNS-1123 label`, true);
  return value;
}

/** Pids of live processes whose argv matches, read from /proc (the local runtime is Linux-only). */
async function processesWhere(match: (argv: string[]) => boolean): Promise<number[]> {
  const pids: number[] = [];
  for (const [pid, argv] of await processTable()) if (match(argv) && isAlive(pid)) pids.push(pid);
  return pids;
}

/**
 * Every process's argv, read after the call began. Callers that arrive while a read is under way
 * share the next one, so many members at once (a thousand keep-alives make /proc long) cost a few
 * reads instead of one each. Small synchronous reads: /proc never touches a disk, and the thread
 * pool stays free for the member files.
 */
let nextTable: Promise<Map<number, string[]>> | undefined;
let tableReading: Promise<unknown> = Promise.resolve();
function processTable(): Promise<Map<number, string[]>> {
  if (nextTable) return nextTable;
  const table = tableReading.then(async () => {
    nextTable = undefined;
    const argvs = new Map<number, string[]>();
    const entries = await readdir('/proc').catch(() => [] as string[]);
    for (const [i, entry] of entries.entries()) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      if (i % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      } catch {
        // Gone meanwhile.
      }
      if (cmdline) argvs.set(Number(entry), cmdline.split('\0'));
    }
    return argvs;
  });
  nextTable = table;
  tableReading = table.catch(() => undefined);
  return table;
}

/** local-run.sh is started as `sh RUNNER STATUS RUN_ID …`. */
function isRunnerOf(argv: string[], match: (statusFile: string, runId: string) => boolean): boolean {
  const at = argv.indexOf(RUNNER);
  return at >= 0 && match(argv[at + 1] ?? '', argv[at + 2] ?? '');
}

async function isKeepAliveOf(pid: number, member: MemberTarget): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0')[0] === `kdflow-keepalive:${member.namespace}/${member.cluster}/${member.name}`;
}

interface OutputFiles {
  stdout: string;
  stderr: string;
  status: string;
  pid: string;
}

function outputFiles(guestconfig: string, event: string): OutputFiles {
  return {
    stdout: path.join(guestconfig, `${event}.stdout`),
    stderr: path.join(guestconfig, `${event}.stderr`),
    status: path.join(guestconfig, `${event}.status`),
    pid: path.join(guestconfig, '..', '..', '.kdflow', `${event}.running`),
  };
}

/** Scripts get a clean environment: the worker's own variables (tokens, API keys) never leak in. */
function scriptEnv(root: string, guestconfig: string, request: ScriptRequest): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: root,
    LANG: 'C.UTF-8',
    KDFLOW_MEMBER_ROOT: root,
    CONFIGMETA: path.join(root, CONFIGMETA_PATH),
    GUESTCONFIG_DIR: guestconfig,
    KDFLOW_RUN_ID: request.runId,
  };
  for (const { name, value } of request.env) env[name] = value;
  return env;
}

async function findStartscript(guestconfig: string): Promise<string> {
  const entries = await readdir(guestconfig, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const candidate = path.join(guestconfig, entry.name, 'startscript');
    const info = await stat(candidate).catch(() => undefined);
    if (info?.isFile()) {
      if ((info.mode & 0o111) === 0) throw new RuntimeError('ScriptMissing', `${GUESTCONFIG_DIR}/${entry.name}/startscript is not executable`, true);
      return candidate;
    }
  }
  throw new RuntimeError('ScriptMissing', `no ${GUESTCONFIG_DIR}/*/startscript in the member (was the config package installed?)`, true);
}

async function readStatus(file: string): Promise<{ runId: string; exitCode: number } | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const match = text && /^(.*)=(-?\d+)\s*$/.exec(text);
  return match ? { runId: match[1] as string, exitCode: Number(match[2]) } : undefined;
}

async function readRunning(file: string): Promise<{ runId: string; pid: number } | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const match = text && /^(.*)=(\d+)\s*$/.exec(text);
  return match ? { runId: match[1] as string, pid: Number(match[2]) } : undefined;
}

async function readPid(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const pid = Number(text?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  // 0 is "about to start", never a process (kill(0) would signal our own group).
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An exited child that nobody reaped yet still answers kill(0).
  const stat = (() => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return '';
    }
  })();
  return !/^\d+ \(.*\) Z/.test(stat);
}

async function killGroup(pid: number): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // Already gone.
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + KILL_GRACE_MS;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  signal('SIGKILL');
}

async function tails(files: OutputFiles): Promise<{ stdoutTail: string; stderrTail: string }> {
  return { stdoutTail: await tail(files.stdout), stderrTail: await tail(files.stderr) };
}

async function tail(file: string): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, OUTPUT_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
