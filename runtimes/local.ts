/**
 * The local runtime: a member is a directory (its volume) with a keep-alive process (its "container"),
 * and scripts run as real processes. It is the app author's fast loop, and what `npm start` uses.
 */
import { readFileSync } from 'node:fs';
import { appendFile, chmod, mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuntimeError } from './errors.ts';
import { unpackPackage } from './config-package.ts';
import {
  containmentSetting,
  enterPrefix,
  keepAliveCommand,
  namespaceReady,
  resolveContainment,
  type Containment,
  type ContainmentMode,
  type ContainmentSetting,
} from './containment.ts';
import { guestMountArgs, guestMountPrefix } from './guest-mounts.ts';
import {
  childrenOf,
  endProcesses,
  isAlive,
  namespaceOf,
  processTable,
  processesWhere,
  signalName,
  sleep,
  type ProcessInfo,
} from './processes.ts';
import { spawnDetached } from './spawner.ts';
import { GUEST_BIN_DIR } from './guest-tools.ts';
import { startscriptCommand } from './startscript.ts';
import {
  CONFIGMETA_PATH,
  GUESTCONFIG_DIR,
  OUTPUT_TAIL_BYTES,
  type GuestFile,
  type MemberSpec,
  type MemberTarget,
  type Readiness,
  type ReadyWait,
  type RunControl,
  type Runtime,
  type ScriptRequest,
  type ScriptResult,
} from './runtime.ts';

const RUNNER = fileURLToPath(new URL('./local-run.sh', import.meta.url));
/** What local-run.sh becomes where perl exists: `perl -- …/local-run.pl STATUS RUN_ID …`. */
const RUNNER_PERL = fileURLToPath(new URL('./local-run.pl', import.meta.url));
const POLL_MS = 100;
const NAMESPACE_START_MS = 10_000;

export interface LocalRuntimeOptions {
  /** Overrides KDFLOW_CONTAINMENT. */
  containment?: ContainmentSetting;
}

export class LocalRuntime implements Runtime {
  readonly kind = 'local';
  private readonly home: string;
  /** KDFLOW_CONTAINMENT as it was when the runtime was made; checked on first use. */
  private readonly requested: string | undefined;
  private resolved: Containment | undefined;
  constructor(home: string, options: LocalRuntimeOptions = {}) {
    this.home = home;
    this.requested = options.containment ?? process.env.KDFLOW_CONTAINMENT;
  }

  /** How this runtime holds a member's processes together (docs/adr/0015): fixed at first use. */
  get containment(): ContainmentMode {
    return this.resolveContainment().mode;
  }

  /** Why that mode: the setting, or what the machine does not allow. */
  get containmentReason(): string {
    return this.resolveContainment().reason;
  }

  private resolveContainment(): Containment {
    this.resolved ??= resolveContainment(containmentSetting(this.requested));
    return this.resolved;
  }

  /** $KDFLOW_HOME/members/<namespace>/<cluster>/<member>/ */
  memberRoot(member: Pick<MemberTarget, 'namespace' | 'cluster' | 'name'>): string {
    return path.join(this.clusterDir(member.namespace, member.cluster), safeSegment('member name', member.name));
  }

  /** Names become paths here, so each must be a DNS label: "..", "/" or "" never reach path.join (nor rm). */
  private clusterDir(namespace: string, cluster: string): string {
    return path.join(this.home, 'members', safeSegment('namespace', namespace), safeClusterSegment(cluster));
  }

  private guestPath(member: MemberTarget, guest: string): string {
    const root = this.memberRoot(member);
    const resolved = path.join(root, guest);
    if (!resolved.startsWith(root + path.sep))
      throw new RuntimeError('RuntimeFailure', `path ${guest} leaves the member directory`, true);
    return resolved;
  }

  /** Beside the member's directory: says the member was made, so a directory removed under it is noticed. */
  private memberRecord(member: MemberTarget): string {
    return path.join(
      this.clusterDir(member.namespace, member.cluster),
      `.${safeSegment('member name', member.name)}.member`,
    );
  }

