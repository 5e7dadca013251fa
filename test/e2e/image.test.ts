/**
 * The worker/shim image of `npm run image` (docs/adr/0041-image-without-docker.md). Building it takes
 * minutes and needs root and buildah, so it is not part of the test run: without the archive these
 * tests are skipped, naming the command. With it: the image's config and content (its own Node runs,
 * as its user, in its unpacked root filesystem), and, with podman, its worker and shim run as the
 * deployments in crds/deploy/ run them (read-only root, uid 10001, no capabilities, least-privilege
 * ServiceAccounts) against the Kubernetes harness and a Temporal dev server, and take the README's
 * kubectl example to `configured`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ROOT, NODE_PATH, imageArchive, imageName, inRootfs, packageVersion } from '../../lib/image/build.ts';
import { IMAGE_BUNDLES, IMAGE_UID } from '../../lib/image/rootfs.ts';
import { freePort } from '../../lib/free-port.ts';
import { startDevServer, type DevServer } from '../../lib/temporal-server.ts';
import {
  eventually,
  kubectl,
  serviceAccountKubeConfig,
  startKubeHarness,
  type KubeHarness,
} from '../../testing/kube/harness.ts';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const ARCHIVE = imageArchive();
const NAME = imageName();
const BUILT = existsSync(ARCHIVE);
const ROOT = process.getuid?.() === 0;
const has = (tool: string) => {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const LONG = 900_000;
const CAN_RUN = process.env.KDFLOW_SKIP_K8S !== '1' && ROOT && has('podman');
if (BUILT && !CAN_RUN && process.env.KDFLOW_SKIP_K8S !== '1')
  console.warn('not running the image with podman: that needs root and podman (apt-get install podman)');
if (!BUILT)
  console.warn(
    `skipping the image tests: no ${ARCHIVE}; build it with \`npm run image\` (as root, with buildah; 3–4 min)`,
  );

describe('the deploy manifests', () => {
  it(`name the image ${NAME}, the version in package.json`, () => {
    const manifests = readFileSync(path.join(REPO, 'crds', 'deploy', 'deployments.yaml'), 'utf8');
    const images = [...manifests.matchAll(/^\s*image:\s*(\S+)/gm)].map((m) => m[1]);
    expect(images).toEqual([`kdflow:${packageVersion()}`, `kdflow:${packageVersion()}`]);
  });
});

interface ImageConfig {
  architecture: string;
  os: string;
  config: {
    User?: string;
    Entrypoint?: string[];
    Cmd?: string[];
    WorkingDir?: string;
    Env?: string[];
    Labels?: Record<string, string>;
  };
}

let work: string;
let rootfs: string;
let layout: string;
let config: ImageConfig;
let refName: string | undefined;

/** A blob of the OCI layout by its digest. */
const blob = (digest: string) => path.join(layout, 'blobs', ...digest.split(':'));

