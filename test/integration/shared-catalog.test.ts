/**
 * The shared app catalog (docs/adr/0039) on a real Temporal dev server and worker: two CLIs with
 * different KDFLOW_HOMEs see one catalog; versions are listed with the current one marked; another
 * spec under a version there is refused naming the field; an http(s) package is pinned to its sha256
 * at apply and other bytes at that URL are refused at install, naming the URL; a cluster pins the
 * version it was created with, and that version cannot be deleted while the cluster runs; the
 * catalog of `$KDFLOW_HOME/apps` from before moves in on first use.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KdAppSpec, catalogWorkflowId } from '../../api/index.ts';
import { AppCatalog, sdkCatalogTransport } from '../../lib/app-catalog.ts';
import { runCli, useCliHarness } from '../support/cli.ts';

const h = useCliHarness();

/** What the package server serves, by path: a test changes the bytes behind a URL. */
const served = new Map<string, Buffer>();
let server: http.Server;
let base: string;
let work: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const body = served.get(req.url ?? '');
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  work = await mkdtemp(path.join(os.tmpdir(), 'kdflow-catalog-'));
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** A config package whose startscript prints `word`. */
async function packageWith(word: string): Promise<Buffer> {
  const dir = await mkdtemp(path.join(work, 'pkg-'));
  await mkdir(path.join(dir, 'appconfig'));
  await writeFile(path.join(dir, 'appconfig', 'startscript'), `#!/bin/sh\necho ${word}\n`);
  await chmod(path.join(dir, 'appconfig', 'startscript'), 0o755);
  const file = path.join(dir, 'p.tgz');
  await tar.c({ gzip: true, cwd: dir, file, portable: true }, ['appconfig']);
  return readFile(file);
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function appFile(version: string, url: string, extra = ''): Promise<string> {
  const file = path.join(work, `app-${version}-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(
    file,
    `apiVersion: kdflow.dev/v1beta1
kind: KdApp
metadata: { name: shared }
spec:
  label: { name: Shared }
  distroID: test/shared
  version: "${version}"
  defaultImageRepoTag: none
  defaultConfigPackage: { packageURL: "${url}"${extra} }
  roles:
    - { id: node, cardinality: "1+" }
`,
  );
  return file;
}

async function clusterFile(name: string): Promise<string> {
  const file = path.join(work, `${name}.yaml`);
  await writeFile(
    file,
    `apiVersion: kdflow.dev/v1beta1\nkind: KdCluster\nmetadata: { name: ${name} }\nspec:\n  app: shared\n  roles:\n    - { id: node, members: 1 }\n`,
  );
  return file;
}

/** `kdflow ARGS` as a user whose KDFLOW_HOME is `home`. */
async function as(home: string, ...args: string[]) {
  process.env.KDFLOW_HOME = home;
  return runCli(...args);
}

describe('the shared app catalog', () => {
  it('is one catalog for two CLIs: versions, pins, refusals, and a cluster that pins its version', async () => {
    const alice = path.join(work, 'alice');
    const bob = path.join(work, 'bob');
    const v1 = await packageWith('one');
    served.set('/v1.tgz', v1);
    served.set('/v2.tgz', await packageWith('two'));

    // Alice adds 1.0: its http package is fetched once and pinned.
    const added = await as(alice, 'app', 'apply', '-f', await appFile('1.0', `${base}/v1.tgz`));
    expect(added.err).toBe('');
    expect(added.code).toBe(0);
    expect(added.out).toContain(`pinned ${base}/v1.tgz at sha256 ${sha256(v1)}`);
    expect(added.out).toContain('app/shared applied: version 1.0 added, current');

    // Bob, with another home, sees it, and adds 2.0.
    expect((await as(bob, 'app', 'list')).out).toMatch(/shared\s+1\.0\s+\*\s+Shared\s+node\(1\+\)/);
    expect((await as(bob, 'app', 'apply', '-f', await appFile('2.0', `${base}/v2.tgz`))).out).toContain(
      'version 2.0 added, current (was 1.0); versions 1.0, 2.0',
    );
    const listed = (await as(alice, 'app', 'list')).out.split('\n');
    expect(listed[0]).toMatch(/^NAME\s+VERSION\s+CURRENT\s+LABEL\s+ROLES$/);
    expect(listed.slice(1)).toEqual([
      expect.stringMatching(/^shared\s+1\.0\s+Shared/),
      expect.stringMatching(/^shared\s+2\.0\s+\*\s+Shared/),
    ]);

    // Re-applying 1.0 unchanged (nothing fetched: its pin is reused) makes it current again; then 2.0 again.
    served.delete('/v1.tgz');
    expect((await as(bob, 'app', 'apply', '-f', await appFile('1.0', `${base}/v1.tgz`))).out).toContain(
      'version 1.0 unchanged, current again (was 2.0)',
    );
    expect((await as(bob, 'app', 'apply', '-f', await appFile('2.0', `${base}/v2.tgz`))).code).toBe(0);

    // Another spec under a version that is there: refused, naming the version and the field, exit 1.
    const conflict = await as(
      alice,
      'app',
      'apply',
      '-f',
      await appFile('1.0', `${base}/v1.tgz`, `, sha256: "${'a'.repeat(64)}"`),
    );
    expect(conflict.code).toBe(1);
    expect(conflict.err).toContain('kdflow: shared: spec.version: app shared version 1.0 is already in the catalog');
    expect(conflict.err).toContain(
      `spec.defaultConfigPackage.sha256: "${sha256(v1)}" in the catalog, "${'a'.repeat(64)}" applied`,
    );

    // get: one version as a manifest, with its pin.
    const got = await as(bob, 'app', 'get', 'shared', '--version', '1.0', '-o', 'json');
    expect(JSON.parse(got.out).spec.defaultConfigPackage).toEqual({ packageURL: `${base}/v1.tgz`, sha256: sha256(v1) });
    const missing = await as(bob, 'app', 'get', 'shared', '--version', '9.9');
    expect(missing.code).toBe(4);
    expect(missing.err).toContain(
      'app "shared" has no version "9.9" in namespace default; its versions: 1.0, 2.0 (current 2.0)',
    );

    // A cluster created now pins 2.0: get shows it, and a new current version does not move it.
    expect((await as(alice, 'apply', '-f', await clusterFile('pinned'))).out).toBe('cluster/pinned created');
    expect((await as(alice, 'wait', 'pinned', '--for', 'configured', '--timeout', '120s')).code).toBe(0);
    served.set('/v3.tgz', await packageWith('three'));
    expect((await as(bob, 'app', 'apply', '-f', await appFile('3.0', `${base}/v3.tgz`))).code).toBe(0);
    expect((await as(bob, 'get')).out).toMatch(/pinned\s+shared\s+2\.0\s+configured/);
    const status = JSON.parse((await as(bob, 'get', 'pinned', '-o', 'json')).out);
    expect(status.appVersion).toBe('2.0');

    // 2.0 is in use: its delete is refused naming the cluster; 1.0 is not, and goes.
    const inUse = await as(bob, 'app', 'delete', 'shared', '--version', '2.0');
    expect(inUse.code).toBe(1);
    expect(inUse.err).toContain('version 2.0 of app shared is in use by cluster(s) pinned in namespace default');
    expect((await as(bob, 'app', 'delete', 'shared', '--version', '1.0')).out).toBe(
      'app/shared version 1.0 deleted; current 3.0, versions 2.0, 3.0',
    );
  });

  it('refuses other bytes than the pinned ones at install, naming the URL', async () => {
    const carol = path.join(work, 'carol');
    const good = await packageWith('good');
    served.set('/moved.tgz', good);
    expect((await as(carol, 'app', 'apply', '-f', await appFile('4.0', `${base}/moved.tgz`))).code).toBe(0);
    // The file behind the URL changes after the version was pinned.
    served.set('/moved.tgz', await packageWith('evil'));
    expect((await as(carol, 'apply', '-f', await clusterFile('tampered'))).code).toBe(0);
    const wait = await as(carol, 'wait', 'tampered', '--for', 'configured', '--timeout', '120s');
    expect(wait.code).toBe(5);
    const status = JSON.parse((await as(carol, 'get', 'tampered', '-o', 'json')).out);
    const member = status.roles[0].members[0];
    expect(member.lastError).toContain(`config package ${base}/moved.tgz refused: pinned sha256 ${sha256(good)}`);
    expect((await as(carol, 'delete', 'tampered')).code).toBe(0);
  });

  it('moves the catalog of $KDFLOW_HOME/apps from before into the shared catalog, once', async () => {
    const dave = path.join(work, 'dave');
    await mkdir(path.join(dave, 'apps', 'default'), { recursive: true });
    const manifest = {
      apiVersion: 'kdflow.dev/v1beta1',
      kind: 'KdApp',
      metadata: { name: 'legacy' },
      spec: {
        label: { name: 'Legacy' },
        distroID: 'test/legacy',
        version: '0.9',
        defaultImageRepoTag: 'none',
        defaultConfigPackage: null,
        roles: [{ id: 'node', cardinality: '1' }],
      },
    };
    await writeFile(path.join(dave, 'apps', 'default', 'legacy.json'), JSON.stringify(manifest));
    const first = await as(dave, 'app', 'list');
    expect(first.code).toBe(0);
    expect(first.out).toContain(
      `kdflow: moved 1 app(s) from ${dave}/apps into the shared catalog (default/legacy 0.9)`,
    );
    expect(first.out).toMatch(/legacy\s+0\.9\s+\*\s+Legacy/);
    expect(existsSync(path.join(dave, 'apps'))).toBe(false);
    expect(existsSync(path.join(dave, 'apps.migrated', 'default', 'legacy.json'))).toBe(true);
    // Another home sees it; the second run moves nothing.
    expect((await as(path.join(work, 'erin'), 'app', 'list')).out).toMatch(/legacy\s+0\.9\s+\*/);
    expect((await as(dave, 'app', 'list')).out).not.toContain('moved');
  });

  it('carries every version across continue-as-new, so its history stays short', async () => {
    const namespace = 'can';
    // Started by hand with a low history limit; the puts below find it running (update-with-start, USE_EXISTING).
    const first = await h.env.client.workflow.start('catalogWorkflow', {
      taskQueue: h.taskQueue,
      workflowId: catalogWorkflowId(namespace),
      args: [undefined, { maxHistoryEvents: 12 }],
    });
    const catalog = new AppCatalog(sdkCatalogTransport(h.env.client, h.taskQueue));
    const versions = Array.from({ length: 8 }, (_, i) => `0.${i}`);
    for (const version of versions)
      await catalog.put(namespace, {
        apiVersion: 'kdflow.dev/v1beta1',
        kind: 'KdApp',
        metadata: { name: 'many' },
        spec: KdAppSpec.parse({
          label: { name: 'Many' },
          distroID: 'test/many',
          version,
          defaultImageRepoTag: 'none',
          roles: [{ id: 'node', cardinality: '1' }],
        }),
      });
    const now = await h.env.client.workflow.getHandle(catalogWorkflowId(namespace)).describe();
    expect(now.runId).not.toBe(first.firstExecutionRunId);
    expect(now.historyLength).toBeLessThanOrEqual(20);
    const [listed] = await catalog.list(namespace);
    expect(listed?.versions.map((v) => v.version)).toEqual(versions);
    expect(listed?.current).toBe('0.7');
    expect((await catalog.get(namespace, 'many', '0.0')).app.version).toBe('0.0');
  });

  afterAll(() => {
    process.env.KDFLOW_HOME = h.home;
  });
});
