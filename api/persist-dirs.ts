/**
 * persistDirs the local runtime cannot mount at their guest paths (docs/adr/0046): the host's system
 * directories, which an image owns in a pod and which the host cannot lend one member. Pure, so the
 * CLI (`app apply`, `apply`), status and the runtime say the same thing.
 */

/** The host's system directories: a persistDir that is one of these, or lies under one, stays on the member's volume only. */
export const HOST_SYSTEM_DIRS = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/sys',
  '/usr',
  '/var',
] as const;

/** The system directory a persistDir is, or lies under; undefined when the local runtime mounts it. */
export function hostSystemDir(dir: string): string | undefined {
  const clean = dir.replace(/\/+$/, '') || '/';
  if (clean === '/') return '/';
  return HOST_SYSTEM_DIRS.find((system) => clean === system || clean.startsWith(`${system}/`));
}

/** One note per role whose persistDirs the local runtime leaves on the member's volume (what `apply`, `app apply` and `get` say). */
export function persistDirNotes(app: {
  defaultPersistDirs?: string[];
  roles: { id: string; persistDirs?: string[] }[];
}): string[] {
  return app.roles.flatMap((role) => {
    const note = unmountedPersistDirsNote(role.persistDirs ?? app.defaultPersistDirs ?? []);
    return note ? [`role ${role.id}: persistDirs: ${note}`] : [];
  });
}

/** What is said about a role's persistDirs the local runtime does not mount, or undefined when it mounts them all. */
export function unmountedPersistDirsNote(dirs: readonly string[]): string | undefined {
  const unmounted = dirs.filter((dir) => hostSystemDir(dir) !== undefined);
  if (unmounted.length === 0) return undefined;
  return `on the local runtime ${unmounted.join(', ')} ${unmounted.length === 1 ? 'is' : 'are'} not mounted at the guest path (the host's system ${unmounted.length === 1 ? 'directory' : 'directories'}); ${unmounted.length === 1 ? 'it stays' : 'they stay'} on the member's volume under its directory`;
}
