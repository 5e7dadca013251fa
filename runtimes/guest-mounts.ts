/**
 * Unmodified KubeDirector scripts read /etc/guestconfig/configmeta.json and write /opt/guestconfig.
 * Where the machine allows a mount namespace, the local runtime runs each script in its own, with
 * the member's directories bind-mounted there; elsewhere the env vars are the contract (ADR 0006).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuntimeError } from './errors.ts';

const GUEST_MOUNT = fileURLToPath(new URL('./guest-mount.sh', import.meta.url));
export const MOUNT_POINTS = ['/opt/guestconfig', '/etc/guestconfig'] as const;

export type GuestMountMode = 'auto' | 'off' | 'required';

export interface GuestMountSupport {
  available: boolean;
  /** Why not, when not available. */
  reason?: string;
}

export function guestMountMode(): GuestMountMode {
  const raw = process.env.KDFLOW_GUEST_MOUNTS ?? 'auto';
  if (raw === 'auto' || raw === 'off' || raw === 'required') return raw;
  throw new RuntimeError('RuntimeFailure', `KDFLOW_GUEST_MOUNTS must be auto, off or required, not "${raw}"`, true);
}

/** Non-root users need a user namespace too; root only a mount namespace. */
function unshareArgs(): string[] {
  return process.geteuid?.() === 0 ? ['-m', '--propagation', 'private'] : ['-r', '-m', '--propagation', 'private'];
}

let probed: GuestMountSupport | undefined;

/** Probes once per process: mount points present (or creatable), and a bind mount that really works. */
export function guestMountSupport(): GuestMountSupport {
  if (probed) return probed;
  probed = probe();
  return probed;
}

function probe(): GuestMountSupport {
  for (const point of MOUNT_POINTS) {
    try {
      mkdirSync(point, { recursive: true });
    } catch (error) {
      return {
        available: false,
        reason: `mount point ${point} is missing and cannot be created (${(error as NodeJS.ErrnoException).code})`,
      };
    }
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kdflow-mount-probe-'));
  try {
    writeFileSync(path.join(dir, 'probe'), 'ok');
    const result = spawnSync('unshare', [...unshareArgs(), GUEST_MOUNT, dir, dir, 'cat', '/etc/guestconfig/probe'], {
      encoding: 'utf8',
    });
    if (result.error) return { available: false, reason: `unshare is not available (${result.error.message})` };
    if (result.status !== 0 || result.stdout !== 'ok')
      return {
        available: false,
        reason: `a mount namespace is not allowed here: ${(result.stderr || `exit ${result.status}`).trim()}`,
      };
    return { available: true };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The argv prefix that runs a command with the member's dirs at the guest paths, or [] when off. */
export function guestMountPrefix(optGuestconfig: string, etcGuestconfig: string): string[] {
  const mount = guestMountArgs(optGuestconfig, etcGuestconfig);
  return mount.length > 0 ? ['unshare', ...unshareArgs(), ...mount] : [];
}

/**
 * The guest-mount step alone, for a caller already in a mount namespace of its own (a run inside its
 * member's pid namespace: docs/adr/0015), or [] when off.
 */
export function guestMountArgs(optGuestconfig: string, etcGuestconfig: string): string[] {
  const mode = guestMountMode();
  if (mode === 'off') return [];
  const support = guestMountSupport();
  if (!support.available) {
    if (mode === 'required')
      throw new RuntimeError('RuntimeFailure', `KDFLOW_GUEST_MOUNTS=required but ${support.reason}`, true);
    return [];
  }
  return [GUEST_MOUNT, optGuestconfig, etcGuestconfig];
}
