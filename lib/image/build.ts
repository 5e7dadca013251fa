/**
 * `npm run image`: the worker/shim image, built without Docker and without a base image
 * (docs/adr/0041-image-without-docker.md). A root filesystem of Debian packages (rootfs.ts), the
 * Node binary of the `node` devDependency, kdflow's sources and production dependencies, and the
 * workflow bundles prebuilt by that Node inside the root filesystem (so the image is known to run);
 * buildah commits it as one layer to an OCI archive, `kdflow:<version>`, under the cache.
 */
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { kdflowCacheDir } from '../config.ts';
import {
  IMAGE_BUNDLES,
  IMAGE_HOME,
  IMAGE_UID,
  ImageBuildError,
  downloadPackages,
  finishRootfs,
  run,
  systemTool,
  unpackPackages,
  type DebianPackage,
} from './rootfs.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** What the worker, the shim and the CLI load (tests, docs, scripts and the harness stay out). */
export const APP_DIRS = ['api', 'activities', 'cli', 'lib', 'runtimes', 'shim', 'workflows', 'worker'];
export const APP_ROOT = '/app';
export const NODE_PATH = '/usr/local/bin/node';
/** Environment of every process of the image. */
export const IMAGE_ENV: Record<string, string> = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  NODE_ENV: 'production',
  KDFLOW_HOME: IMAGE_HOME,
  KDFLOW_BUNDLE_CACHE: IMAGE_BUNDLES,
};

