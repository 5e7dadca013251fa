/**
 * Where members live. The local runtime makes directories and processes; the Kubernetes runtime
 * makes Pods, PVCs and Services. A runtime is the member lifecycle (ensure, await ready, probe,
 * list, remove, remove cluster), the member's files, and one primitive, `exec`: a command in the
 * member. Script runs are written once on top of it (runtimes/script/, docs/adr/0021), so a third
 * runtime (plain SSH hosts, say) is a new file.
 */
import type {
  ClusterRole,
  EffectiveRole,
  EnvVar,
  ObjectKind,
  RoleService,
  StoredObject,
  TokenStatus,
  TokenWake,
} from '../api/index.ts';

export interface MemberTarget {
  namespace: string;
  cluster: string;
  name: string;
  role: string;
  ordinal: number;
  fqdn: string;
}

/** Everything needed to create a member, fixed at creation time. */
export interface MemberSpec extends MemberTarget {
  image: EffectiveRole['image'];
  persistDirs: EffectiveRole['persistDirs'];
  /** The cluster's settings for the role: resources, storage, env, labels, service type. */
  settings?: ClusterRole;
  /** The app's service endpoints this role exposes (KubeDirector's roleServices). */
  services?: RoleService[];
  /** Set by a rolling operation (docs/adr/0037): the replacement the member must be at; Kubernetes annotates its pod with it. */
  replacement?: string;
}

/** A rolling operation's replacement of a member (docs/adr/0037): idempotent by `token`. */
export interface Replacement {
  /** Names this replacement: a member already at it is left alone, so a retried activity never replaces twice. */
  token: string;
  /** End the member's processes (a restart); Kubernetes re-creates the pod in every replacement. */
  restart: boolean;
}

export interface Readiness {
  ready: boolean;
  /** Why not, such as "Unschedulable: 0/1 nodes are available" or "keep-alive process exited". */
  reason?: string;
}

export interface GuestFile {
  /** An absolute path inside the member, such as /etc/guestconfig/configmeta.json. */
  path: string;
  content: string | Uint8Array;
  mode: number;
}

export interface ScriptRequest {
  runId: string;
  /** A lifecycle event, `reconnect`, or `action-NAME` (docs/adr/0050): it names the run's files, `<event>.{stdout,stderr,status}`. */
  event: string;
  argv: string[];
  env: EnvVar[];
  timeoutSeconds: number;
}

export interface ScriptResult {
  /** Null when the script did not exit by itself: killed by a signal, timed out, its runner lost. */
  exitCode: number | null;
  /** The signal that killed the script, such as 'SIGKILL', when one did. */
  signal?: string;
  /** Ended by the runner at its timeout, counted from the run's start (not from an adoption). */
  timedOut: boolean;
  /** Killed for want of memory, where the runtime can see it (the pod's OOMKilled on Kubernetes). */
  oomKilled?: boolean;
  stdoutTail: string;
  stderrTail: string;
  /** True when the result was read from an earlier run with the same run id. */
  recorded: boolean;
}

/** How long, and under which cancellation, a runtime may wait for members to become ready. */
export interface ReadyWait {
  deadline: number;
  signal: AbortSignal;
  heartbeat: (detail?: unknown) => void;
}

export interface RunControl {
  signal: AbortSignal;
  heartbeat: (detail?: unknown) => void;
  /** The cluster's tokens (docs/adr/0047), for `ccli --tokenwake/--tokenwait`; without them a request is refused. */
  tokens?: TokenBook;
}

/** Where woken tokens are kept: the cluster workflow, reached through the activity's Temporal client. */
export interface TokenBook {
  /** Resolves once the wake is recorded. */
  wake(wake: TokenWake): Promise<void>;
  /** Which of `keys` (`FQDN/TOKEN`, `* /TOKEN` without the space) are woken, and how. */
  woken(keys: string[]): Promise<Record<string, TokenStatus>>;
}

export interface ExecOptions {
  /** Bytes for the command's stdin, which is closed after them. */
  stdin?: Uint8Array;
  /** Ends the exec (the command itself on the local runtime, the stream on Kubernetes). */
  signal?: AbortSignal;
}

export interface ExecResult {
  /** Null when it did not exit by itself (ended by the signal, a broken stream, a refused exec). */
  exitCode: number | null;
  stdout: Buffer;
  stderr: string;
  /** Why, when it did not succeed, for error text. */
  message?: string;
}

/** A member whose container died, as a runtime's watch saw it (docs/adr/0049). */
export interface MemberDown {
  namespace: string;
  cluster: string;
  member: string;
  /** What was seen, one short line: `keep-alive process is not running`, `pod deleted`. */
  reason: string;
}

