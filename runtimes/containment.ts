/**
 * How the local runtime holds a member's processes together (docs/adr/0015-member-process-containment.md).
 *
 * - `pid-namespace`: the member's keep-alive is `unshare --pid --fork --kill-child`, whose child is
 *   pid 1 of a namespace of the member's own; every script run enters it (`nsenter`). When the
 *   keep-alive ends, the kernel ends everything in the namespace: no daemon outlives its member.
 * - `tracked`: where the machine allows no namespace (no root and no user namespaces, as in most
 *   containers), the member's processes are found by the KDFLOW_MEMBER_ROOT and KDFLOW_RUN_ID every
 *   script and its descendants inherit, and ended by the runtime. A process that clears its
 *   environment escapes this.
 *
 * KDFLOW_CONTAINMENT = `auto` (default: a pid namespace when the probe passes, else tracked),
 * `pidns` (fail when the machine cannot), or `tracked`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { childrenOf, namespaceOf } from './processes.ts';
import { RuntimeError } from './errors.ts';

export type ContainmentSetting = 'auto' | 'pidns' | 'tracked';
export type ContainmentMode = 'pid-namespace' | 'tracked';

export interface Containment {
  mode: ContainmentMode;
  /** Why this mode: the setting, or why a pid namespace is not possible here. */
  reason: string;
}

export function containmentSetting(raw = process.env.KDFLOW_CONTAINMENT || 'auto'): ContainmentSetting {
  if (raw === 'auto' || raw === 'pidns' || raw === 'tracked') return raw;
  throw new RuntimeError('RuntimeFailure', `KDFLOW_CONTAINMENT must be auto, pidns or tracked, not "${raw}"`, true);
}

export function resolveContainment(setting: ContainmentSetting): Containment {
  if (setting === 'tracked') return { mode: 'tracked', reason: 'KDFLOW_CONTAINMENT=tracked' };
  const support = pidNamespaceSupport();
  if (support.available)
    return {
      mode: 'pid-namespace',
      reason: setting === 'pidns' ? 'KDFLOW_CONTAINMENT=pidns' : 'a pid namespace is allowed here',
    };
  if (setting === 'pidns')
    throw new RuntimeError('RuntimeFailure', `KDFLOW_CONTAINMENT=pidns but ${support.reason}`, true);
  return { mode: 'tracked', reason: support.reason ?? 'a pid namespace is not allowed here' };
}

const asRoot = () => process.geteuid?.() === 0;

/** Root needs only a pid namespace; anyone else a user namespace to own it. */
function unshareArgs(): string[] {
  return [...(asRoot() ? [] : ['--user', '--map-root-user']), '--pid', '--fork', '--kill-child'];
}

/**
 * The keep-alive: in a pid namespace, pid 1 is `sleep infinity` with SIGCHLD ignored, so the
 * orphans it inherits (a script's daemons, once the script exits) are reaped by the kernel.
 */
export function keepAliveCommand(
  mode: ContainmentMode,
  lifetime = 'infinity',
  /** More namespaces of the member's own (its hostname, its network: docs/adr/0046). */
  namespaces: string[] = [],
): { command: string; args: string[] } {
  if (mode === 'tracked') return { command: 'sleep', args: [lifetime] };
  return {
    command: 'unshare',
    args: [...unshareArgs(), ...namespaces, 'env', '--ignore-signal=CHLD', 'sleep', lifetime],
  };
}

/**
 * The argv prefix that runs a command inside the member's pid namespace ([] when tracked): how
 * `exec` enters a member. /proc stays the host's, so the protocol's pid files hold pids a host
 * `kill` can use (docs/adr/0021).
 */
export function enterPidNamespace(mode: ContainmentMode, keepAlivePid: number, namespaces: string[] = []): string[] {
  if (mode === 'tracked') return [];
  const user = asRoot() ? [] : [`--user=/proc/${keepAlivePid}/ns/user`, '--preserve-credentials'];
  return ['nsenter', ...user, `--pid=/proc/${keepAlivePid}/ns/pid_for_children`, ...namespaces, '--'];
}

/**
 * What a script is started through once inside the pid namespace: a mount namespace of its own whose
 * /proc shows that pid namespace, so `ps`, `pidof` and `kill` in a script agree on pids. The guest
 * mounts (ADR 0006) go after it, in the same mount namespace. [] when tracked.
 */
export function scriptNamespace(mode: ContainmentMode): string[] {
  return mode === 'tracked' ? [] : ['unshare', '--mount', '--propagation', 'private', '--mount-proc'];
}

/** Both: a command entering the member as a script does. */
export function enterPrefix(mode: ContainmentMode, keepAlivePid: number): string[] {
  return [...enterPidNamespace(mode, keepAlivePid), ...scriptNamespace(mode)];
}

/**
 * The namespace's pid 1 exists and runs its own program: before that, the first process to enter
 * would become pid 1 itself, and the forked child would still carry the keep-alive's tag.
 */
export function namespaceReady(keepAlivePid: number): boolean {
  const inner = namespaceOf(keepAlivePid, 'pid_for_children');
  const program = exeOf(keepAlivePid);
  return (
    inner !== undefined &&
    inner !== namespaceOf(process.pid, 'pid') &&
    childrenOf(keepAlivePid).some(
      (child) => namespaceOf(child, 'pid') === inner && exeOf(child) !== undefined && exeOf(child) !== program,
    )
  );
}

function exeOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

export interface PidNamespaceSupport {
  available: boolean;
  reason?: string;
}

let probed: PidNamespaceSupport | undefined;

/** Probed once per process: a keep-alive of the real form starts, and a command really enters it. */
export function pidNamespaceSupport(): PidNamespaceSupport {
  probed ??= probe();
  return probed;
}

function probe(): PidNamespaceSupport {
  const quick = spawnSync('unshare', [...unshareArgs(), 'env', '--ignore-signal=CHLD', 'true'], { encoding: 'utf8' });
  if (quick.error) return { available: false, reason: `unshare is not available (${quick.error.message})` };
  if (quick.status !== 0)
    return {
      available: false,
      reason: `a pid namespace is not allowed here: ${(quick.stderr || `exit ${quick.status}`).trim()}`,
    };
  const { command, args } = keepAliveCommand('pid-namespace', '30');
  const keepAlive = spawn(command, args, { stdio: 'ignore', detached: true });
  keepAlive.on('error', () => {});
  keepAlive.unref();
  const pid = keepAlive.pid;
  if (pid === undefined) return { available: false, reason: 'unshare could not be started' };
  try {
    const waitMs = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 5_000;
    while (!namespaceReady(pid) && Date.now() < deadline) Atomics.wait(waitMs, 0, 0, 2);
    if (!namespaceReady(pid))
      return { available: false, reason: 'the probe keep-alive did not start its namespace within 5 s' };
    const [nsenter, ...enter] = enterPrefix('pid-namespace', pid) as [string, ...string[]];
    const entered = spawnSync(nsenter, [...enter, 'readlink', '/proc/self/ns/pid'], { encoding: 'utf8' });
    if (entered.error) return { available: false, reason: `nsenter is not available (${entered.error.message})` };
    if (entered.status !== 0 || entered.stdout.trim() !== namespaceOf(pid, 'pid_for_children')) {
      return {
        available: false,
        reason: `entering a pid namespace is not allowed here: ${(entered.stderr || `exit ${entered.status}`).trim()}`,
      };
    }
    return { available: true };
  } finally {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}
