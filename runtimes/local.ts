/**
 * The local runtime: a member is a directory (its volume) with a keep-alive process (its "container"),
 * and commands run in it as real processes. It is the app author's fast loop, and what `npm start`
 * uses. Its parts: runtimes/local/ (directory layout, keep-alives, finding a member's processes,
 * exec); script runs are the shared protocol (runtimes/script/).
 */
import { chmod, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError } from './errors.ts';
import {
  containmentSetting,
  enterPidNamespace,
  resolveContainment,
  scriptNamespace,
  type Containment,
  type ContainmentMode,
  type ContainmentSetting,
} from './containment.ts';
import { guestMountArgs, guestMountPrefix } from './guest-mounts.ts';
import { execIn } from './local/exec.ts';
import { KeepAlives } from './local/keep-alive.ts';
import { DNS_LABEL, MemberLayout, exists, isDir } from './local/layout.ts';
import { endMember } from './local/member-processes.ts';
import { PackageCopies } from './local/package-copies.ts';
import { watchLocalMembers } from './local/watch.ts';
import { Sandbox, networkSetting, resolveNetwork, type NetworkMode, type NetworkSetting } from './local/sandbox.ts';
import {
  CONFIGMETA_PATH,
  GUESTCONFIG_DIR,
  type ExecOptions,
  type ExecResult,
  type GuestFile,
  type MemberDown,
  type MemberSpec,
  type MemberTarget,
  type Readiness,
  type ReadyWait,
  type Replacement,
  type Runtime,
} from './runtime.ts';

export interface LocalRuntimeOptions {
  /** Overrides KDFLOW_CONTAINMENT. */
  containment?: ContainmentSetting;
  /** How often the heal watch looks at every member (docs/adr/0049); KDFLOW_WATCH_INTERVAL_MS, 2000 by default. */
  watchIntervalMs?: number;
  /** Runs keep their exec streams busy with dots, as on a runtime whose idle streams drop (tests of that loop). */
  keepExecStreamsBusy?: boolean;
  /** Overrides KDFLOW_MEMBER_NETWORK. */
  network?: NetworkSetting;
}

/** KDFLOW_WATCH_INTERVAL_MS: a whole number of milliseconds, at least 100. */
export function watchIntervalSetting(env: NodeJS.ProcessEnv = process.env): number {
  const setting = env.KDFLOW_WATCH_INTERVAL_MS;
  if (setting === undefined || setting === '') return 2000;
  const ms = Number(setting);
  if (!Number.isSafeInteger(ms) || ms < 100)
    throw new Error(
      `KDFLOW_WATCH_INTERVAL_MS: got ${JSON.stringify(setting)}; expected whole milliseconds, at least 100`,
    );
  return ms;
}

export class LocalRuntime implements Runtime {
  readonly kind = 'local';
  /** Its exec output is a pipe to the worker's spawner: an idle run keeps it open. */
  readonly execStreamsStayOpen: boolean;
  private readonly layout: MemberLayout;
  private readonly home: string;
  private readonly keepAlives: KeepAlives;
  private readonly packages: PackageCopies;
  /** KDFLOW_CONTAINMENT as it was when the runtime was made; checked on first use. */
  private readonly requested: string | undefined;
  private resolved: Containment | undefined;
  private readonly requestedNetwork: string | undefined;
  private sandboxed: Sandbox | undefined;
  private readonly watchIntervalMs: number;
  constructor(home: string, options: LocalRuntimeOptions = {}) {
    this.layout = new MemberLayout(home);
    this.watchIntervalMs = options.watchIntervalMs ?? watchIntervalSetting();
    this.execStreamsStayOpen = options.keepExecStreamsBusy !== true;
    this.home = path.resolve(home);
    this.keepAlives = new KeepAlives(
      this.layout,
      () => this.containment,
      () => this.sandbox.unshareFlags(),
    );
    this.packages = new PackageCopies(path.join(home, '.unpack'));
    this.requested = options.containment ?? process.env.KDFLOW_CONTAINMENT;
    this.requestedNetwork = options.network ?? process.env.KDFLOW_MEMBER_NETWORK;
  }

