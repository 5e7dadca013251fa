import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli, useCliHarness } from '../support/cli.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

const h = useCliHarness();

/** The exit code and stdout. */
async function kdflow(...args: string[]): Promise<{ code: number; out: string }> {
  const { code, out } = await runCli(...args);
  return { code, out };
}

/** Also the error lines. */
const kdflowErr = runCli;

interface ProcessRun {
  code: number | null;
  /** stdout, unless it was only counted. */
  stdout: string;
  stdoutBytes: number;
  stderr: string;
  /** Peak resident set size of the CLI process, MiB. */
  maxRssMiB: number;
}

/** The CLI as its own process, its peak memory measured; `countOnly` counts stdout instead of keeping it. */
async function kdflowProcess(env: Record<string, string>, args: string[], countOnly = false): Promise<ProcessRun> {
  const rssFile = path.join(await mkdtemp(path.join(os.tmpdir(), 'kdflow-rss-')), 'max-rss');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', './test/support/max-rss.ts', 'cli/bin.js', ...args], {
      cwd: REPO,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: h.env.address,
        KDFLOW_HOME: h.home,
        KDFLOW_TEST_MAX_RSS_FILE: rssFile,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stdoutBytes = 0;
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdoutBytes += d.length;
      if (!countOnly) stdout += d;
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      void readFile(rssFile, 'utf8')
        .catch(() => 'NaN')
        .then((text) => resolve({ code, stdout, stdoutBytes, stderr, maxRssMiB: Number(text) / 1024 }));
    });
  });
}

