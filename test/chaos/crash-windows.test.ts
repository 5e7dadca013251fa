/**
 * The two places where a worker killed at exactly the wrong moment could leave a twin behind: between
 * spawning a script runner and recording it, and between starting a keep-alive and recording it.
 * Random kills rarely land in a window this narrow, so each is staged here.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preparePackage } from '../../runtimes/config-package.ts';
import { LocalRuntime } from '../../runtimes/local.ts';
import { runScript, runnerArgv } from '../../runtimes/script/protocol.ts';
import { processes, taggedProcesses } from '../../testing/processes.ts';
import { memberSpec } from '../../testing/members.ts';

const control = { signal: new AbortController().signal, heartbeat: () => {} };
let home: string;
let runtime: LocalRuntime;

const member = (name: string) => memberSpec('win', 'c', name);

beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-win-'));
  runtime = new LocalRuntime(home);
});
afterAll(async () => {
  for (const name of ['c-runner-0', 'c-keep-0']) await runtime.removeMember(member(name));
});

describe('a worker killed inside a crash window', () => {
  it('after spawning a runner but before recording it: the retry waits for that runner instead of starting a twin', async () => {
    const m = member('c-runner-0');
    await runtime.ensureMember(m);
    const pkgDir = path.join(home, 'pkg', 'appconfig');
    await mkdir(pkgDir, { recursive: true });
    const ledger = path.join(home, 'ledger');
    await writeFile(path.join(pkgDir, 'startscript'), `#!/bin/sh\nsleep 1\necho "$KDFLOW_RUN_ID" >> ${ledger}\n`);
    await chmod(path.join(pkgDir, 'startscript'), 0o755);
    await runtime.installPackage(m, (await preparePackage(pkgDir, path.join(home, 'cache'))).tgzPath);
    const guest = path.join(runtime.memberRoot(m), 'opt', 'guestconfig');
    const runId = 'win/c/g1/s1/c-runner-0/configure';
    // What the dead worker did: `.kdflow/configure.running` says the run is about to start (pid 0),
    // the runner is started, and its pid is never recorded. (The runner records its own pid as it
    // starts; the record is put back to 0 after that, which is the window.)
    const running = path.join(runtime.memberRoot(m), '.kdflow', 'configure.running');
    await writeFile(running, `${runId}=0\n`);
    const [shell, ...args] = runnerArgv({
      status: path.join(guest, 'configure.status'),
      runId,
      base: path.join(runtime.memberRoot(m), '.kdflow', 'configure'),
      stdout: path.join(guest, 'configure.stdout'),
      stderr: path.join(guest, 'configure.stderr'),
      timeoutSeconds: 30,
      script: path.join(guest, 'appconfig', 'startscript'),
      argv: ['--configure'],
    }) as [string, ...string[]];
    const orphan = spawn(shell, args, {
      detached: true,
      stdio: 'ignore',
      cwd: runtime.memberRoot(m),
      env: { PATH: process.env.PATH, KDFLOW_MEMBER_ROOT: runtime.memberRoot(m) },
    });
    orphan.unref();
    await new Promise((resolve) => orphan.once('spawn', resolve));
    while (!(await readFile(running, 'utf8')).endsWith(`=${orphan.pid}\n`))
      await new Promise((resolve) => setTimeout(resolve, 10));
    await writeFile(running, `${runId}=0\n`);
    const result = await runScript(
      runtime,
      m,
      { runId, event: 'configure', argv: ['--configure'], env: [], timeoutSeconds: 30 },
      control,
    );
    expect(result.exitCode).toBe(0);
    // Once the orphan has ended, nothing of the run is left: a twin would still be running, or be in the ledger.
    if (orphan.exitCode === null && orphan.signalCode === null) await once(orphan, 'exit');
    expect(await processes((p) => p.runId === runId)).toEqual([]);
    expect((await readFile(ledger, 'utf8')).trim().split('\n')).toEqual([runId]);
  });

  it('after starting a keep-alive but before recording it: the next ensure adopts it, and removal ends it', async () => {
    const m = member('c-keep-0');
    const tag = `kdflow-keepalive:win/c/c-keep-0`;
    // What the dead worker did: the pid file says a keep-alive is about to start (0), one is started, its pid never recorded.
    await mkdir(path.join(runtime.memberRoot(m), '.kdflow'), { recursive: true });
    await writeFile(path.join(runtime.memberRoot(m), '.kdflow', 'keepalive.pid'), '0\n');
    const stray = spawn('sleep', ['infinity'], {
      argv0: tag,
      detached: true,
      stdio: 'ignore',
      cwd: runtime.memberRoot(m),
    });
    stray.unref();
    await new Promise((resolve) => stray.once('spawn', resolve));
    await runtime.ensureMember(m);
    await runtime.ensureMember(m);
    expect(await taggedProcesses(tag, home)).toBe(1);
    await runtime.removeMember(m);
    expect(await taggedProcesses(tag, home)).toBe(0);
  });

  it('never turns a name that is not a DNS label into a path', async () => {
    const sentinel = path.join(home, 'members', 'sentinel');
    await mkdir(sentinel, { recursive: true });
    for (const [namespace, cluster, name] of [
      ['..', '..', 'x'],
      ['win', '..', 'sentinel'],
      ['win', 'c', '../../sentinel'],
      ['win', 'c', ''],
      ['win', 'C', 'x'],
    ] as const) {
      expect(() => runtime.memberRoot({ namespace, cluster, name })).toThrow(/is not a DNS-1123 (label|subdomain)/);
    }
    await expect(runtime.removeCluster('..', 'members')).rejects.toThrow(/is not a DNS-1123 (label|subdomain)/);
    await expect(runtime.removeMember({ ...member('x'), cluster: '..', name: 'members' })).rejects.toThrow(
      /is not a DNS-1123 (label|subdomain)/,
    );
    expect((await readdir(path.join(home, 'members'))).includes('sentinel')).toBe(true);
  });
});
