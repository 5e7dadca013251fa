/**
 * `kdflow get -w` and `kdflow logs -f` as a user runs them: their own processes against a real dev
 * server and worker, driven by changes made meanwhile; each waits for the line the change must print.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.ts';
import { useHarness } from '../../testing/harness.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const h = useHarness();
const children: ChildProcess[] = [];

beforeAll(async () => {
  process.env.TEMPORAL_ADDRESS = h.env.address;
  process.env.KDFLOW_HOME = h.home;
  expect(await kdflow('app', 'apply', '-f', 'crds/examples/centos/app.yaml')).toBe(0);
  expect(await kdflow('apply', '-f', 'crds/examples/centos/cluster.yaml')).toBe(0);
  expect(await kdflow('wait', 'centos-demo', '--for', 'configured', '--timeout', '120s')).toBe(0);
});

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

async function kdflow(...args: string[]): Promise<number> {
  return main(args, () => {});
}

interface Watching {
  child: ChildProcess;
  /** Resolves with stdout once it has a line matching `pattern`. */
  until(pattern: RegExp): Promise<string>;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** The CLI in its own process; stdout is watched line by line, as a user at a terminal reads it. */
function watch(...args: string[]): Watching {
  const child = spawn(process.execPath, ['cli/bin.js', ...args], {
    cwd: REPO,
    env: { ...process.env, TEMPORAL_ADDRESS: h.env.address, KDFLOW_HOME: h.home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (s: string) => void }[] = [];
  const check = () => {
    for (const w of [...waiters])
      if (stdout.split('\n').some((line) => w.pattern.test(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(stdout);
      }
  };
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    check();
  });
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return {
    child,
    exited,
    until: (pattern) =>
      new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        check();
        void exited.then(({ code }) => reject(new Error(`exited ${code} before ${pattern}:\n${stdout}\n${stderr}`)));
      }),
  };
}

describe('kdflow get -w and logs -f', () => {
  it('logs -f prints what a new run writes, until Ctrl-C (exit 0, nothing on stderr)', async () => {
    const logs = watch('logs', 'centos-demo', 'centos-demo-vanilla-centos-0', '--event', 'addnodes', '-f');
    await logs.until(/^==> addnodes\.status <==$/);
    expect(await kdflow('resize', 'centos-demo', 'vanilla_centos=3')).toBe(0);
    const fqdn = 'centos-demo-vanilla-centos-2.centos-demo.default.svc.cluster.local';
    const shown = await logs.until(
      new RegExp(`^args: --addnodes --nodegroup 1 --role vanilla_centos --fqdns ${fqdn}$`),
    );
    expect(shown).toContain('==> addnodes.stdout <==\n(none)\n');
    logs.child.kill('SIGINT');
    expect(await logs.exited).toMatchObject({ code: 0, stderr: '' });
    expect(await kdflow('wait', 'centos-demo', '--for', 'configured')).toBe(0);
  });

  it('get -w: the table, then a line per change; get NAME -w ends when the cluster is deleted', async () => {
    const list = watch('get', '-w');
    const one = watch('get', 'centos-demo', '-w');
    await list.until(/^NAME\s+APP\s+VERSION\s+PHASE\s+MEMBERS\s+GENERATION\s+AGE$/);
    await list.until(/^centos-demo\s+centos7x\s+1\.0\s+configured\s+3\/3\s+2\/2\s+\d+[smhd]$/);
    await one.until(/^centos-demo-vanilla-centos-2\s+vanilla_centos\s+configured/);

    expect(await kdflow('resize', 'centos-demo', 'vanilla_centos=4')).toBe(0);
    await one.until(/^centos-demo-vanilla-centos-3\s+vanilla_centos\s+configured\s+configure=0$/);
    await one.until(/^centos-demo-vanilla-centos-0\s+vanilla_centos\s+configured\s+addnodes=0$/);
    await list.until(/^centos-demo\s+centos7x\s+1\.0\s+configured\s+4\/4\s+3\/3\s+\d+[smhd]$/);

    expect(await kdflow('delete', 'centos-demo')).toBe(0);
    const ended = await one.exited;
    expect([ended.code, ended.stderr]).toEqual([0, '']);
    expect(ended.stdout.trimEnd().split('\n').at(-1)).toBe('cluster/centos-demo deleted');
    // Shown once, not again on every poll.
    expect(
      ended.stdout.match(/^centos-demo-vanilla-centos-3\s+vanilla_centos\s+configured\s+configure=0$/gm),
    ).toHaveLength(1);
    await list.until(/^centos-demo\s+centos7x\s+1\.0\s+deleted\s+/);
    list.child.kill('SIGINT');
    expect(await list.exited).toMatchObject({ code: 0, stderr: '' });
  });
});