export function packageVersion(repo = REPO): string {
  return (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The name the manifests in crds/deploy/ use, and the archive it is in. */
export function imageName(version = packageVersion()): string {
  return `kdflow:${version}`;
}

export function imageArchive(version = packageVersion(), cacheDir = kdflowCacheDir()): string {
  return path.join(cacheDir, 'image', `kdflow-${version}.oci.tar`);
}

export interface BuiltImage {
  name: string;
  archive: string;
  bytes: number;
  seconds: number;
  packages: DebianPackage[];
  node: string;
}

export interface ImageBuildOptions {
  repo?: string;
  cacheDir?: string;
  /** One line per step, with its time. */
  log?: (line: string) => void;
}

export function buildImage(options: ImageBuildOptions = {}): BuiltImage {
  const repo = options.repo ?? REPO;
  const log = options.log ?? (() => {});
  if (process.getuid?.() !== 0)
    throw new ImageBuildError(
      'building the image needs root: it unpacks files owned by other users, runs Node in the root filesystem with chroot, and commits with buildah (run it as root, e.g. in CI)',
    );
  const version = packageVersion(repo);
  const archive = imageArchive(version, options.cacheDir);
  const work = path.join(path.dirname(archive), 'build');
  const rootfs = path.join(work, 'rootfs');
  const started = performance.now();
  const step = <T>(what: string, fn: () => T): T => {
    const t = performance.now();
    const result = fn();
    log(`${what} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
    return result;
  };
  unmountLeftovers(work);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(rootfs, { recursive: true });
  try {
    const packages = step('Debian packages unpacked', () => {
      const unpacked = unpackPackages(downloadPackages(path.join(work, 'debs')), rootfs);
      finishRootfs(rootfs);
      return unpacked;
    });
    const node = step('Node copied', () => copyNode(repo, rootfs));
    const app = path.join(rootfs, APP_ROOT);
    step('kdflow sources copied', () => copySources(repo, app));
    step('production dependencies installed', () => installDependencies(app));
    step("workflow bundles prebuilt with the image's Node", () => prebuildBundles(rootfs));
    step(`committed ${imageName(version)}`, () =>
      commit({ rootfs, work, archive, name: imageName(version), version, node, packages }),
    );
    rmSync(work, { recursive: true, force: true });
    const seconds = Math.round((performance.now() - started) / 1000);
    return { name: imageName(version), archive, bytes: statSync(archive).size, seconds, packages, node };
  } catch (error) {
    if (error instanceof ImageBuildError)
      error.message += `\n(the partial build is left in ${work}; the next build starts afresh)`;
    throw error;
  }
}

/** A build killed while /proc was mounted in its root filesystem leaves it mounted: unmounted before removal. */
function unmountLeftovers(work: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => point.startsWith(`${work}/`));
  for (const point of mounts.reverse()) run('umount', [point]);
}

/** The binary the `node` devDependency installed: the Node kdflow is developed and tested on. */
function copyNode(repo: string, rootfs: string): string {
  const source = path.join(repo, 'node_modules', 'node', 'bin', 'node');
  const version = run(source, ['--version']).trim();
  const target = path.join(rootfs, NODE_PATH);
  mkdirSync(path.dirname(target), { recursive: true });
  copyFileSync(source, target);
  chmodSync(target, 0o755);
  return version;
}

function copySources(repo: string, app: string): void {
  mkdirSync(app, { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) copyFileSync(path.join(repo, file), path.join(app, file));
  for (const dir of APP_DIRS)
    cpSync(path.join(repo, dir), path.join(app, dir), {
      recursive: true,
      // The Dockerfile is for the compose file's own build; tests never live under these directories.
      filter: (src) => path.basename(src) !== 'Dockerfile' && !src.endsWith('.test.ts'),
    });
}

/**
 * `npm install --omit=dev` from the lock file (as .ci/run: npm ci calls the lock out of sync here),
 * without install scripts (none of the production packages needs one on Linux x64), then the parts
 * of packages nothing loads at run time: the Temporal core's binaries for other platforms and its
 * Rust sources, type declarations and source maps.
 */
function installDependencies(app: string): void {
  run(
    'npm',
    ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'],
    app,
  );
  const bridge = path.join(app, 'node_modules', '@temporalio', 'core-bridge');
  const target = `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-unknown-linux-gnu`;
  const releases = path.join(bridge, 'releases');
  for (const platform of readdirSync(releases))
    if (platform !== target) rmSync(path.join(releases, platform), { recursive: true, force: true });
  for (const source of ['sdk-core', 'src', 'bridge-macros', 'Cargo.toml', 'Cargo.lock', 'scripts'])
    rmSync(path.join(bridge, source), { recursive: true, force: true });
  // Type declarations and source maps: read by compilers and debuggers, never by Node (85 of 230 MB).
  const modules = path.join(app, 'node_modules');
  const unused = ['*.d.ts', '*.d.mts', '*.d.cts', '*.map'].flatMap((name, i) => [...(i ? ['-o'] : []), '-name', name]);
  run('find', [modules, '-type', 'f', '(', ...unused, ')', '-delete']);
  // Owned by root and read-only to the worker: its code cannot be changed by it.
  run('chown', ['-R', '0:0', app]);
  run('chmod', ['-R', 'go-w', app]);
}

/**
 * The worker starts without bundling (docs/adr/0017): both bundles (worker/prebuild-bundle.ts), built
 * by the image's own Node in the root filesystem, which also shows that Node, glibc and the native
 * modules work there. The bundler's SWC needs /proc (it reads the mount table), mounted for the run;
 * what it caches in the home directory is removed, so the image's home is empty.
 */
function prebuildBundles(rootfs: string): void {
  const proc = path.join(rootfs, 'proc');
  mkdirSync(proc, { recursive: true });
  run('mount', ['-t', 'proc', 'proc', proc]);
  try {
    inRootfs(rootfs, [`${APP_ROOT}/worker/prebuild-bundle.ts`]);
  } finally {
    run('umount', [proc]);
  }
  const home = path.join(rootfs, IMAGE_HOME);
  for (const entry of readdirSync(home)) rmSync(path.join(home, entry), { recursive: true, force: true });
}

/** Runs the image's Node on the root filesystem as the image's user, with the image's environment. */
export function inRootfs(rootfs: string, args: string[]): string {
  return run(systemTool('chroot'), [`--userspec=${IMAGE_UID}:${IMAGE_UID}`, rootfs, NODE_PATH, ...args], undefined, {
    ...IMAGE_ENV,
    HOME: IMAGE_HOME,
  });
}

interface CommitSpec {
  rootfs: string;
  work: string;
  archive: string;
  name: string;
  version: string;
  node: string;
  packages: DebianPackage[];
}

/** buildah, as root, with its own vfs storage under `work` (no daemon, no shared state, removed after). */
function commit(spec: CommitSpec): void {
  const storage = [
    '--storage-driver',
    'vfs',
    '--root',
    path.join(spec.work, 'storage'),
    '--runroot',
    path.join(spec.work, 'run'),
  ];
  const buildah = (...args: string[]) => run('buildah', [...storage, ...args]).trim();
  const container = buildah('from', '--name', `kdflow-image-${process.pid}`, 'scratch');
  try {
    const mount = buildah('mount', container);
    run('cp', ['-a', `${spec.rootfs}/.`, `${mount}/`]);
    buildah('umount', container);
    const labels = {
      'org.opencontainers.image.title': 'kdflow',
      'org.opencontainers.image.description':
        'kdflow worker, CRD shim and CLI (node worker/main.ts, node shim/main.ts)',
      'org.opencontainers.image.version': spec.version,
      'org.opencontainers.image.licenses': 'Apache-2.0',
      'dev.kdflow.node': spec.node,
      'dev.kdflow.debian-packages': spec.packages.map((p) => `${p.name}=${p.version}`).join(' '),
    };
    buildah(
      'config',
      '--os',
      'linux',
      '--arch',
      process.arch === 'arm64' ? 'arm64' : 'amd64',
      '--user',
      `${IMAGE_UID}:${IMAGE_UID}`,
      '--workingdir',
      APP_ROOT,
      '--entrypoint',
      JSON.stringify([NODE_PATH]),
      '--cmd',
      'worker/main.ts',
      '--port',
      '9464',
      ...Object.entries(IMAGE_ENV).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
      ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      container,
    );
    mkdirSync(path.dirname(spec.archive), { recursive: true });
    const partial = `${spec.archive}.partial`;
    rmSync(partial, { force: true });
    buildah('commit', '--format', 'oci', container, `oci-archive:${partial}:${spec.name}`);
    renameSync(partial, spec.archive);
  } finally {
    try {
      buildah('rm', container);
    } catch {
      // The storage goes with `work` anyway.
    }
  }
}