export interface Runtime {
  readonly kind: string;
  /** Create if absent. A member whose process died is started again. */
  ensureMember(member: MemberSpec): Promise<void>;
  /**
   * Brings an existing member to a replacement before `ensureMember` (docs/adr/0037). Kubernetes
   * deletes the pod (its PVC stays) and waits until it is gone, so that `ensureMember` creates it again
   * with the new image and settings, same name, same volume. Locally, the old config package goes
   * (its startscript must not be the one a run finds) and a restart ends the member's processes; the
   * member's directory and persisted state stay. Does nothing when the member is at `token` already.
   */
  replaceMember(member: MemberSpec, replacement: Replacement, heartbeat: (detail?: unknown) => void): Promise<void>;
  /** Waits until every member is ready, the deadline passes or a failure is certain; one entry per member. */
  awaitReady(members: MemberTarget[], wait: ReadyWait): Promise<Record<string, Readiness>>;
  /**
   * Never waits: whether each member is alive now, one entry per member. Not ready means dead (its
   * directory or keep-alive gone on the local runtime; its Pod gone, deleted or not Running on Kubernetes).
   */
  probeMembers(members: MemberTarget[]): Promise<Record<string, Readiness>>;
  writeFiles(member: MemberTarget, files: GuestFile[]): Promise<void>;
  /** Unpack a verified config package (.tgz) into /opt/guestconfig, without setuid, setgid or sticky bits; reports archive bytes done. */
  installPackage(
    member: MemberTarget,
    tgzPath: string,
    onProgress?: (bytes: number, total: number) => void,
  ): Promise<void>;
  /**
   * Unpack a package that is a file inside the member's image (`file:///path` on Kubernetes, as in
   * KubeDirector; docs/adr/0045). Runtimes whose members have no image leave it out.
   */
  installImagePackage?(member: MemberTarget, guestPath: string): Promise<void>;
  /**
   * Runs argv in the member, as its own process: on Kubernetes in the pod's container; on the local
   * runtime in the member's pid namespace (docs/adr/0015) with the member's directory as cwd and
   * KDFLOW_MEMBER_ROOT set (the root the in-member programs put paths under: empty in a real pod).
   * Resolves when the command has ended. A dead member fails with MemberNotReady.
   */
  exec(member: MemberTarget, argv: string[], options?: ExecOptions): Promise<ExecResult>;
  /** What a startscript is started through, after the exec: on the local runtime its own /proc and the guest paths (ADR 0006). */
  scriptPrefix(member: MemberTarget): string[];
  /**
   * An exec's output stream stays open however long nothing is written to it (the local runtime's
   * pipes): a script run then spends no keep-busy process (docs/adr/0048). Unset: the stream may be
   * closed when idle (Kubernetes), so the start program writes a dot every 5 s.
   */
  readonly execStreamsStayOpen?: boolean;
  /** One line on how members are kept here, for status (the local runtime: containment and member network, ADR 0046). */
  describe?(): string;
  /** Whether the member was killed for want of memory since then (epoch ms); runtimes that cannot see it leave it out. */
  oomKilledSince?(member: MemberTarget, since: number): Promise<boolean>;
  /** Delete if present, volume included. */
  removeMember(member: MemberTarget): Promise<void>;
  /** A file inside the member, such as /opt/guestconfig/configure.stdout; undefined when absent. */
  readGuestFile(member: MemberTarget, guestPath: string): Promise<string | undefined>;
  /** Names of the members that exist for a cluster, so teardown also finds ones created by a cancelled step. */
  listMembers(namespace: string, cluster: string): Promise<string[]>;
  /** A ConfigMap or Secret a cluster connects to, from the runtime's API; runtimes without one leave it out (docs/adr/0044). */
  readObject?(kind: ObjectKind, namespace: string, name: string): Promise<StoredObject | undefined>;
  /** Cluster-wide leftovers (the headless Service, the cluster directory), once every member is gone. */
  removeCluster(namespace: string, cluster: string): Promise<void>;
  /**
   * Until `signal` aborts: calls `onDown` once for each death of a member's container this runtime
   * sees, for every cluster (one watch per worker, not per cluster: docs/adr/0049). A member removed
   * on purpose may be reported too: the workflow checks every report. Resolves when aborted.
   */
  watchMembers?(onDown: (down: MemberDown) => void, signal: AbortSignal): Promise<void>;
}

export const GUESTCONFIG_DIR = '/opt/guestconfig';
export const CONFIGMETA_PATH = '/etc/guestconfig/configmeta.json';
export const OUTPUT_TAIL_BYTES = 4096;
/**
 * SIGTERM, then this long before SIGKILL: for a run's processes (timeout, cancel, lost runner) on
 * every runtime, and for a local member's services on removal, as in a container stop.
 */
export const KILL_GRACE_SECONDS = 3;