describe.skipIf(!BUILT)(`the image ${NAME} (${ARCHIVE}; absent: build it with \`npm run image\`, as root)`, () => {
  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'kdflow-image-test-'));
    layout = path.join(work, 'layout');
    rootfs = path.join(work, 'rootfs');
    await mkdir(layout);
    await mkdir(rootfs);
    // An oci-archive is a tar of an OCI image layout: index → manifest → config and layers.
    execFileSync('tar', ['-xf', ARCHIVE, '-C', layout]);
    const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    expect(index.manifests).toHaveLength(1);
    const [entry] = index.manifests;
    refName = entry?.annotations?.['org.opencontainers.image.ref.name'];
    const manifest = JSON.parse(await readFile(blob(entry?.digest ?? ''), 'utf8')) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as ImageConfig;
    // As root, tar keeps the owners and modes the image has.
    for (const layer of manifest.layers) execFileSync('tar', ['-xf', blob(layer.digest), '-C', rootfs]);
  }, 300_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('is named kdflow:<version>, runs Node on worker/main.ts as uid 10001 with the production environment', () => {
    expect(refName).toBe(NAME);
    expect(config).toMatchObject({ os: 'linux', architecture: process.arch === 'arm64' ? 'arm64' : 'amd64' });
    expect(config.config).toMatchObject({
      User: `${IMAGE_UID}:${IMAGE_UID}`,
      Entrypoint: [NODE_PATH],
      Cmd: ['worker/main.ts'],
      WorkingDir: APP_ROOT,
    });
    expect(config.config.Env).toEqual(
      expect.arrayContaining([
        'PATH=/usr/local/bin:/usr/bin:/bin',
        'NODE_ENV=production',
        'KDFLOW_HOME=/var/lib/kdflow',
        `KDFLOW_BUNDLE_CACHE=${IMAGE_BUNDLES}`,
      ]),
    );
    expect(config.config.Labels?.['org.opencontainers.image.version']).toBe(packageVersion());
    expect(config.config.Labels?.['dev.kdflow.debian-packages']).toMatch(/\blibc6=\S+ .*\blibstdc\+\+6=\S+/);
  });

  it.skipIf(!ROOT)("its Node, the repository's pinned one, runs in its root filesystem as its user", () => {
    const pinned = execFileSync(path.join(REPO, 'node_modules', 'node', 'bin', 'node'), ['--version'], {
      encoding: 'utf8',
    }).trim();
    expect(config.config.Labels?.['dev.kdflow.node']).toBe(pinned);
    expect(inRootfs(rootfs, ['--version']).trim()).toBe(pinned);
    expect(inRootfs(rootfs, ['-p', 'process.getuid() + " " + require("node:os").userInfo().username']).trim()).toBe(
      `${IMAGE_UID} kdflow`,
    );
  });

  it('holds no shell, package manager, compiler or development dependency, and code the worker cannot change', async () => {
    for (const absent of ['bin/sh', 'bin/bash', 'usr/bin/apt', 'usr/bin/dpkg', 'usr/bin/gcc', 'usr/bin/perl'])
      expect(existsSync(path.join(rootfs, absent)), absent).toBe(false);
    const modules = path.join(rootfs, APP_ROOT, 'node_modules');
    for (const dev of ['vitest', 'typescript', 'eslint', 'prettier', 'node', '@temporalio/testing', 'playwright-core'])
      expect(existsSync(path.join(modules, dev)), dev).toBe(false);
    for (const wanted of ['@temporalio/worker', '@kubernetes/client-node', 'pino', 'zod'])
      expect(existsSync(path.join(modules, wanted)), wanted).toBe(true);
    for (const code of ['worker/main.ts', 'shim/main.ts', 'cli/main.ts']) {
      const info = await stat(path.join(rootfs, APP_ROOT, code));
      expect(info.uid).toBe(0);
      expect(info.mode & 0o022).toBe(0);
    }
    expect(existsSync(path.join(rootfs, APP_ROOT, 'test'))).toBe(false);
    expect(existsSync(path.join(rootfs, 'etc/ssl/certs/ca-certificates.crt'))).toBe(true);
  });

  it('carries both workflow bundles (plain and encoded failures), private to the worker, and an empty home', async () => {
    const dir = path.join(rootfs, IMAGE_BUNDLES);
    const info = await stat(dir);
    expect([info.uid, info.mode & 0o777]).toEqual([IMAGE_UID, 0o700]);
    const bundles = await readdir(dir);
    expect(bundles.filter((f) => /^[0-9a-f]{32}\.js$/.test(f))).toHaveLength(2);
    for (const bundle of bundles) {
      const file = await stat(path.join(dir, bundle));
      expect([file.uid, file.mode & 0o777]).toEqual([IMAGE_UID, 0o600]);
    }
    expect(await readdir(path.join(rootfs, 'var/lib/kdflow'))).toEqual([]);
  });

  it.skipIf(!ROOT)('its bundles are the ones its worker looks for, with a payload key and without', async () => {
    // The keys a worker in the image computes (worker/worker.ts, workflowSources), by the image's Node.
    const script = [
      "const { bundleKey } = await import('/app/worker/bundle-key.ts');",
      "const { workflowSources } = await import('/app/worker/worker.ts');",
      "const { EncryptionCodec } = await import('/app/lib/codec.ts');",
      'const plain = await bundleKey(workflowSources(new EncryptionCodec([])));',
      "const keyed = await bundleKey(workflowSources(new EncryptionCodec([{ id: 'k', key: Buffer.alloc(32) }])));",
      'console.log(JSON.stringify([plain.hash, keyed.hash]));',
    ].join('\n');
    const hashes = JSON.parse(inRootfs(rootfs, ['--input-type=module', '-e', script])) as string[];
    expect(new Set(hashes).size).toBe(2);
    expect((await readdir(path.join(rootfs, IMAGE_BUNDLES))).sort()).toEqual(hashes.map((h) => `${h}.js`).sort());
  });

  describe.skipIf(!CAN_RUN)(
    'run by podman as crds/deploy/ runs it, against the Kubernetes harness (needs root, podman, and KDFLOW_SKIP_K8S unset)',
    () => podmanRun(),
  );
});

interface Container {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function podmanRun(): void {
  let kube: KubeHarness;
  let server: DevServer;
  let home: string;
  let storage: string[];
  let image: string;
  const containers: Container[] = [];
  const k = (...args: string[]) => kubectl(kube, args);
  const podman = (...args: string[]) => execFileSync('podman', [...storage, ...args], { encoding: 'utf8' });