  async ensureMember(member: MemberSpec): Promise<void> {
    const root = this.memberRoot(member);
    const record = this.memberRecord(member);
    // Its directory was removed under it: what the old member left running ends before it is made again.
    if (!(await isDir(root)) && (await exists(record))) await this.endMember(member);
    // Only the user running kdflow may read a member: script output may hold secrets.
    await mkdir(root, { recursive: true, mode: 0o700 });
    await mkdir(path.join(root, GUESTCONFIG_DIR), { recursive: true });
    await mkdir(path.join(root, path.dirname(CONFIGMETA_PATH)), { recursive: true, mode: 0o700 });
    await chmod(path.join(root, path.dirname(CONFIGMETA_PATH)), 0o700);
    for (const dir of member.persistDirs) await mkdir(this.guestPath(member, dir), { recursive: true });
    await mkdir(path.join(root, '.kdflow'), { recursive: true });
    if (!(await exists(record))) await writeFile(record, '');
    if (!(await this.keepAliveAlive(member))) await this.startKeepAlive(member);
  }

  /** Alive: the directory is there and its keep-alive runs. Never waits. */
  async probeMembers(members: MemberTarget[]): Promise<Record<string, Readiness>> {
    const result: Record<string, Readiness> = Object.create(null);
    for (const member of members) result[member.name] = await this.readiness(member);
    return result;
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

  async installPackage(
    member: MemberTarget,
    tgzPath: string,
    onProgress?: (bytes: number, total: number) => void,
  ): Promise<void> {
    await unpackPackage(tgzPath, this.guestPath(member, GUESTCONFIG_DIR), onProgress);
  }

  async runScript(member: MemberTarget, request: ScriptRequest, control: RunControl): Promise<ScriptResult> {
    const guestconfig = this.guestPath(member, GUESTCONFIG_DIR);
    const files = outputFiles(guestconfig, request.event);
    const root = this.memberRoot(member);
    const recorded = await readStatus(files.status);
    if (recorded?.runId === request.runId && recorded.ended === 0)
      return { ...(await tails(files)), exitCode: 0, timedOut: false, recorded: true };

    const running = await readRunning(files.pid);
    if (running?.runId === request.runId) {
      // A worker that died mid-run left the runner going: wait for it rather than start a second run.
      if (isAlive(running.pid)) return this.awaitRunner(running.pid, root, request, files, control);
      // `.running` still says "about to start" (pid 0): a worker killed between spawning the runner and
      // recording it left a runner nobody knows of. Only then is /proc searched (docs/adr/0012).
      if (running.pid === 0) {
        const orphan = (
          await processesWhere((p) =>
            isRunnerOf(p.argv, (status, runId) => status === files.status && runId === request.runId),
          )
        )[0];
        if (orphan !== undefined) {
          await writeFile(files.pid, `${request.runId}=${orphan}\n`);
          return this.awaitRunner(orphan, root, request, files, control);
        }
      }
      // An earlier attempt of this run is over, but what it started may not be: the script of a runner
      // killed with its worker, a daemon of a failed attempt. It ends before this attempt starts, so
      // two attempts never overlap (docs/adr/0015).
      await this.endRun(root, request.runId);
    }

    const keepAlive = await this.liveKeepAlive(member);
    if (keepAlive === undefined)
      throw new RuntimeError(
        'MemberNotReady',
        `${member.name} is dead: its keep-alive process is not running (kdflow retry re-creates it)`,
        true,
      );
    const script = await findStartscript(guestconfig);
    // Recorded before the runner exists, so a crash before its pid is recorded is seen above.
    await writeFile(files.pid, `${request.runId}=0\n`);
    // A failed earlier attempt of this run id left its status: it must not pass for this attempt's.
    await rm(files.status, { force: true });
    const etcGuestconfig = path.join(root, path.dirname(CONFIGMETA_PATH));
    const inMember =
      this.containment === 'pid-namespace'
        ? [...enterPrefix('pid-namespace', keepAlive), ...guestMountArgs(guestconfig, etcGuestconfig)]
        : guestMountPrefix(guestconfig, etcGuestconfig);
    const runner = await spawnDetached({
      command: RUNNER,
      args: [
        files.status,
        request.runId,
        files.stdout,
        files.stderr,
        ...inMember,
        // bash for a script without a shebang, and the exec bit back (runtimes/startscript.ts).
        ...(await startscriptCommand(script)),
        ...request.argv,
      ],
      cwd: root,
      env: scriptEnv(root, guestconfig, request),
    }).catch((error: Error) => {
      throw new RuntimeError('RuntimeFailure', `could not start ${script}: ${error.message}`);
    });
    await writeFile(files.pid, `${request.runId}=${runner.pid}\n`);
    // Its exit ends the wait at once instead of at the next poll.
    return this.awaitRunner(runner.pid, root, request, files, control, runner.exited);
  }

  private async awaitRunner(
    pid: number,
    root: string,
    request: ScriptRequest,
    files: OutputFiles,
    control: RunControl,
    exited?: Promise<void>,
  ): Promise<ScriptResult> {
    const deadline = Date.now() + request.timeoutSeconds * 1000;
    for (;;) {
      // Read again once the runner is gone: it may have recorded its end just before it exited.
      const status = (await readStatus(files.status)) ?? (isAlive(pid) ? undefined : await readStatus(files.status));
      if (status?.runId === request.runId)
        return { ...(await tails(files)), ...howItEnded(status.ended), recorded: false };
      if (!isAlive(pid)) {
        // The runner was killed: nobody will record how the script ends, and it may still be running.
        // It ends now, so a retry never runs beside it.
        await this.endRun(root, request.runId);
        await appendFile(
          files.stderr,
          `kdflow: the runner of ${request.runId} was killed; the rest of the run was ended\n`,
        ).catch(() => {});
        await writeStatus(files.status, request.runId, 'runner killed');
        return { ...(await tails(files)), exitCode: null, timedOut: false, recorded: false };
      }
      if (control.signal.aborted || Date.now() > deadline) {
        const timedOut = !control.signal.aborted;
        // The whole tree of the run, setsid and nohup children included.
        await this.endRun(root, request.runId, pid);
        await writeStatus(files.status, request.runId, timedOut ? 'timeout' : 'cancelled');
        if (!timedOut)
          throw new RuntimeError('RuntimeFailure', `${request.event} on ${path.basename(root)} was cancelled`);
        return { ...(await tails(files)), exitCode: null, timedOut: true, recorded: false };
      }
      control.heartbeat({ pid });
      await (exited ? Promise.race([sleep(POLL_MS), exited]) : sleep(POLL_MS));
    }
  }

  /** Every process of one run: the runner's group and whatever carries the run's tags (setsid and nohup children too). */
  private async endRun(root: string, runId: string, runner?: number): Promise<void> {
    const inMember = `${root}${path.sep}`;
    await endProcesses(
      () =>
        processesWhere(
          (p) =>
            (p.memberRoot === root && p.runId === runId) ||
            isRunnerOf(p.argv, (status, id) => status.startsWith(inMember) && id === runId),
        ),
      runner ? { groups: [runner] } : {},
    );
  }

  async removeMember(member: MemberTarget): Promise<void> {
    await this.endMember(member);
    await rm(this.memberRoot(member), { recursive: true, force: true });
    await rm(this.memberRecord(member), { force: true });
  }

  /**
   * Every process of the member: its keep-alives (by tag, not only by pid file: a worker killed
   * mid-ensure may have left one without), everything in their pid namespaces, and whatever
   * carries the member's tag (runners, and in tracked mode what its scripts started).
   */
  private async endMember(member: MemberTarget): Promise<void> {
    const root = this.memberRoot(member);
    const inMember = `${root}${path.sep}`;
    const host = namespaceOf(process.pid, 'pid');
    // One look at /proc finds the keep-alives, their namespaces and everything else of the member.
    const table = await processTable();
    const keepAlives = table.filter((p) => this.isTaggedKeepAlive(p, member) && isAlive(p.pid)).map((p) => p.pid);
    const namespaces = new Set(
      keepAlives.map((pid) => namespaceOf(pid, 'pid_for_children')).filter((ns) => ns !== undefined && ns !== host),
    );
    const isMine = (p: ProcessInfo) =>
      p.memberRoot === root ||
      this.isTaggedKeepAlive(p, member) ||
      (namespaces.size > 0 && namespaces.has(p.pidNs)) ||
      isRunnerOf(p.argv, (status) => status.startsWith(inMember));
    // The member's services get SIGTERM and a grace period, as in a container stop; its keep-alive and
    // the namespace's init (which ignore SIGTERM) go last, and with them whatever is left inside.
    const inits = keepAlives.flatMap((pid) => childrenOf(pid));
    await endProcesses(() => processesWhere(isMine), {
      first: table.filter((p) => isMine(p) && isAlive(p.pid)).map((p) => p.pid),
      killOnly: [...keepAlives, ...inits],
    });
  }

  async readGuestFile(member: MemberTarget, guestPath: string): Promise<string | undefined> {
    return readFile(this.guestPath(member, guestPath), 'utf8').catch(() => undefined);
  }

  /** Members with a directory, and those whose directory was removed under them (their `.member` file remains), so teardown ends what they left. */
  async listMembers(namespace: string, cluster: string): Promise<string[]> {
    const entries = await readdir(this.clusterDir(namespace, cluster), { withFileTypes: true }).catch(() => []);
    const dirs = entries.filter((e) => e.isDirectory()).map((e) => e.name);
    const recorded = entries
      .flatMap((e) => (e.isFile() ? (/^\.(.+)\.member$/.exec(e.name)?.slice(1) ?? []) : []))
      .filter((name) => DNS_LABEL.test(name));
    return [...new Set([...dirs, ...recorded])];
  }

  private keepAliveTag(member: MemberTarget): string {
    return `kdflow-keepalive:${member.namespace}/${member.cluster}/${member.name}`;
  }

  /** Its tag, and its directory as cwd (another KDFLOW_HOME may use the same names). */
  private isTaggedKeepAlive(p: ProcessInfo, member: MemberTarget): boolean {
    return p.argv[0] === this.keepAliveTag(member) && p.cwd === this.memberRoot(member);
  }

  private async keepAliveAlive(member: MemberTarget): Promise<boolean> {
    return (await this.liveKeepAlive(member)) !== undefined;
  }

  /** The pid of the member's keep-alive when it runs, and (in a pid namespace) holds the member's namespace. */
  private async liveKeepAlive(member: MemberTarget): Promise<number | undefined> {
    const pid = await readPid(path.join(this.memberRoot(member), '.kdflow', 'keepalive.pid'));
    return pid !== undefined && this.isKeepAlive(pid, member) ? pid : undefined;
  }

  private isKeepAlive(pid: number, member: MemberTarget): boolean {
    // The tag in argv0: a recycled pid is never mistaken for the member's.
    const argv0 = readOr(`/proc/${pid}/cmdline`, '').split('\0')[0];
    if (argv0 !== this.keepAliveTag(member) || !isAlive(pid)) return false;
    return this.containment === 'tracked' || namespaceReady(pid);
  }

  private async keepAlivesOf(member: MemberTarget): Promise<number[]> {
    return processesWhere((p) => this.isTaggedKeepAlive(p, member));
  }

  private async startKeepAlive(member: MemberTarget): Promise<void> {
    const root = this.memberRoot(member);
    const pidFile = path.join(root, '.kdflow', 'keepalive.pid');
    const recorded = (await readFile(pidFile, 'utf8').catch(() => undefined))?.trim();
    // The pid file still says "about to start" (0): a killed worker may have started one and never
    // recorded it. Adopt it, so a member never gets two. Only then is /proc searched (docs/adr/0012).
    if (recorded === '0') {
      const adopted = (await this.keepAlivesOf(member)).find((pid) => this.isKeepAlive(pid, member));
      if (adopted !== undefined) {
        await writeFile(pidFile, `${adopted}\n`);
        return;
      }
    }
    // The member had a keep-alive and it is gone: the member died. What it left (in tracked mode, what
    // its scripts started; a keep-alive of the wrong kind) ends before it starts again.
    if (recorded !== undefined) await this.endMember(member);
    await writeFile(pidFile, '0\n');
    const { command, args } = keepAliveCommand(this.containment);
    const keepAlive = await spawnDetached({
      command,
      args,
      argv0: this.keepAliveTag(member),
      cwd: root,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', KDFLOW_MEMBER_ROOT: root },
    });
    await writeFile(pidFile, `${keepAlive.pid}\n`);
    if (this.containment === 'pid-namespace') await awaitNamespace(keepAlive.pid, keepAlive.exited, member.name);
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Cluster names may be dotted (`ubuntu18.04`): never "." or "..", as they start and end with a letter or digit. */
const CLUSTER_NAME = /^[a-z0-9]([-.a-z0-9]{0,61}[a-z0-9])?$/;

function safeClusterSegment(cluster: string): string {
  if (!CLUSTER_NAME.test(cluster))
    throw new RuntimeError(
      'RuntimeFailure',
      `cluster name ${JSON.stringify(cluster)} is not a DNS-1123 subdomain`,
      true,
    );
  return cluster;
}

function safeSegment(what: string, value: string): string {
  if (!DNS_LABEL.test(value))
    throw new RuntimeError('RuntimeFailure', `${what} ${JSON.stringify(value)} is not a DNS-1123 label`, true);
  return value;
}

/** The runner is `sh local-run.sh STATUS RUN_ID …`, which becomes `perl -- local-run.pl STATUS RUN_ID …` where perl exists. */
function isRunnerOf(argv: string[], match: (statusFile: string, runId: string) => boolean): boolean {
  const at = argv.findIndex((arg) => arg === RUNNER || arg === RUNNER_PERL);
  return at >= 0 && match(argv[at + 1] ?? '', argv[at + 2] ?? '');
}

/** A pid namespace's keep-alive is ready once its pid 1 runs; before that, a script entering it would become pid 1. */
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
    // The configcli helpers first (runtimes/guest-tools.ts): the member's own copy, at its host path.
    PATH: `${path.join(guestconfig, path.relative(GUESTCONFIG_DIR, GUEST_BIN_DIR))}:${process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`,
    HOME: root,
    LANG: 'C.UTF-8',
    KDFLOW_MEMBER_ROOT: root,
    CONFIGMETA: path.join(root, CONFIGMETA_PATH),
    GUESTCONFIG_DIR: guestconfig,
    KDFLOW_RUN_ID: request.runId,
  };
  for (const { name, value } of request.env) env[name] = value;
  // The tags that find the run's processes again: a role env of the same name does not replace them.
  env.KDFLOW_MEMBER_ROOT = root;
  env.KDFLOW_RUN_ID = request.runId;
  return env;
}

async function findStartscript(guestconfig: string): Promise<string> {
  const entries = await readdir(guestconfig, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const candidate = path.join(guestconfig, entry.name, 'startscript');
    const info = await stat(candidate).catch(() => undefined);
    if (info?.isFile()) return candidate;
  }
  throw new RuntimeError(
    'ScriptMissing',
    `no ${GUESTCONFIG_DIR}/*/startscript in the member (was the config package installed?)`,
    true,
  );
}

/**
 * `<run id>=<how it ended>` (KubeDirector's `<id>=<code>` for an exit): an exit code, `signal N`
 * (recorded by the runner, which saw the wait status), or what the runtime did: `timeout`,
 * `cancelled`, `runner killed`.
 */
type Ended = number | `signal ${number}` | 'timeout' | 'cancelled' | 'runner killed';

async function readStatus(file: string): Promise<{ runId: string; ended: Ended } | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const match = text && /^(.*)=(-?\d+|signal \d+|timeout|cancelled|runner killed)\n?$/.exec(text);
  if (!match) return undefined;
  const ended = match[2] as string;
  return { runId: match[1] as string, ended: /^-?\d+$/.test(ended) ? Number(ended) : (ended as Ended) };
}

async function writeStatus(file: string, runId: string, ended: Ended): Promise<void> {
  await writeFile(`${file}.tmp`, `${runId}=${ended}\n`);
  await rename(`${file}.tmp`, file);
}

function howItEnded(ended: Ended): Pick<ScriptResult, 'exitCode' | 'signal' | 'timedOut'> {
  if (typeof ended === 'number') return { exitCode: ended, timedOut: false };
  if (ended.startsWith('signal '))
    return { exitCode: null, signal: signalName(Number(ended.slice('signal '.length))), timedOut: false };
  return { exitCode: null, timedOut: ended === 'timeout' };
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

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
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

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
