/**
 * The image's root filesystem without a base image (none can be pulled here, docs/adr/0041): the
 * few Debian packages Node needs, unpacked with `dpkg -x` (no maintainer scripts run, so what they
 * would have made is made here), a user for the worker, and nothing else: no shell, no package
 * manager, no compiler.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * What the Node binary links against (libc6, libstdc++6, libgcc-s1, whose copyright is in gcc-12-base)
 * and the CA roots for http(s) package URLs.
 */
export const DEBIAN_PACKAGES = ['libc6', 'libgcc-s1', 'gcc-12-base', 'libstdc++6', 'ca-certificates'];
/** The worker's and the shim's user; crds/deploy/ runs them as this uid (runAsUser). */
export const IMAGE_UID = 10001;
export const IMAGE_USER = 'kdflow';
/** Writable at run time: the worker's home (an emptyDir on Kubernetes) and the prebuilt workflow bundles. */
export const IMAGE_HOME = '/var/lib/kdflow';
export const IMAGE_BUNDLES = '/var/cache/kdflow/bundles';

export class ImageBuildError extends Error {
  override name = 'ImageBuildError';
}

export interface DebianPackage {
  name: string;
  version: string;
}

/** Runs a build tool; a failure names the command and shows what it printed. */
export function run(command: string, args: string[], cwd?: string, env?: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(command, args, {
      cwd,
      ...(env ? { env } : {}),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string; stdout?: string; status?: number | null };
    if (e.code === 'ENOENT') throw new ImageBuildError(`${command} is not installed (${installHint(command)})`);
    const said = `${e.stderr ?? ''}${e.stdout ?? ''}`.trim().split('\n').slice(-40).join('\n');
    throw new ImageBuildError(`${command} ${args.join(' ')} failed (exit ${e.status ?? '?'}):\n${said}`);
  }
}

/** A system tool's path: root's tools (chroot) are in sbin, which a user's PATH may leave out. */
export function systemTool(name: string, searchPath = process.env.PATH ?? ''): string {
  const dirs = [...searchPath.split(':').filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  const found = dirs.map((dir) => path.join(dir, name)).find((file) => existsSync(file));
  if (!found) throw new ImageBuildError(`${name} is not installed (${installHint(name)})`);
  return found;
}

function installHint(command: string): string {
  if (command === 'buildah') return 'apt-get install buildah';
  if (command === 'apt-get' || command === 'dpkg' || command === 'dpkg-deb')
    return 'the image is built from Debian packages: build on Debian';
  return `install ${command}`;
}

/** Downloads the packages from the machine's Debian mirror (apt's lists must be current: apt-get update). */
export function downloadPackages(dir: string, names: string[] = DEBIAN_PACKAGES): string[] {
  mkdirSync(dir, { recursive: true });
  try {
    run('apt-get', ['download', ...names], dir);
  } catch (error) {
    throw new ImageBuildError(
      `${(error as Error).message}\nrun apt-get update (as root) if apt's package lists are missing or stale`,
    );
  }
  const debs = readdirSync(dir).filter((f) => f.endsWith('.deb'));
  for (const name of names)
    if (!debs.some((f) => f.startsWith(`${name}_`)))
      throw new ImageBuildError(`apt-get download did not fetch ${name} into ${dir}`);
  return debs.map((f) => path.join(dir, f));
}

/** Unpacks each package into `rootfs` and says what it unpacked (name and version, for the image's labels). */
export function unpackPackages(debs: string[], rootfs: string): DebianPackage[] {
  const unpacked: DebianPackage[] = [];
  for (const deb of debs) {
    run('dpkg-deb', ['-x', deb, rootfs]);
    const [name, version] = run('dpkg-deb', ['-f', deb, 'Package', 'Version'])
      .trim()
      .split('\n')
      .map((line) => line.slice(line.indexOf(':') + 1).trim());
    unpacked.push({ name: name ?? path.basename(deb), version: version ?? '' });
  }
  return unpacked.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/**
 * What the packages' maintainer scripts and base-files would have made, and the worker's user:
 * the CA bundle (update-ca-certificates concatenates the same files), passwd and group, name
 * lookup through /etc/hosts then DNS, a sticky /tmp, and the worker's writable directories.
 * Documentation and manual pages go; copyright files stay.
 */
export function finishRootfs(rootfs: string): void {
  const at = (p: string) => path.join(rootfs, p);
  const mozilla = at('usr/share/ca-certificates/mozilla');
  const certs = readdirSync(mozilla)
    .filter((f) => f.endsWith('.crt'))
    .sort()
    .map((f) => readFileSync(path.join(mozilla, f), 'utf8').trimEnd() + '\n');
  if (certs.length === 0) throw new ImageBuildError(`no CA certificates in ${mozilla}`);
  mkdirSync(at('etc/ssl/certs'), { recursive: true });
  writeFileSync(at('etc/ssl/certs/ca-certificates.crt'), certs.join(''));
  writeFileSync(
    at('etc/passwd'),
    `root:x:0:0:root:/root:/usr/sbin/nologin\n${IMAGE_USER}:x:${IMAGE_UID}:${IMAGE_UID}:kdflow:${IMAGE_HOME}:/usr/sbin/nologin\n`,
  );
  writeFileSync(at('etc/group'), `root:x:0:\n${IMAGE_USER}:x:${IMAGE_UID}:\n`);
  writeFileSync(at('etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
  for (const gone of ['usr/share/man', 'usr/share/info', 'usr/share/lintian', 'usr/share/locale'])
    rmSync(at(gone), { recursive: true, force: true });
  // Some entries are links to another package's directory (libgcc-s1 → gcc-12-base): left as they are.
  for (const doc of readdirSync(at('usr/share/doc'), { withFileTypes: true }).filter((d) => d.isDirectory()))
    for (const file of readdirSync(at(`usr/share/doc/${doc.name}`)))
      if (file !== 'copyright') rmSync(at(`usr/share/doc/${doc.name}/${file}`), { recursive: true, force: true });
  mkdirSync(at('tmp'), { recursive: true });
  chmodSync(at('tmp'), 0o1777);
  for (const dir of [IMAGE_HOME, IMAGE_BUNDLES]) {
    mkdirSync(at(path.dirname(dir)), { recursive: true, mode: 0o755 });
    // Private and the worker's own, as worker/bundle-cache.ts requires of its directory.
    mkdirSync(at(dir), { mode: 0o700 });
    chownSync(at(dir), IMAGE_UID, IMAGE_UID);
  }
}