  /** How members look like pods here (docs/adr/0046): their own network namespace, a loopback address each, or the host's. */
  get network(): NetworkMode {
    return this.sandbox.network.mode;
  }

  /** Why that network: the setting, or what the machine does not allow. */
  get networkReason(): string {
    return this.sandbox.network.reason;
  }

  describe(): string {
    return `local: ${this.containment === 'pid-namespace' ? 'a pid namespace per member' : 'processes tracked'}; member network: ${this.network} (${this.networkReason})`;
  }

  private get sandbox(): Sandbox {
    this.sandboxed ??= new Sandbox(resolveNetwork(networkSetting(this.requestedNetwork), this.containment));
    return this.sandboxed;
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
    return this.layout.memberRoot(member);
  }

  async ensureMember(member: MemberSpec): Promise<void> {
    const root = this.memberRoot(member);
    const record = this.layout.memberRecord(member);
    // Its directory was removed under it: what the old member left running ends before it is made again.
    if (!(await isDir(root)) && (await exists(record))) await this.endMember(member);
    // Only the user running kdflow may read a member: script output may hold secrets.
    await mkdir(root, { recursive: true, mode: 0o700 });
    await mkdir(path.join(root, GUESTCONFIG_DIR), { recursive: true });
    await mkdir(path.join(root, path.dirname(CONFIGMETA_PATH)), { recursive: true, mode: 0o700 });
    await chmod(path.join(root, path.dirname(CONFIGMETA_PATH)), 0o700);
    for (const dir of member.persistDirs) await mkdir(this.layout.guestPath(member, dir), { recursive: true });
    await mkdir(path.join(root, '.kdflow'), { recursive: true });
    await this.sandbox.prepare(root);
    await this.sandbox.recordPersistDirs(root, member.persistDirs);
    if (!(await exists(record))) await writeFile(record, '');
    let keepAlive = this.keepAlives.live(member);
    if (keepAlive === undefined) {
      await this.keepAlives.start(member, () => this.endMember(member));
      keepAlive = this.keepAlives.live(member);
    }
    if (keepAlive !== undefined)
      await this.sandbox.up(member, root, this.clusterDir(member), keepAlive, this.enter(keepAlive));
  }

  private clusterDir(member: Pick<MemberTarget, 'namespace' | 'cluster'>): string {
    return this.layout.clusterDir(member.namespace, member.cluster);
  }

  /** nsenter into the member's pid namespace, hostname and network. */
  private enter(keepAlive: number): string[] {
    return enterPidNamespace(this.containment, keepAlive, this.sandbox.nsenterFlags(keepAlive));
  }