describe('kdflow against a live cluster', () => {
  it('applies, plans, resizes, shows, logs, retries and deletes', async () => {
    expect((await kdflow('app', 'apply', '-f', 'crds/examples/centos/app.yaml')).code).toBe(0);
    expect((await kdflow('app', 'list')).out).toMatch(/centos7x\s+1\.0\s+\*\s+CentOS 7\s+vanilla_centos\(1\+\)/);
    expect(await kdflow('apply', '-f', 'crds/examples/centos/cluster.yaml')).toEqual({
      code: 0,
      out: 'cluster/centos-demo created',
    });
    expect((await kdflow('wait', 'centos-demo', '--for', 'configured', '--timeout', '60s')).code).toBe(0);

    const json = JSON.parse((await kdflow('get', 'centos-demo', '-o', 'json')).out);
    expect(json).toMatchObject({
      name: 'centos-demo',
      namespace: 'default',
      app: 'centos7x',
      phase: 'configured',
      generation: 1,
      observedGeneration: 1,
    });
    expect(json.roles[0]).toMatchObject({ id: 'vanilla_centos', desired: 2 });
    expect(json.roles[0].members[1]).toMatchObject({
      name: 'centos-demo-vanilla-centos-1',
      fqdn: 'centos-demo-vanilla-centos-1.centos-demo.default.svc.cluster.local',
      state: 'configured',
    });
    expect(json.roles[0].members[1].events[0]).toMatchObject({ event: 'configure', exitCode: 0, attempts: 1 });
    expect(json.roles[0].members[1].events[0].startedAt).toMatch(/^\d{4}-/);
    expect((await kdflow('get')).out).toMatch(/^centos-demo\s+centos7x\s+1\.0\s+configured\s+2\/2\s+1\/1\s+\d+s$/m);

    const planned = (await kdflow('plan', '-f', 'crds/examples/centos/cluster.yaml')).out;
    expect(planned).toBe('cluster/centos-demo: no change');

    expect((await kdflow('resize', 'centos-demo', 'vanilla_centos=3')).out).toBe(
      'cluster/centos-demo resized (generation 2)',
    );
    expect((await kdflow('wait', 'centos-demo', '--for', 'configured')).code).toBe(0);
    const fqdn2 = 'centos-demo-vanilla-centos-2.centos-demo.default.svc.cluster.local';
    const logs = (await kdflow('logs', 'centos-demo', 'centos-demo-vanilla-centos-0', '--event', 'addnodes')).out;
    expect(logs).toContain(`Starting configuration with option '--addnodes' on node`);
    expect(logs).toContain(`args: --addnodes --nodegroup 1 --role vanilla_centos --fqdns ${fqdn2}`);
    const history = (await kdflow('history', 'centos-demo')).out;
    expect(history.split('\n').filter((l) => l.includes(' configure '))).toHaveLength(3);
    expect(history).toMatch(/centos-demo-vanilla-centos-1\s+addnodes\s+0\s+1\s+--addnodes/);

    // Rejected before anything is sent: below the cardinality, and an unknown role.
    expect((await kdflow('resize', 'centos-demo', 'vanilla_centos=0')).code).toBe(1);
    expect((await kdflow('resize', 'centos-demo', 'nosuch=1')).code).toBe(1);
    expect((await kdflow('retry', 'centos-demo')).code).toBe(0);
    expect((await kdflow('delete', 'centos-demo')).code).toBe(0);
    expect((await kdflow('wait', 'centos-demo', '--for', 'deleted')).code).toBe(0);
    expect((await kdflow('get', 'centos-demo')).code).toBe(4);
    expect(await h.runtime.listMembers('default', 'centos-demo')).toEqual([]);
  });

  it('says unchanged, resizes a role named constructor, refuses __proto__ and a member the cluster does not have', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-live-'));
    const appFile = path.join(dir, 'app.yaml');
    const app = (await readFile('crds/examples/centos/app.yaml', 'utf8'))
      .replace('name: centos7x', 'name: protoapp')
      .replace('file://./appconfig', `file://${path.join(REPO, 'crds/examples/centos/appconfig')}`)
      .replace(
        '- id: vanilla_centos\n      cardinality: "1+"',
        '- id: constructor\n      cardinality: "1"\n    - id: worker\n      cardinality: "0+"',
      );
    await writeFile(appFile, app);
    const clusterFile = path.join(dir, 'cluster.yaml');
    await writeFile(
      clusterFile,
      'apiVersion: kdflow.dev/v1beta1\nkind: KdCluster\nmetadata: { name: proto }\nspec:\n  app: protoapp\n  roles:\n    - { id: constructor, members: 1 }\n    - { id: worker, members: 1 }\n',
    );
    expect((await kdflowErr('app', 'apply', '-f', appFile)).code).toBe(0);
    expect(await kdflow('apply', '-f', clusterFile)).toEqual({ code: 0, out: 'cluster/proto created' });
    expect((await kdflow('wait', 'proto', '--for', 'configured', '--timeout', '60s')).code).toBe(0);
    expect(await kdflow('apply', '-f', clusterFile)).toEqual({
      code: 0,
      out: 'cluster/proto unchanged (generation 1)',
    });

    // A role named constructor is a role like any other.
    expect(await kdflowErr('resize', 'proto', 'worker=2')).toEqual({
      code: 0,
      out: 'cluster/proto resized (generation 2)',
      err: '',
    });
    expect(await kdflowErr('resize', 'proto', 'worker=2')).toEqual({
      code: 0,
      out: 'cluster/proto unchanged (generation 2)',
      err: '',
    });
    // __proto__ is a role id the rules refuse by name; nothing is sent.
    expect(await kdflowErr('resize', 'proto', '__proto__=3')).toEqual({
      code: 1,
      out: '',
      err: 'kdflow: resize proto: spec.roles[2].id: role id must not be "__proto__" (a name reserved by JavaScript)',
    });
    expect((await kdflow('wait', 'proto', '--for', 'configured', '--timeout', '60s')).code).toBe(0);
    expect(JSON.parse((await kdflow('get', 'proto', '-o', 'json')).out)).toMatchObject({
      generation: 2,
      phase: 'configured',
    });

    expect(await kdflowErr('retry', 'proto', 'no-such-member')).toEqual({
      code: 4,
      out: '',
      err: 'kdflow: member no-such-member not found in cluster default/proto; its members: proto-constructor-0, proto-worker-0, proto-worker-1',
    });
    expect(await kdflowErr('retry', 'proto', 'proto-worker-1')).toEqual({
      code: 0,
      out: 'cluster/proto: retry requested for proto-worker-1',
      err: '',
    });
  });

  it('streams logs: the tail by default, --all in constant memory, and says when a member has no files here', async () => {
    const member = 'proto-worker-0';
    const stdoutFile = path.join(
      h.runtime.memberRoot({ namespace: 'default', cluster: 'proto', name: member }),
      'opt/guestconfig/configure.stdout',
    );
    // 600 MiB: past the longest string V8 makes (the old reader printed "(none)"); sparse, so no disk is used.
    await truncate(stdoutFile, 600 * 1024 * 1024);
    const lines = Array.from({ length: 150 }, (_, i) => `line ${i + 1}`);
    await appendFile(stdoutFile, `\n${lines.join('\n')}\n`);

    const tail = await kdflowProcess({}, ['logs', 'proto', member]);
    expect([tail.code, tail.stderr]).toEqual([0, '']);
    const shown = tail.stdout.split('\n');
    expect(shown[0]).toBe(
      `==> configure.stdout (last 100 lines of ${600 * 1024 * 1024 + 1 + lines.join('\n').length + 1} bytes; --tail N or --all for more) <==`,
    );
    expect(shown.slice(1, 101)).toEqual(lines.slice(-100));
    expect(shown[101]).toBe('==> configure.stderr <==');
    expect(tail.maxRssMiB).toBeLessThan(300);

    const three = await kdflowProcess({}, ['logs', 'proto', member, '--tail', '3']);
    expect(three.stdout.split('\n').slice(0, 4)).toEqual([
      expect.stringMatching(/^==> configure\.stdout \(last 3 lines of/),
      'line 148',
      'line 149',
      'line 150',
    ]);

    // Every byte, through a pipe, with memory that does not grow with the file.
    const all = await kdflowProcess({}, ['logs', 'proto', member, '--all'], true);
    expect([all.code, all.stderr]).toEqual([0, '']);
    expect(all.stdoutBytes).toBeGreaterThan(600 * 1024 * 1024);
    expect(all.maxRssMiB).toBeLessThan(300);

    const elsewhere = await mkdtemp(path.join(os.tmpdir(), 'kdflow-other-home-'));
    const wrongHome = await kdflowProcess({ KDFLOW_HOME: elsewhere }, ['logs', 'proto', member]);
    expect([wrongHome.code, wrongHome.stdout]).toEqual([4, '']);
    expect(wrongHome.stderr).toBe(
      `kdflow: member ${member} has no files here: ${path.join(elsewhere, 'members/default/proto', member)} does not exist. Is KDFLOW_HOME (${elsewhere}) the one the worker runs with? Run kdflow with the worker's KDFLOW_HOME (npm start prints it).\n`,
    );
    expect((await kdflowErr('logs', 'proto', 'proto-worker-9')).err).toBe(
      'kdflow: member proto-worker-9 not found in cluster default/proto; its members: proto-constructor-0, proto-worker-0, proto-worker-1',
    );
  });
});
