import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
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
function run(command: string, args: string[], env: Record<string, string | undefined>): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const kdflow = async (home: string, ...args: string[]) =>
  run(process.execPath, [BIN, ...args], { KDFLOW_HOME: home, TEMPORAL_ADDRESS: '127.0.0.1:1' });

describe('kdflow CLI on bad input', () => {
  it('validates the example apps, KdApp and KubeDirectorApp alike', async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-cli-'));
    for (const file of [
      'crds/examples/centos/app.yaml',
      'crds/examples/spark/app.yaml',
      'crds/examples/kubedirector/cr-app-centos7.json',
    ]) {
      const result = await kdflow(home, 'app', 'validate', '-f', file);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/is valid/);
    }
  });

  it.each([
    [
      'a cardinality broken',
      'spec:\n  roles:\n    - { id: worker, cardinality: "two" }',
      /spec\.roles\[0\]\.cardinality: cardinality must be "N" or "N\+"/,
    ],
    ['an unknown field', 'spec:\n  colour: blue', /spec: Unrecognized key: "colour"/],
    ['not YAML at all', '{ "apiVersion": ', /not valid JSON or YAML/],
  ])('rejects %s with one field-named line and exit 1', async (_name, patch, message) => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-cli-'));
    const file = path.join(home, 'bad.yaml');
    const base = 'apiVersion: kdflow.dev/v1beta1\nkind: KdApp\nmetadata: { name: bad }\n';
    const body = patch.startsWith('{')
      ? patch
      : `${base}${patch.replace('spec:', 'spec:\n  label: { name: x }\n  distroID: d\n  version: "1"\n  defaultImageRepoTag: i')}`;
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
    // The app in the same file: the cluster is checked against it before anything is sent (Temporal is unreachable here).
    const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-cli-'));
    const file = path.join(home, 'cluster.yaml');
    const app = await readFile(path.join(REPO, 'crds/examples/spark/app.yaml'), 'utf8');
    await writeFile(
      file,
      `${app.replaceAll('file://./', `file://${path.join(REPO, 'crds/examples/spark')}/`)}\n---\napiVersion: kdflow.dev/v1beta1\nkind: KdCluster\nmetadata: { name: tiny }\nspec:\n  app: spark\n  roles:\n    - { id: controller, members: 1 }\n    - { id: worker, members: 1 }\n`,
    );
    const result = await kdflow(home, 'apply', '-f', file);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'kdflow: tiny: spec.roles[1].members: worker needs at least 2 members (cardinality "2+"), got 1',
    );
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