  const logLines = (c: Container) =>
    c
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string });

  /** As a Deployment's container: its command, a read-only root, no capabilities, host network (the harness is on loopback). */
  function run(
    name: string,
    command: string[],
    kubeconfig: string,
    env: Record<string, string>,
    mounts: string[] = [],
  ) {
    const child = spawn(
      'podman',
      [
        ...storage,
        'run',
        '--rm',
        '--name',
        name,
        '--network',
        'host',
        // Runc cannot raise limits here (no CAP_SYS_RESOURCE), and podman asks for more by default.
        '--ulimit',
        'nofile=16384:16384',
        '--ulimit',
        'nproc=8192:8192',
        '--read-only',
        '--read-only-tmpfs=false',
        '--cap-drop',
        'all',
        '--security-opt',
        'no-new-privileges',
        '-v',
        `${kubeconfig}:/etc/kdflow/kubeconfig:ro`,
        ...mounts.flatMap((m) => ['-v', m]),
        ...Object.entries({ ...env, KUBECONFIG: '/etc/kdflow/kubeconfig', TEMPORAL_ADDRESS: server.address }).flatMap(
          ([key, value]) => ['-e', `${key}=${value}`],
        ),
        '--entrypoint',
        JSON.stringify(command),
        image,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const container = { name, child, output: () => out, exited };
    containers.push(container);
    return container;
  }

  /** A ServiceAccount's kubeconfig, readable by the image's user. */
  async function kubeconfigFor(account: string): Promise<string> {
    const kc = await serviceAccountKubeConfig(kube, 'kdflow-system', account);
    const file = path.join(home, `${account}.kubeconfig`);
    await writeFile(file, kc.exportConfig(), { mode: 0o600 });
    chownSync(file, IMAGE_UID, IMAGE_UID);
    return file;
  }

  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-image-run-'));
    await chmod(home, 0o755);
    storage = ['--storage-driver', 'vfs', '--root', path.join(home, 'storage'), '--runroot', path.join(home, 'run')];
    const loaded = podman('load', '-i', ARCHIVE);
    image = /Loaded image(?:\(s\))?: (\S+)/.exec(loaded)?.[1] ?? '';
    expect(image).toMatch(new RegExp(`${NAME.replace(/[.]/g, '\\.')}$`));
    kube = await startKubeHarness();
    server = await startDevServer({
      port: await freePort(),
      uiPort: await freePort(),
      dbFile: path.join(home, 'temporal.db'),
      logFile: path.join(home, 'temporal.log'),
    });
  }, LONG);

  afterAll(async () => {
    for (const c of containers)
      if (c.child.exitCode === null) {
        try {
          podman('stop', '-t', '30', c.name);
        } catch {
          // Gone already.
        }
        await c.exited;
      }
    await server?.stop();
    await kube?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  }, LONG);

  it(
    'the worker and the shim from the image take the README kubectl example to configured, and stop cleanly',
    async () => {
      await k('apply', '-f', 'crds/');
      await k('apply', '-f', 'crds/deploy/worker-rbac.yaml', '-f', 'crds/deploy/shim-rbac.yaml');
      await k('wait', '--for=condition=Established', 'crd/kdapps.kdflow.dev', 'crd/kdclusters.kdflow.dev');
      const workerHome = path.join(home, 'worker-home');
      await mkdir(workerHome, { mode: 0o700 });
      chownSync(workerHome, IMAGE_UID, IMAGE_UID);
      // The package is read by the worker: at the same absolute path inside the container, read-only.
      const appconfig = path.join(REPO, 'crds', 'examples', 'centos', 'appconfig');
      const worker = run(
        'kdflow-image-worker',
        ['node', 'worker/main.ts'],
        await kubeconfigFor('kdflow-worker'),
        { KDFLOW_RUNTIME: 'kubernetes', KDFLOW_LOG_LEVEL: 'info' },
        [`${workerHome}:/var/lib/kdflow`, `${appconfig}:${appconfig}:ro`],
      );
      const shim = run('kdflow-image-shim', ['node', 'shim/main.ts'], await kubeconfigFor('kdflow-shim'), {
        KDFLOW_SHIM_NAMESPACE: 'kdflow-system',
        KDFLOW_SHIM_ID: 'shim-image',
        KDFLOW_LOG_LEVEL: 'info',
      });
      const ready = await eventually(
        'the worker runs',
        async () => {
          if (worker.child.exitCode !== null) throw new Error(`the worker exited: ${worker.output()}`);
          return logLines(worker).some((l) => l.msg === 'kdflow worker running')
            ? logLines(worker).find((l) => l.msg === 'workflow bundle ready')
            : undefined;
        },
        300_000,
      );
      // The bundle the image carries: no bundling at start, on a read-only root.
      expect(ready).toMatchObject({ from: 'cache' });
      await eventually('the shim leads', async () => logLines(shim).find((l) => l.msg === 'leading'), 300_000);

      const app = (await readFile(path.join(REPO, 'crds', 'examples', 'centos', 'app.yaml'), 'utf8')).replace(
        'file://./appconfig',
        `file://${appconfig}`,
      );
      await kubectl(kube, ['apply', '-f', '-'], app);
      await k('apply', '-f', 'crds/examples/centos/cluster.yaml');
      await k('wait', '--for=jsonpath={.status.state}=configured', 'kdc/centos-demo', '--timeout=600s');
      expect(await k('get', 'kdc', 'centos-demo')).toMatch(/^centos-demo\s+centos7x\s+configured\s+2\/2\s+/m);

      // SIGTERM, as Kubernetes stops a pod: one line, exit 0.
      for (const c of [worker, shim]) {
        podman('stop', '-t', '60', c.name);
        expect(await c.exited, c.output()).toBe(0);
        expect(logLines(c).some((l) => l.msg === 'kdflow: stopped')).toBe(true);
      }
    },
    LONG,
  );
}
