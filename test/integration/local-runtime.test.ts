import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preparePackage } from '../../runtimes/config-package.ts';
import { RuntimeError } from '../../runtimes/errors.ts';
import { guestMountSupport } from '../../runtimes/guest-mounts.ts';
import { LocalRuntime } from '../../runtimes/local.ts';
import { runScript } from '../../runtimes/script/protocol.ts';
import { memberSpec } from '../../testing/members.ts';

/** An unmodified KubeDirector-style script: it knows only the fixed guest paths, no kdflow env vars. */
const KUBEDIRECTOR_SCRIPT = `#!/bin/sh
cp /etc/guestconfig/configmeta.json /opt/guestconfig/seen-configmeta.json || exit 7
echo "$1" > /opt/guestconfig/option
`;

async function packageDir(script: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-rt-pkg-'));
  await mkdir(path.join(dir, 'appconfig'));
  await writeFile(path.join(dir, 'appconfig', 'startscript'), script);
  await chmod(path.join(dir, 'appconfig', 'startscript'), 0o755);
  return dir;
}

const member = (name: string) => memberSpec('rt', 'c', name);

const control = { signal: new AbortController().signal, heartbeat: () => {} };

describe('local runtime: guest paths', () => {
  const envBefore = process.env.KDFLOW_GUEST_MOUNTS;
  let home: string;
  let runtime: LocalRuntime;
  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-rt-'));
    runtime = new LocalRuntime(home);
  });
  afterAll(async () => {
    process.env.KDFLOW_GUEST_MOUNTS = envBefore;
    for (const name of ['m-mounted', 'm-plain']) await runtime.removeMember(member(name));
  });

  async function runIn(name: string): Promise<{ exitCode: number | null; root: string }> {
    const m = member(name);
    await runtime.ensureMember(m);
    await runtime.writeFiles(m, [
      { path: '/etc/guestconfig/configmeta.json', content: `{"node":{"hostname":"${name}"}}`, mode: 0o600 },
    ]);
    const pkg = await preparePackage(await packageDir(KUBEDIRECTOR_SCRIPT), path.join(home, 'cache'));
    await runtime.installPackage(m, pkg.tgzPath);
    const result = await runScript(
      runtime,
      m,
      { runId: `rt/${name}/configure`, event: 'configure', argv: ['--configure'], env: [], timeoutSeconds: 30 },
      control,
    );
    return { exitCode: result.exitCode, root: runtime.memberRoot(m) };
  }

  // Root in CI and here: a mount namespace is allowed, so this must work rather than be skipped.
  it('is allowed on this machine when running as root', () => {
    if (process.geteuid?.() !== 0) return;
    expect(guestMountSupport()).toEqual({ available: true });
  });

  it.runIf(guestMountSupport().available)(
    'shows the member dirs at /etc/guestconfig and /opt/guestconfig to an unmodified script',
    async () => {
      process.env.KDFLOW_GUEST_MOUNTS = 'required';
      const { exitCode, root } = await runIn('m-mounted');
      expect(exitCode).toBe(0);
      expect(JSON.parse(await readFile(path.join(root, 'opt/guestconfig/seen-configmeta.json'), 'utf8'))).toEqual({
        node: { hostname: 'm-mounted' },
      });
      expect((await readFile(path.join(root, 'opt/guestconfig/option'), 'utf8')).trim()).toBe('--configure');
      // The mounts lived in the script's own namespace: the host's paths stay empty.
      expect(existsSync('/opt/guestconfig/option')).toBe(false);
      expect(existsSync('/etc/guestconfig/configmeta.json')).toBe(false);
    },
  );

  it('with KDFLOW_GUEST_MOUNTS=off the script sees only the env-var contract', async () => {
    process.env.KDFLOW_GUEST_MOUNTS = 'off';
    const { exitCode, root } = await runIn('m-plain');
    expect(exitCode).toBe(7);
    expect(await readFile(path.join(root, 'opt/guestconfig/configure.stderr'), 'utf8')).toMatch(
      /guestconfig\/configmeta.json/,
    );
  });
});

describe('config packages over http', () => {
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    const dir = await packageDir('#!/bin/sh\necho ok\n');
    const tgz = path.join(dir, 'pkg.tgz');
    execFileSync('tar', ['-czf', tgz, '-C', dir, 'appconfig']);
    const body = await readFile(tgz);
    server = http.createServer((req, res) => {
      if (req.url === '/pkg.tgz') res.writeHead(200, { 'content-type': 'application/gzip' }).end(body);
      else res.writeHead(404).end('not here');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('fetches, caches and verifies a package from an http URL', async () => {
    const cache = await mkdtemp(path.join(os.tmpdir(), 'kdflow-http-cache-'));
    const pkg = await preparePackage(`${base}/pkg.tgz`, cache);
    expect(pkg.scriptDir).toBe('appconfig');
    expect(existsSync(path.join(cache, `${pkg.digest}.tgz`))).toBe(true);
  });

  it('refuses a URL that answers 404 with an error naming the URL and status', async () => {
    const error = await preparePackage(
      `${base}/missing.tgz`,
      await mkdtemp(path.join(os.tmpdir(), 'kdflow-http-cache-')),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as RuntimeError).message).toContain(`${base}/missing.tgz`);
    expect((error as RuntimeError).message).toContain('404');
    expect((error as RuntimeError).permanent).toBe(true);
  });
});