  async replaceMember(member: MemberSpec, replacement: Replacement): Promise<void> {
    const root = this.memberRoot(member);
    const record = path.join(root, '.kdflow', 'replacement');
    if ((await readFile(record, 'utf8').catch(() => undefined)) === replacement.token) return;
    if (replacement.restart) await this.endMember(member);
    // A package's directory is the one holding its startscript; output and persisted state stay.
    const guestconfig = this.layout.guestPath(member, GUESTCONFIG_DIR);
    const entries = await readdir(guestconfig, { withFileTypes: true }).catch(() => []);
    for (const entry of entries)
      if (entry.isDirectory() && (await exists(path.join(guestconfig, entry.name, 'startscript'))))
        await rm(path.join(guestconfig, entry.name), { recursive: true, force: true });
    await mkdir(path.dirname(record), { recursive: true });
    await writeFile(record, replacement.token);
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

  /** Every member of this home, every interval: the heal watch (docs/adr/0049). */
  watchMembers(onDown: (down: MemberDown) => void, signal: AbortSignal): Promise<void> {
    return watchLocalMembers(
      {
        membersDir: this.layout.membersDir(),
        intervalMs: this.watchIntervalMs,
        readiness: (m) => this.readiness(m),
        incarnation: async (m) => (await readFile(this.layout.stateFile(m, 'keepalive.pid'), 'utf8')).trim(),
      },
      onDown,
      signal,
    );
  }

  async removeCluster(namespace: string, cluster: string): Promise<void> {
    await this.sandbox.removeCluster(this.layout.clusterDir(namespace, cluster));
    await rm(this.layout.clusterDir(namespace, cluster), { recursive: true, force: true });
  }

  private async readiness(member: MemberTarget): Promise<Readiness> {
    // The keep-alive's pid file is inside the member's directory: found running, the directory is there.
    if (this.keepAlives.live(member) !== undefined) return { ready: true };
    const root = this.memberRoot(member);
    if (!(await isDir(root))) return { ready: false, reason: `member directory ${root} is missing` };
    return { ready: false, reason: 'keep-alive process is not running' };
  }

  async writeFiles(member: MemberTarget, files: GuestFile[]): Promise<void> {
    for (const file of files) {
      const target = this.layout.guestPath(member, file.path);
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
    await this.packages.install(tgzPath, this.layout.guestPath(member, GUESTCONFIG_DIR), onProgress);
  }

  async exec(member: MemberTarget, argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const keepAlive = this.keepAlives.live(member);
    if (keepAlive === undefined)
      throw new RuntimeError(
        'MemberNotReady',
        `${member.name} is dead: its keep-alive process is not running (kdflow retry re-creates it)`,
        true,
      );
    return execIn(this.memberRoot(member), this.enter(keepAlive), argv, options);
  }

  /**
   * A fresh /proc of the member's pid namespace, then the guest mounts (ADR 0006) with the pod's view
   * (ADR 0046: persistDirs, /tmp, /etc/hosts); tracked: the guest mounts alone.
   */
  scriptPrefix(member: MemberTarget): string[] {
    const guestconfig = this.layout.guestPath(member, GUESTCONFIG_DIR);
    const etcGuestconfig = this.layout.guestPath(member, path.dirname(CONFIGMETA_PATH));
    if (this.containment !== 'pid-namespace') return guestMountPrefix(guestconfig, etcGuestconfig);
    const mounts = guestMountArgs(guestconfig, etcGuestconfig);
    const pod =
      mounts.length > 0
        ? this.sandbox.mountArgs(member, this.memberRoot(member), this.clusterDir(member), this.home)
        : [];
    return [...scriptNamespace(this.containment), ...mounts, ...pod];
  }

  async removeMember(member: MemberTarget): Promise<void> {
    await this.endMember(member);
    await this.sandbox.release(member, this.clusterDir(member));
    await rm(this.memberRoot(member), { recursive: true, force: true });
    await rm(this.layout.memberRecord(member), { force: true });
  }

  private endMember(member: MemberTarget): Promise<void> {
    return endMember(this.memberRoot(member), member, this.keepAlives);
  }

  async readGuestFile(member: MemberTarget, guestPath: string): Promise<string | undefined> {
    return readFile(this.layout.guestPath(member, guestPath), 'utf8').catch(() => undefined);
  }

  /** Members with a directory, and those whose directory was removed under them (their `.member` file remains), so teardown ends what they left. */
  async listMembers(namespace: string, cluster: string): Promise<string[]> {
    const entries = await readdir(this.layout.clusterDir(namespace, cluster), { withFileTypes: true }).catch(() => []);
    const dirs = entries.filter((e) => e.isDirectory() && DNS_LABEL.test(e.name)).map((e) => e.name);
    const recorded = entries
      .flatMap((e) => (e.isFile() ? (/^\.(.+)\.member$/.exec(e.name)?.slice(1) ?? []) : []))
      .filter((name) => DNS_LABEL.test(name));
    return [...new Set([...dirs, ...recorded])];
  }
}
