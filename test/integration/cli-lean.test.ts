/**
 * The CLI's lean Temporal client (lib/temporal-grpc.ts, ADR 0036) against a real dev server and worker:
 * every command it carries prints what the SDK's client prints (each run both ways and compared),
 * it never loads @temporalio/client (nor zod), and when it cannot open a session the SDK's client takes over.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CliContext } from '../../cli/context.ts';
import { runCli, useCliHarness } from '../support/cli.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

const h = useCliHarness();
afterEach(() => {
  delete process.env.KDFLOW_TEMPORAL_CLIENT;
  process.env.TEMPORAL_ADDRESS = h.env.address;
});

interface Result {
  code: number;
  out: string;
  err: string;
}

async function kdflow(client: 'lean' | 'sdk', ...args: string[]): Promise<Result> {
  process.env.KDFLOW_TEMPORAL_CLIENT = client;
  return runCli(...args);
}

/** The command through both clients: the same exit code and the same lines (AGE may tick between the two). */
async function same(...args: string[]): Promise<Result> {
  const lean = await kdflow('lean', ...args);
  const sdk = await kdflow('sdk', ...args);
  const steady = (r: Result) => ({ ...r, out: r.out.replace(/\bage \d+s\b|\b\d+s$/gm, 'AGE') });
  expect(steady(lean)).toEqual(steady(sdk));
  return lean;
}

describe('the lean client and the SDK client give the same answers', () => {
  it('get, history, resize, wait, errors', async () => {
    expect((await kdflow('lean', 'app', 'apply', '-f', 'crds/examples/centos/app.yaml')).code).toBe(0);
    expect((await kdflow('lean', 'apply', '-f', 'crds/examples/centos/cluster.yaml')).code).toBe(0);
    expect(await kdflow('lean', 'wait', 'centos-demo', '--for', 'configured', '--timeout', '60s')).toMatchObject({
      code: 0,
      out: 'cluster/centos-demo configured',
    });

    expect((await same('get', 'centos-demo')).out).toMatch(/^cluster default\/centos-demo \(app centos7x 1\.0, age/);
    expect(JSON.parse((await same('get', 'centos-demo', '-o', 'json')).out)).toMatchObject({ phase: 'configured' });
    await same('get', 'centos-demo', '-o', 'yaml');
    expect((await same('get')).out).toMatch(/^centos-demo\s+centos7x\s+1\.0\s+configured\s+2\/2/m);
    await same('get', '-o', 'json');
    expect((await same('history', 'centos-demo')).out.split('\n')).toHaveLength(3);
    const entries = JSON.parse((await same('history', 'centos-demo', '-o', 'json')).out) as { stdoutTail?: string }[];
    expect(entries[0]?.stdoutTail).toContain('--configure');

    // A change through the lean client, read back both ways.
    expect(await kdflow('lean', 'resize', 'centos-demo', 'vanilla_centos=3')).toEqual({
      code: 0,
      out: 'cluster/centos-demo resized (generation 2)',
      err: '',
    });
    expect((await kdflow('lean', 'wait', 'centos-demo', '--for', 'configured', '--timeout', '60s')).code).toBe(0);
    expect((await same('resize', 'centos-demo', 'vanilla_centos=3')).out).toBe(
      'cluster/centos-demo unchanged (generation 2)',
    );
    expect((await same('history', 'centos-demo', '--limit', '2')).out).toMatch(/addnodes/);
    await same('get', 'centos-demo', '-o', 'json');

    // Refused by the rules before sending, and by the workflow's own validator (a change the CLI's check lets through is not at hand: both say the same).
    expect((await same('resize', 'centos-demo', 'nosuch=1')).code).toBe(1);
    expect(await same('get', 'nosuch')).toEqual({ code: 4, out: '', err: 'kdflow: cluster default/nosuch not found' });
    expect((await same('history', 'nosuch')).code).toBe(4);
    expect((await same('resize', 'nosuch', 'vanilla_centos=1')).code).toBe(4);
  });

  it('never loads @temporalio/client, its protobuf tree or zod for get, history and resize', async () => {
    // A resolve hook in the CLI's own process names every module it loads.
    const hook = `data:text/javascript,${encodeURIComponent(
      `import module from 'node:module'; module.registerHooks({ resolve(s, c, next) { const r = next(s, c); if (/@temporalio\\/(client|proto)|node_modules\\/zod\\//.test(r.url)) process.stderr.write('loaded ' + r.url + '\\n'); return r; } });`,
    )}`;
    for (const args of [
      ['get', 'centos-demo'],
      ['get'],
      ['history', 'centos-demo'],
      ['resize', 'centos-demo', 'vanilla_centos=3'],
    ]) {
      const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', hook, 'cli/bin.js', ...args], {
          cwd: REPO,
          env: { ...process.env, KDFLOW_TEMPORAL_CLIENT: 'lean', TEMPORAL_ADDRESS: h.env.address, KDFLOW_HOME: h.home },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
      expect({ args, code: run.code, stderr: run.stderr }).toEqual({ args, code: 0, stderr: '' });
      expect(run.stdout).toMatch(/centos-demo/);
    }
  });

  it('falls back to the SDK client when no HTTP/2 session can be made', async () => {
    // Something that takes the connection and says nothing useful: not a gRPC server.
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.end('not http/2\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      process.env.TEMPORAL_ADDRESS = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
      const ctx = new CliContext(undefined, () => {});
      try {
        expect(await ctx.lean()).toBeUndefined();
      } finally {
        await ctx.close();
      }
      // The SDK's client was what answered (and it, too, finds no Temporal there): exit 3, one line.
      const result = await kdflow('lean', 'get', 'centos-demo');
      expect(result.code).toBe(3);
      expect(result.err.split('\n')).toHaveLength(1);
    } finally {
      server.close();
    }
    // KDFLOW_TEMPORAL_CLIENT=sdk chooses the SDK's client outright.
    process.env.KDFLOW_TEMPORAL_CLIENT = 'sdk';
    const ctx = new CliContext(undefined, () => {});
    expect(await ctx.lean()).toBeUndefined();
    await ctx.close();
  });
});