describe('kdflow CLI: names, help and messages', () => {
  const fresh = () => mkdtemp(path.join(os.tmpdir(), 'kdflow-cli-'));
  const DNS =
    "must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)";

  it('refuses a namespace that is not a DNS label before anything runs, and writes nothing', async () => {
    const home = await fresh();
    const upper = await kdflow(home, '-n', 'Prod_NS', 'apply', '-f', 'crds/examples/centos/cluster.yaml');
    expect([upper.code, upper.stderr]).toEqual([2, `kdflow: -n/--namespace: namespace ${DNS}, got "Prod_NS"\n`]);
    const escape = `kdflow-escape-${path.basename(home)}`;
    const traversal = await kdflow(
      home,
      '--namespace',
      `../../${escape}`,
      'app',
      'apply',
      '-f',
      'crds/examples/centos/app.yaml',
    );
    expect([traversal.code, traversal.stderr]).toEqual([
      2,
      `kdflow: -n/--namespace: namespace ${DNS}, got "../../${escape}"\n`,
    ]);
    expect(existsSync(path.join(home, 'apps', '..', '..', escape))).toBe(false);
    expect(existsSync(path.join(home, 'apps'))).toBe(false);
    const empty = await kdflow(home, '-n', '', 'get');
    expect([empty.code, empty.stderr]).toEqual([2, 'kdflow: -n/--namespace: namespace must not be empty, got ""\n']);
    // Cluster and member names on the command line are checked the same way (a cluster name may be dotted).
    const name = await kdflow(home, 'logs', '../x', 'm-0');
    expect([name.code, name.stderr]).toEqual([
      2,
      `kdflow: NAME: cluster name must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit), got "../x"\n`,
    ]);
  });

  it('has help for every command, ending with one newline', async () => {
    const home = await fresh();
    const main = await kdflow(home, '--help');
    expect(main.code).toBe(0);
    expect(main.stdout).toMatch(/^kdflow — stateful app clusters on Temporal\n/);
    expect(main.stdout).toMatch(/[^\n]\n$/);
    // Every command's help is checked in test/unit/cli.test.ts; here a few, as a user runs them.
    for (const command of ['get', 'logs', 'help']) {
      const help = await kdflow(home, command, '--help');
      expect([help.code, help.stderr], command).toEqual([0, '']);
      expect(help.stdout.startsWith(`usage: kdflow ${command}`), command).toBe(true);
      expect(help.stdout, command).toMatch(/[^\n]\n$/);
      expect((await kdflow(home, 'help', command)).stdout, command).toBe(help.stdout);
    }
    expect((await kdflow(home, 'logs', '-h')).stdout).toContain('--tail N');
    expect((await kdflow(home, 'logs', '-h')).stdout).toContain('  -f, --follow ');
    expect((await kdflow(home, 'get', '-h')).stdout).toContain('  -w, --watch ');
    expect((await kdflow(home, 'apply', '-h')).stdout).toContain('  -f, --file FILE ');
  });

  it('names an unknown command or flag and points to --help (exit 2)', async () => {
    const home = await fresh();
    const cases: [string[], string][] = [
      [['frobnicate'], 'kdflow: unknown command "frobnicate"; see kdflow --help'],
      [['help', 'frobnicate'], 'kdflow: unknown command "frobnicate"; see kdflow --help'],
      [['get', '--colour'], 'kdflow: unknown flag --colour; see kdflow get --help'],
      [['--colour'], 'kdflow: unknown flag --colour; see kdflow --help'],
      [['delete', 'x', '--for', 'deleted'], 'kdflow: kdflow delete does not take --for; see kdflow delete --help'],
      [['get', '-o'], 'kdflow: flag -o/--output needs a value; see kdflow get --help'],
      [['get', 'a', 'b'], 'kdflow: kdflow get takes at most 1 argument, got 2 (a b); see kdflow get --help'],
      [['logs', 'c', 'm-0', '--tail', 'many'], 'kdflow: --tail must be a number of lines such as 100, got "many"'],
      [['completion', 'fish'], 'kdflow: usage: kdflow completion bash|zsh, got "fish"'],
      [['get', '-w', '-o', 'json'], 'kdflow: -w/--watch shows a table and its changes; it does not go with -o json'],
      [['apply', '--follow'], 'kdflow: kdflow apply does not take --follow; see kdflow apply --help'],
      [['logs', 'c', 'm-0', '--file', 'x'], 'kdflow: kdflow logs does not take --file; see kdflow logs --help'],
      [['get', '-f', 'x.yaml'], 'kdflow: kdflow get does not take -f; see kdflow get --help'],
    ];
    for (const [args, line] of cases) {
      const result = await kdflow(home, ...args);
      expect([result.code, result.stderr], args.join(' ')).toEqual([2, `${line}\n`]);
    }
  });

  it('completes commands, flags and their values in bash', async () => {
    const home = await fresh();
    const script = (await kdflow(home, 'completion', 'bash')).stdout;
    const complete = async (...words: string[]) => {
      const file = path.join(home, 'complete.bash');
      const array = words.map((w) => `'${w}'`).join(' ');
      await writeFile(
        file,
        `${script}\nCOMP_WORDS=(kdflow ${array}); COMP_CWORD=${words.length}; _kdflow; printf '%s\\n' "\${COMPREPLY[@]}"\n`,
      );
      const result = await run('bash', ['--norc', '--noprofile', file], {});
      expect(result.stderr).toBe('');
      return result.stdout.split('\n').filter(Boolean).sort();
    };
    expect(await complete('ge')).toEqual(['get']);
    expect(await complete('-n', 'prod', 're')).toEqual(['resize', 'restart', 'retry']);
    expect(await complete('get', '--o')).toEqual(['--output']);
    expect(await complete('get', '-o', '')).toEqual(['json', 'table', 'yaml']);
    expect(await complete('logs', 'c', 'm', '--')).toEqual([
      '--all',
      '--event',
      '--follow',
      '--help',
      '--namespace',
      '--tail',
    ]);
    // For logs, -f is --follow: it takes no value, so no files are offered after it and it swallows nothing.
    expect(await complete('logs', 'c', 'm', '-f', '')).toEqual([]);
    expect(await complete('logs', 'c', 'm', '-f', '--e')).toEqual(['--event']);
    expect(await complete('app', '')).toEqual(['apply', 'delete', 'get', 'list', 'validate']);
    expect(await complete('completion', '')).toEqual(['bash', 'zsh']);
    expect(await complete('apply', '-f', 'crds/examples/centos/cl')).toEqual(['crds/examples/centos/cluster.yaml']);
  });

  it('prints a zsh completion script', async () => {
    const result = await kdflow(await fresh(), 'completion', 'zsh');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^#compdef kdflow\n/);
    expect(result.stdout).toContain("'get:list the namespace");
    expect(result.stdout).toContain(
      "'(-o --output)'{-o,--output}'[table (default), json or yaml]:format:(table json yaml)'",
    );
    // Checked by zsh itself where it is installed.
    const zsh = await run('sh', ['-c', 'command -v zsh'], {});
    if (zsh.code === 0) {
      const file = path.join(await fresh(), '_kdflow');
      await writeFile(file, result.stdout);
      expect(await run('zsh', ['-n', file], {})).toMatchObject({ code: 0, stderr: '' });
    }
  });

  it('names the encoding of a manifest that is not UTF-8', async () => {
    const home = await fresh();
    const file = path.join(home, 'app.yaml');
    const text = await readFile('crds/examples/centos/app.yaml', 'utf8');
    await writeFile(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
    const result = await kdflow(home, 'app', 'validate', '-f', file);
    expect([result.code, result.stderr]).toEqual([
      1,
      `kdflow: ${file}: the file is UTF-16 (little-endian, with a byte order mark); manifests must be UTF-8: save it as UTF-8\n`,
    ]);
  });

  it('names the value of a bad field', async () => {
    const home = await fresh();
    const file = path.join(home, 'app.yaml');
    const text = await readFile('crds/examples/centos/app.yaml', 'utf8');
    await writeFile(
      file,
      text.replace(/cardinality: "?1\+"?/, 'cardinality: "1+"\n      eventList: [configure, reboot]'),
    );
    const result = await kdflow(home, 'app', 'validate', '-f', file);
    expect([result.code, result.stderr]).toEqual([
      1,
      `kdflow: ${file}: spec.roles[0].eventList[1]: got "reboot"; expected one of configure, addnodes, delnodes, upgrade, rollback, reconfigure, restart, postprovision, preterminate\n`,
    ]);
  });

  it('says a refused connection to Temporal is refused, and what to do', async () => {
    const result = await kdflow(await fresh(), 'get');
    expect([result.code, result.stderr]).toEqual([
      3,
      'kdflow: cannot reach Temporal at 127.0.0.1:1 (connection refused); is the server running? npm run temporal:dev (or npm start), or set TEMPORAL_ADDRESS\n',
    ]);
  });
});

/** PATH without the project's node_modules/.bin (vitest runs under npm, which puts it first): the system's as a user has it. */
const systemPath = (first: string[] = []) =>
  [...first, ...(process.env.PATH ?? '').split(path.delimiter).filter((d) => d && !d.includes('node_modules'))].join(
    path.delimiter,
  );
const PROJECT_NODE_BIN = path.join(REPO, 'node_modules', 'node', 'bin');

/** A user's shell: no npm_* variables (vitest runs under npx, whose settings a nested npx would inherit). */
const userShell = (env: Record<string, string>): Record<string, string | undefined> => ({
  ...Object.fromEntries(
    Object.keys(process.env).flatMap((k) => (/^(npm_|INIT_CWD$|NODE$)/i.test(k) ? [[k, undefined]] : [])),
  ),
  ...env,
});

describe('kdflow says nothing but its own lines: no npm or Node warnings', () => {
  const fresh = () => mkdtemp(path.join(os.tmpdir(), 'kdflow-cli-'));
  // The system Node here (Node 20 on the CI machine) and the project's Node 24 standing in as the system's.
  // KDFLOW_TEST_NODE_DIRS adds more (directories holding a `node`, such as a Node 22's bin/), colon-separated.
  const systems: [string, string[]][] = [
    ['the system Node', []],
    ['Node 24 as the system Node', [PROJECT_NODE_BIN]],
    ...(process.env.KDFLOW_TEST_NODE_DIRS ?? '')
      .split(':')
      .filter(Boolean)
      .map((dir): [string, string[]] => [`the Node in ${dir}`, [dir]]),
  ];

  it.each(systems)('npx kdflow with %s', async (_label, first) => {
    // A fresh npm cache, as on a new machine: npx then sets the project up in it, which is when npm checks engines.
    const env = userShell({
      PATH: systemPath(first),
      KDFLOW_HOME: await fresh(),
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      npm_config_cache: await fresh(),
    });
    const help = await run('npx', ['kdflow', 'get', '--help'], env);
    expect([help.code, help.stderr]).toEqual([0, '']);
    expect(help.stdout).toMatch(/^usage: kdflow get /);
    const refused = await run('npx', ['kdflow', 'get'], env);
    expect([refused.code, refused.stdout]).toEqual([3, '']);
    expect(refused.stderr).toMatch(/^kdflow: cannot reach Temporal at 127\.0\.0\.1:1 \(connection refused\)[^\n]*\n$/);
  });

  it.each(systems)('kdflow on the PATH (as npm link puts it there) with %s', async (_label, first) => {
    // npm link makes <prefix>/bin/kdflow a link to cli/bin.js; a link in a directory of our own is the same.
    const bin = path.join(await fresh(), 'bin');
    await mkdir(bin);
    await symlink(BIN, path.join(bin, 'kdflow'));
    const env = userShell({
      PATH: systemPath([bin, ...first]),
      KDFLOW_HOME: await fresh(),
      TEMPORAL_ADDRESS: '127.0.0.1:1',
    });
    const help = await run('kdflow', ['logs', '--help'], env);
    expect([help.code, help.stderr]).toEqual([0, '']);
    expect(help.stdout).toContain('-f, --follow');
    const bad = await run('kdflow', ['get', '-o', 'xml', 'x'], env);
    expect([bad.code, bad.stdout, bad.stderr]).toEqual([2, '', 'kdflow: -o must be table, json or yaml, got "xml"\n']);
  });

  it('node cli/bin.js with the system Node runs under the project Node when the system one cannot strip types', async () => {
    const env = userShell({ PATH: systemPath(), KDFLOW_HOME: await fresh(), TEMPORAL_ADDRESS: '127.0.0.1:1' });
    const result = await run('node', [BIN, 'help', 'get'], env);
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(result.stdout).toMatch(/^usage: kdflow get /);
  });
});

describe('npm start --once (the main job)', () => {
  it('starts the dev server with the Web UI, configures the demo cluster and deletes it', async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-start-'));
    const result = await run(process.execPath, ['scripts/start.ts', '--once'], {
      KDFLOW_HOME: home,
      TEMPORAL_ADDRESS: '127.0.0.1:17233',
      KDFLOW_UI_PORT: '18233',
    });
    expect(result.stderr).not.toContain('kdflow:');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Temporal dev server started on 127.0.0.1:17233');
    expect(result.stdout).toMatch(/analytics-worker-1\s+worker\s+configured\s+configure=0/);
    expect(result.stdout).toContain(
      'Web UI:   http://127.0.0.1:18233/namespaces/default/workflows/kdcluster%3Adefault%2Fanalytics',
    );
    expect(result.stdout).toContain('Web UI answered HTTP 200');
    expect(result.stdout).toContain('cluster/analytics deleted');
  });
});
