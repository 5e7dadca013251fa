import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(REPO, 'cli', 'bin.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it: its own process, its own exit code. */
function run(command: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const kdflow = async (home: string, ...args: string[]) => run(process.execPath, [BIN, ...args], { KDFLOW_HOME: home, TEMPORAL_ADDRESS: '127.0.0.1:1' });

describe('kdflow CLI on bad input', () => {
  it('validates the example apps, KdApp and KubeDirectorApp alike', async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-cli-'));
    for (const file of ['crds/examples/centos/app.yaml', 'crds/examples/spark/app.yaml', 'crds/examples/kubedirector/cr-app-centos7.json']) {
      const result = await kdflow(home, 'app', 'validate', '-f', file);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/is valid/);
    }
  });

  it.each([
    ['a cardinality broken', 'spec:\n  roles:\n    - { id: worker, cardinality: "two" }', /spec\.roles\[0\]\.cardinality: cardinality must be "N" or "N\+"/],
    ['an unknown field', 'spec:\n  colour: blue', /spec: Unrecognized key: "colour"/],
    ['not YAML at all', '{ "apiVersion": ', /not valid JSON or YAML/],
  ])('rejects %s with one field-named line and exit 1', async (_name, patch, message) => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-cli-'));
    const file = path.join(home, 'bad.yaml');
    const base = 'apiVersion: kdflow.dev/v1beta1\nkind: KdApp\nmetadata: { name: bad }\n';
    const body = patch.startsWith('{') ? patch : `${base}${patch.replace('spec:', 'spec:\n  label: { name: x }\n  distroID: d\n  version: "1"\n  defaultImageRepoTag: i')}`;
    await writeFile(file, body);
    const result = await kdflow(home, 'app', 'apply', '-f', file);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('bad.yaml');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    // Nothing half-done: the app was not stored.
    expect((await kdflow(home, 'app', 'list')).stdout).not.toContain('bad');
  });

  it('rejects a cluster whose members break the cardinality before contacting Temporal', async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-cli-'));
    expect((await kdflow(home, 'app', 'apply', '-f', 'crds/examples/spark/app.yaml')).code).toBe(0);
    const file = path.join(home, 'cluster.yaml');
    await writeFile(file, 'apiVersion: kdflow.dev/v1beta1\nkind: KdCluster\nmetadata: { name: tiny }\nspec:\n  app: spark\n  roles:\n    - { id: controller, members: 1 }\n    - { id: worker, members: 1 }\n');
    const result = await kdflow(home, 'apply', '-f', file);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('kdflow: tiny: spec.roles[1].members: worker needs at least 2 members (cardinality "2+"), got 1');
  });

  it('names a missing file, an unknown command and an unreachable Temporal with distinct exit codes', async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-cli-'));
    const missing = await kdflow(home, 'apply', '-f', 'nope.yaml');
    expect([missing.code, missing.stderr.trim()]).toEqual([2, 'kdflow: cannot read nope.yaml: no such file']);
    const unknown = await kdflow(home, 'frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const badResize = await kdflow(home, 'resize', 'x', 'worker=many');
    expect(badResize.code).toBe(2);
    expect(badResize.stderr).toContain('"worker=many" is not ROLE=N');
    const offline = await kdflow(home, 'get');
    expect(offline.code).toBe(3);
    expect(offline.stderr).toMatch(/^kdflow: cannot reach Temporal at 127\.0\.0\.1:1/);
  });
});

describe('npm start --once (the main job)', () => {
  it('starts the dev server with the Web UI, configures the demo cluster and deletes it', async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-start-'));
    const result = await run(process.execPath, ['scripts/start.ts', '--once'], { KDFLOW_HOME: home, TEMPORAL_ADDRESS: '127.0.0.1:17233', KDFLOW_UI_PORT: '18233' });
    expect(result.stderr).not.toContain('kdflow:');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Temporal dev server started on 127.0.0.1:17233');
    expect(result.stdout).toMatch(/analytics-worker-1\s+worker\s+configured\s+configure=0/);
    expect(result.stdout).toContain('Web UI:   http://127.0.0.1:18233/namespaces/default/workflows/kdcluster%3Adefault%2Fanalytics');
    expect(result.stdout).toContain('Web UI answered HTTP 200');
    expect(result.stdout).toContain('cluster/analytics deleted');
  });
});
