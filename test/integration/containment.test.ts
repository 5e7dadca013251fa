/**
 * Every process a member's scripts start ends with the member (issue 13): daemons a configure leaves,
 * the tree of a timed-out or orphaned run, and everything of a member whose keep-alive died or whose
 * directory was removed. Each case runs in both containment modes: the pid namespace (what `auto`
 * picks here, as root) and the tracked fallback (KDFLOW_CONTAINMENT=tracked). With them, what the
 * script protocol promises there (docs/adr/0021): the runner's own timeout, counted from the run's
 * start whether or not a worker watches or adopts it, and a kill told from a timeout.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { createActivities, type ScriptInput } from '../../activities/index.ts';
import { preparePackage } from '../../runtimes/config-package.ts';
import { LocalRuntime } from '../../runtimes/local.ts';
import { runScript, runnerArgv } from '../../runtimes/script/protocol.ts';
import type { MemberSpec, ScriptRequest } from '../../runtimes/runtime.ts';
import { memberSpec } from '../../testing/members.ts';
import { childrenOf, isAlive, processes, taggedProcesses } from '../../testing/processes.ts';

const CHILD = fileURLToPath(new URL('../support/run-script-child.ts', import.meta.url));
const control = { signal: new AbortController().signal, heartbeat: () => {} };

/** Live (not zombie) processes whose command line contains the marker. */
async function withMarker(marker: string): Promise<number[]> {
  return (await processes((p) => p.argv.join(' ').includes(marker))).map((p) => p.pid);
}

/** Waits for a condition the system reaches by itself (a fork to exec, a process to appear); the limit is a hang guard. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, limitMs = 60_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A script that notes "overlap" in the ledger when another run still holds its lock (flock -n fails): two runs at once. */
const exclusive = (ledger: string, body: string) =>
  `#!/bin/sh\nexec 9>"${ledger}.lock"\nflock -n 9 || echo overlap >> "${ledger}"\n${body}\n`;

const uniqueSleep = () => `${randomInt(100_000, 900_000)}.${randomInt(1000, 9999)}`;

describe.each(['auto', 'tracked'] as const)('containment %s', (setting) => {
  let home: string;
  let runtime: LocalRuntime;
  const before = process.env.KDFLOW_CONTAINMENT;
  const ns = setting === 'auto' ? 'cta' : 'ctt';
  const member = (name: string) => memberSpec(ns, 'c', name);
  const request = (runId: string, overrides: Partial<ScriptRequest> = {}): ScriptRequest => ({
    runId,
    event: 'configure',
    argv: ['--configure'],
    env: [],
    timeoutSeconds: 60,
    ...overrides,
  });

  async function install(name: string, script: string): Promise<MemberSpec> {
    const m = member(name);
    await runtime.ensureMember(m);
    const dir = path.join(home, 'pkg', name, 'appconfig');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'startscript'), script);
    await chmod(path.join(dir, 'startscript'), 0o755);
    await runtime.installPackage(m, (await preparePackage(dir, path.join(home, 'cache'))).tgzPath);
    return m;
  }

  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), `kdflow-contain-${setting}-`));
    process.env.KDFLOW_CONTAINMENT = setting;
    runtime = new LocalRuntime(home);
    restoreEnv(before);
  });
  afterAll(async () => {
    for (const name of await runtime.listMembers(ns, 'c')) await runtime.removeMember(member(name));
    await runtime.removeCluster(ns, 'c');
    await rm(home, { recursive: true, force: true });
  });

  it('says which mode is in effect', () => {
    const expected =
      setting === 'tracked' ? 'tracked' : process.geteuid?.() === 0 ? 'pid-namespace' : runtime.containment;
    expect(runtime.containment).toBe(expected);
  });

  it('ends every daemon a configure left (&, nohup, setsid, cd /) when the member is removed', async () => {
    const marks = [uniqueSleep(), uniqueSleep(), uniqueSleep()];
    const m = await install(
      'c-daemons-0',
      `#!/bin/sh
sleep ${marks[0]} &
cd / && nohup sleep ${marks[1]} >/dev/null 2>&1 &
(cd / && exec setsid sleep ${marks[2]}) &
exit 0
`,
    );
    const result = await runScript(runtime, m, request('ct/daemons/configure'), control);
    expect(result.exitCode).toBe(0);
    for (const mark of marks)
      await until(`daemon sleep ${mark} runs`, async () => ((await withMarker(mark)).length === 1 ? true : undefined));
    // Alive while the member lives: services started by configure are the point.
    expect((await runtime.probeMembers([m]))[m.name]).toEqual({ ready: true });
    await runtime.removeMember(m);
    for (const mark of marks) expect(await withMarker(mark), `sleep ${mark} outlived its member`).toEqual([]);
  });

  it('a timed-out attempt takes its whole tree, setsid children included, on every retry', async () => {
    const [mark, hang] = [uniqueSleep(), uniqueSleep()];
    const m = await install('c-timeout-0', `#!/bin/sh\n(cd / && exec setsid sleep ${mark}) &\nsleep ${hang}\n`);
    for (let attempt = 1; attempt <= 2; attempt++) {
      const result = await runScript(runtime, m, request('ct/timeout/configure', { timeoutSeconds: 1 }), control);
      expect(result).toMatchObject({ timedOut: true, exitCode: null });
      expect(await withMarker(mark), `attempt ${attempt} left its setsid child`).toEqual([]);
      expect(await withMarker(hang), `attempt ${attempt} left its script`).toEqual([]);
    }
    expect((await readFile(path.join(runtime.memberRoot(m), 'opt/guestconfig/configure.status'), 'utf8')).trim()).toBe(
      'ct/timeout/configure=timeout',
    );
  });

  it('records how a run ended: an exit code, or the signal that killed the script', async () => {
    const m = await install(
      'c-ends-0',
      '#!/bin/sh\ncase "$1" in --configure) kill -KILL $$ ;; --addnodes) exit 137 ;; esac\n',
    );
    const killed = await runScript(runtime, m, request('ct/ends/configure'), control);
    expect(killed).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: false });
    expect(await readFile(path.join(runtime.memberRoot(m), 'opt/guestconfig/configure.status'), 'utf8')).toBe(
      'ct/ends/configure=signal 9\n',
    );
    // An exit code that looks like a signal is still an exit code.
    const exited = await runScript(
      runtime,
      m,
      request('ct/ends/addnodes', { event: 'addnodes', argv: ['--addnodes'] }),
      control,
    );
    expect(exited).toMatchObject({ exitCode: 137, timedOut: false });
    expect(exited.signal).toBeUndefined();
  });

  it('a runner killed mid-run: its script is ended, and the retry never overlaps it', async () => {
    const ledger = path.join(home, 'ledger-runner');
    const mark = uniqueSleep();
    const m = await install(
      'c-runner-0',
      exclusive(ledger, `echo start >> "${ledger}"\nsleep ${mark}\necho done >> "${ledger}"`),
    );
    const running = path.join(runtime.memberRoot(m), '.kdflow', 'configure.running');
    const attempt = runScript(runtime, m, request('ct/runner/configure'), control);
    const runner = await until(
      'the runner is recorded',
      async () => Number((await readFile(running, 'utf8').catch(() => '')).split('=').at(-1)) || undefined,
    );
    await until('the script sleeps', async () => ((await withMarker(mark)).length > 0 ? true : undefined));
    process.kill(runner, 'SIGKILL');
    const first = await attempt;
    expect(first.exitCode).toBeNull();
    expect(await withMarker(mark), 'the orphaned script still runs').toEqual([]);
    expect(first.stderrTail).toMatch(/runner .* was killed/);
    await rm(ledger, { force: true });
    // The retry: a quick script now, and no overlap with anything left of the first attempt.
    await writeFile(
      path.join(runtime.memberRoot(m), 'opt/guestconfig/appconfig/startscript'),
      exclusive(ledger, `echo retried >> "${ledger}"`),
    );
    expect((await runScript(runtime, m, request('ct/runner/configure'), control)).exitCode).toBe(0);
    expect((await readFile(ledger, 'utf8')).trim().split('\n')).toEqual(['retried']);
  });

  it('a runner killed together with its worker: the retry ends the orphaned script before it starts', async () => {
    const ledger = path.join(home, 'ledger-orphan');
    const mark = uniqueSleep();
    const m = await install(
      'c-orphan-0',
      exclusive(
        ledger,
        `echo "start $KDFLOW_RUN_ID" >> "${ledger}"\n[ -e "$KDFLOW_MEMBER_ROOT/second" ] || sleep ${mark}\necho "done $KDFLOW_RUN_ID" >> "${ledger}"`,
      ),
    );
    const runId = 'ct/orphan/configure';
    const worker = spawn(process.execPath, [CHILD, home, JSON.stringify(m), JSON.stringify(request(runId))], {
      stdio: 'ignore',
      env: { ...process.env, KDFLOW_CONTAINMENT: setting },
    });
    const running = path.join(runtime.memberRoot(m), '.kdflow', 'configure.running');
    const runner = await until(
      'the runner is recorded',
      async () => Number((await readFile(running, 'utf8').catch(() => '')).split('=').at(-1)) || undefined,
    );
    await until('the script sleeps', async () => ((await withMarker(mark)).length > 0 ? true : undefined));
    const workerGone = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGKILL');
    await workerGone;
    process.kill(runner, 'SIGKILL');
    // The retry comes once Temporal gives up on the dead worker; by then its runner is long gone.
    await until('the runner is gone', async () => (!isAlive(runner) ? true : undefined));
    // So does the dead worker's waiter (`kdflow-start`, which outlives it until it has ended the lost
    // run): a retry that started while it still ran could have its own script ended by it.
    const waiters = () =>
      processes((p) => p.argv.includes('kdflow-start') && p.argv.includes(runId) && p.argv.join(' ').includes(home));
    await until('the first waiter is gone', async () => ((await waiters()).length === 0 ? true : undefined));
    await writeFile(path.join(runtime.memberRoot(m), 'second'), '');
    const retried = await runScript(runtime, m, request(runId), control);
    expect(retried.exitCode).toBe(0);
    expect(await withMarker(mark), 'the orphaned script still runs').toEqual([]);
    const lines = (await readFile(ledger, 'utf8')).trim().split('\n');
    expect(lines).toEqual([`start ${runId}`, `start ${runId}`, `done ${runId}`]);
  });

  it('a member whose keep-alive died is dead, with every process it had, and ensureMember brings it back', async () => {
    const mark = uniqueSleep();
    const m = await install('c-dead-0', `#!/bin/sh\n(cd / && exec setsid sleep ${mark}) &\nexit 0\n`);
    expect((await runScript(runtime, m, request('ct/dead/configure/1'), control)).exitCode).toBe(0);
    await until('the daemon runs', async () => ((await withMarker(mark)).length === 1 ? true : undefined));
    const keepAlive = Number(await readFile(path.join(runtime.memberRoot(m), '.kdflow', 'keepalive.pid'), 'utf8'));
    process.kill(keepAlive, 'SIGKILL');
    const probed = await until('the probe notices', async () => {
      const verdict = (await runtime.probeMembers([m]))[m.name];
      return verdict?.ready ? undefined : verdict;
    });
    expect(probed.reason).toMatch(/keep-alive/);
    // With a pid namespace the kernel ends them with their init; tracked mode ends them on re-creation.
    if (runtime.containment === 'pid-namespace')
      await until('the daemon died with its member', async () =>
        (await withMarker(mark)).length === 0 ? true : undefined,
      );
    await expect(runScript(runtime, m, request('ct/dead/configure/2'), control)).rejects.toThrow(/keep-alive/);
    await runtime.ensureMember(m);
    expect(await withMarker(mark)).toEqual([]);
    expect((await runtime.probeMembers([m]))[m.name]).toEqual({ ready: true });
    expect((await runScript(runtime, m, request('ct/dead/configure/3'), control)).exitCode).toBe(0);
  });

  it('a member whose directory was removed is dead; ensureMember re-creates it, ending what the old one left', async () => {
    const mark = uniqueSleep();
    const m = await install('c-gone-0', `#!/bin/sh\n(cd / && exec setsid sleep ${mark}) &\nexit 0\n`);
    expect((await runScript(runtime, m, request('ct/gone/configure/1'), control)).exitCode).toBe(0);
    await until('the daemon runs', async () => ((await withMarker(mark)).length === 1 ? true : undefined));
    await rm(runtime.memberRoot(m), { recursive: true, force: true });
    expect((await runtime.probeMembers([m]))[m.name]).toMatchObject({
      ready: false,
      reason: expect.stringMatching(/directory .* is missing/),
    });
    // Teardown still finds it, to end what it left.
    expect(await runtime.listMembers(ns, 'c')).toContain(m.name);
    await install('c-gone-0', `#!/bin/sh\necho again > "$GUESTCONFIG_DIR/again"\n`);
    expect(await withMarker(mark), 'the removed member left its daemon').toEqual([]);
    expect(await taggedProcesses(`kdflow-keepalive:${ns}/c/c-gone-0`, home)).toBe(1);
    expect((await runScript(runtime, m, request('ct/gone/configure/2'), control)).exitCode).toBe(0);
    expect(await readFile(path.join(runtime.memberRoot(m), 'opt/guestconfig/again'), 'utf8')).toBe('again\n');
  });

  it('a later run stops a daemon an earlier run started, by the pid it wrote, and sees the member as its process tree', async () => {
    const mark = uniqueSleep();
    const m = await install(
      'c-pids-0',
      `#!/bin/sh
case "$1" in
  --configure) sleep ${mark} & echo $! > "$GUESTCONFIG_DIR/daemon.pid" ;;
  --addnodes) kill "$(cat "$GUESTCONFIG_DIR/daemon.pid")" || exit 3
    ps -e -o pid= -o args= > "$GUESTCONFIG_DIR/ps" ;;
esac
`,
    );
    expect((await runScript(runtime, m, request('ct/pids/configure'), control)).exitCode).toBe(0);
    await until('the daemon runs', async () => ((await withMarker(mark)).length === 1 ? true : undefined));
    expect(
      (await runScript(runtime, m, request('ct/pids/addnodes', { event: 'addnodes', argv: ['--addnodes'] }), control))
        .exitCode,
    ).toBe(0);
    await until('the daemon is stopped', async () => ((await withMarker(mark)).length === 0 ? true : undefined));
    if (runtime.containment === 'pid-namespace') {
      // Its own namespace: the keep-alive's sleep is pid 1, and nothing of the host shows.
      const ps = await readFile(path.join(runtime.memberRoot(m), 'opt/guestconfig/ps'), 'utf8');
      expect(ps).toMatch(/^\s*1 sleep infinity$/m);
      expect(ps).not.toMatch(/vitest|spawner-child/);
    }
  });

  it('probes without waiting: a member never created is dead, a live one alive', async () => {
    const live = await install('c-probe-0', '#!/bin/sh\nexit 0\n');
    const probed = await runtime.probeMembers([live, member('c-probe-1')]);
    expect(probed[live.name]).toEqual({ ready: true });
    expect(probed['c-probe-1']).toMatchObject({ ready: false });
  });

  /** A worker that starts the run in a process of its own, and is killed -9 once `ready` holds. */
  async function startThenKillWorker(m: MemberSpec, req: ScriptRequest, ready: () => Promise<boolean>): Promise<void> {
    const worker = spawn(process.execPath, [CHILD, home, JSON.stringify(m), JSON.stringify(req)], {
      stdio: 'ignore',
      env: { ...process.env, KDFLOW_CONTAINMENT: setting },
    });
    const gone = new Promise((resolve) => worker.once('exit', resolve));
    await until('the run is under way', async () => ((await ready()) ? true : undefined));
    worker.kill('SIGKILL');
    await gone;
  }

  it('the runner times a run out with no worker watching it: the worker died, the runner did not', async () => {
    const mark = uniqueSleep();
    const m = await install('c-alone-0', `#!/bin/sh\nsleep ${mark}\n`);
    const status = path.join(runtime.memberRoot(m), 'opt/guestconfig/configure.status');
    await startThenKillWorker(m, request('ct/alone/configure', { timeoutSeconds: 2 }), async () => {
      return (await withMarker(mark)).length > 0;
    });
    await until('the runner records the timeout', async () =>
      (await readFile(status, 'utf8').catch(() => '')) === 'ct/alone/configure=timeout\n' ? true : undefined,
    );
    expect(await withMarker(mark), 'the timed-out script still runs').toEqual([]);
  });

  it('an adopted run keeps its clock: the adopting worker waits out only what is left of the timeout', async () => {
    const mark = uniqueSleep();
    const timeoutSeconds = 8;
    const m = await install('c-adopt-0', `#!/bin/sh\nsleep 5\necho tick > "$GUESTCONFIG_DIR/tick"\nsleep ${mark}\n`);
    const tick = path.join(runtime.memberRoot(m), 'opt/guestconfig/tick');
    const req = request('ct/adopt/configure', { timeoutSeconds });
    // The worker dies 5 s into the run; its successor adopts the run at once.
    await startThenKillWorker(m, req, async () => (await readFile(tick, 'utf8').catch(() => '')) === 'tick\n');
    const adoptedAt = Date.now();
    const result = await runScript(runtime, m, req, control);
    const waited = Date.now() - adoptedAt;
    expect(result).toMatchObject({ timedOut: true, exitCode: null, recorded: false });
    // A clock restarted on adoption would wait the whole timeout again (8 s); the run's own clock had 3 s left.
    expect(waited).toBeLessThan(timeoutSeconds * 1000);
    expect(await withMarker(mark)).toEqual([]);
  });

  it('a script killed from outside is a kill, a hanging one a timeout', async () => {
    const mark = uniqueSleep();
    const m = await install('c-kill-0', `#!/bin/sh\nexec sleep ${mark}\n`);
    const run = runScript(runtime, m, request('ct/kill/configure'), control);
    const [victim] = await until('the script sleeps', async () => {
      const found = await withMarker(mark);
      return found.length > 0 ? found : undefined;
    });
    process.kill(victim as number, 'SIGKILL');
    expect(await run).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: false });
    const timedOut = await runScript(runtime, m, request('ct/kill/configure/2', { timeoutSeconds: 1 }), control);
    expect(timedOut).toMatchObject({ exitCode: null, timedOut: true });
    expect(timedOut.signal).toBeUndefined();
  });

  it('a run on the local runtime, whose exec streams stay open, spends no keep-busy loop', async () => {
    const m = await install(
      'c-quiet-0',
      `#!/bin/sh\n: > "$KDFLOW_MEMBER_ROOT/started"\nwhile [ ! -e "$KDFLOW_MEMBER_ROOT/go" ]; do sleep 0.1; done\n`,
    );
    const runId = 'ct/quiet/configure';
    const run = runScript(runtime, m, request(runId), control);
    const root = runtime.memberRoot(m);
    await until('the script runs', async () =>
      (await readFile(path.join(root, 'started')).catch(() => undefined)) ? true : undefined,
    );
    const found = (
      await processes((p) => p.argv[0] === 'sh' && p.argv.includes('kdflow-start') && p.argv.includes(runId))
    ).map((p) => p.pid);
    // The waiter: the copy no other copy forked (its forks are the token watcher and passing subshells).
    const waiter = found.find((pid) => !found.some((other) => childrenOf(other).includes(pid)));
    expect(waiter).toBeDefined();
    // A keep-busy loop would be a fork of the waiter whose child is its `sleep 5`.
    const forks = childrenOf(waiter as number).filter((pid) => found.includes(pid));
    const sleeps = (await processes((p) => p.argv[0] === 'sleep' && p.argv[1] === '5')).map((p) => p.pid);
    expect(forks.filter((f) => childrenOf(f).some((pid) => sleeps.includes(pid)))).toEqual([]);
    await writeFile(path.join(root, 'go'), '');
    expect(await run).toMatchObject({ exitCode: 0, timedOut: false });
  });

  it('a waiter killed with its exec stream leaves nothing behind; the run goes on and is adopted', async () => {
    const m = await install('c-waiter-0', `#!/bin/sh\nwhile [ ! -e "$KDFLOW_MEMBER_ROOT/go" ]; do sleep 0.1; done\n`);
    const runId = 'ct/waiter/configure';
    // As on a runtime whose idle exec streams drop (kwok): the waiter keeps its stream busy.
    const busy = new LocalRuntime(home, { containment: setting, keepExecStreamsBusy: true });
    const run = runScript(busy, m, request(runId), control);
    // The waiter (the `kdflow-start` shell; in a pid namespace, nsenter's child) and, forked from it,
    // the loop that keeps its stream busy and the one that watches for token requests (docs/adr/0047).
    const waiters = () =>
      processes((p) => p.argv[0] === 'sh' && p.argv.includes('kdflow-start') && p.argv.includes(runId));
    // Each loop is a forked copy of the waiter whose own child is its sleep (5 s for the dots, 0.2 s for
    // the token watcher); the waiter forks other copies for a moment, one of which becomes the runner.
    const [waiter, loops] = await until('the waiter and its two loops run', async () => {
      const found = (await waiters()).map((p) => p.pid);
      const sleeping = async (seconds: string) =>
        (await processes((p) => p.argv[0] === 'sleep' && p.argv[1] === seconds)).map((p) => p.pid);
      const [dots, watch] = [await sleeping('5'), await sleeping('0.2')];
      for (const parent of found) {
        const forks = childrenOf(parent).filter((child) => found.includes(child));
        const loop = (sleeps: number[]) => forks.find((f) => childrenOf(f).some((pid) => sleeps.includes(pid)));
        const [d, w] = [loop(dots), loop(watch)];
        if (d !== undefined && w !== undefined) return [parent, [d, w]] as const;
      }
      return undefined;
    });
    // What kwok does to an exec whose stream dropped: SIGKILL to its process, and to nothing else.
    process.kill(waiter, 'SIGKILL');
    await until('both loops end with their waiter', async () => (loops.some(isAlive) ? undefined : true));
    await writeFile(path.join(runtime.memberRoot(m), 'go'), '');
    expect(await run).toMatchObject({ exitCode: 0, timedOut: false });
    await until('no waiter is left', async () => ((await waiters()).length === 0 ? true : undefined));
  });
});

describe('the activities', () => {
  let home: string;
  let runtime: LocalRuntime;
  let activities: ReturnType<typeof createActivities>;
  const member = (name: string) => memberSpec('cact', 'c', name);
  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-contain-act-'));
    runtime = new LocalRuntime(home);
    activities = createActivities({ runtime, home, logger: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    for (const name of await runtime.listMembers('cact', 'c')) await runtime.removeMember(member(name));
    await rm(home, { recursive: true, force: true });
  });

  it('probeMembers names each dead member with why, and only those', async () => {
    const [live, gone] = [member('c-a-0'), member('c-a-1')];
    await runtime.ensureMember(live);
    await runtime.ensureMember(gone);
    await rm(runtime.memberRoot(gone), { recursive: true, force: true });
    const { dead } = (await new MockActivityEnvironment().run(activities.probeMembers, {
      members: [live, gone, member('c-a-2')],
    })) as { dead: Record<string, string> };
    expect(Object.keys(dead).sort()).toEqual(['c-a-1', 'c-a-2']);
    expect(dead['c-a-1']).toMatch(/member directory .* is missing/);
  });

  it('runScript says which signal ended a script', async () => {
    const m = member('c-a-3');
    await runtime.ensureMember(m);
    const dir = path.join(home, 'pkg', 'appconfig');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'startscript'), '#!/bin/sh\nkill -KILL $$\n');
    await chmod(path.join(dir, 'startscript'), 0o755);
    await runtime.installPackage(m, (await preparePackage(dir, path.join(home, 'cache'))).tgzPath);
    const script: ScriptInput = { runId: 'cact/c/configure', event: 'configure', env: [], timeoutSeconds: 30 };
    const failure = await new MockActivityEnvironment()
      .run(activities.runScript, { member: m, script })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).message).toBe('configure on c-a-3 exited on SIGKILL');
  });

  it('runScript tells a timeout (ScriptTimeout) from a kill (ScriptFailed), in the failure status shows', async () => {
    const m = member('c-a-4');
    await runtime.ensureMember(m);
    const dir = path.join(home, 'pkg-hang', 'appconfig');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'startscript'), `#!/bin/sh\nsleep ${uniqueSleep()}\n`);
    await chmod(path.join(dir, 'startscript'), 0o755);
    await runtime.installPackage(m, (await preparePackage(dir, path.join(home, 'cache'))).tgzPath);
    const script: ScriptInput = { runId: 'cact/c/configure/4', event: 'configure', env: [], timeoutSeconds: 1 };
    const failure = await new MockActivityEnvironment()
      .run(activities.runScript, { member: m, script })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).type).toBe('ScriptTimeout');
    expect((failure as ApplicationFailure).message).toBe('configure on c-a-4 timed out after 1s');
  });
});

describe('the runner without perl', () => {
  it('records the exit itself; a signal shows as 128+N, since a shell cannot tell them apart', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-noperl-'));
    // A PATH with the runner's few tools and no perl to hand the run to.
    await mkdir(path.join(dir, 'bin'));
    for (const tool of ['sh', 'mv', 'rm', 'cat', 'sleep', 'grep'])
      await symlink(
        execFileSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { encoding: 'utf8' }).trim(),
        path.join(dir, 'bin', tool),
      );
    await writeFile(path.join(dir, 'script'), '#!/bin/sh\nkill -KILL $$\n', { mode: 0o755 });
    const out = (name: string) => path.join(dir, name);
    const [shell, ...args] = runnerArgv({
      status: out('status'),
      runId: 'noperl/configure',
      base: out('configure'),
      stdout: out('stdout'),
      stderr: out('stderr'),
      timeoutSeconds: 30,
      script: out('script'),
      argv: [],
    }) as [string, ...string[]];
    const child = spawn(path.join(dir, 'bin', shell), args, {
      env: { PATH: path.join(dir, 'bin') },
      stdio: 'ignore',
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(137);
    expect(await readFile(out('status'), 'utf8')).toBe('noperl/configure=137\n');
    await rm(dir, { recursive: true, force: true });
  });
});

describe('KDFLOW_CONTAINMENT', () => {
  it('refuses a value it does not know, naming the variable and the choices', () => {
    const before = process.env.KDFLOW_CONTAINMENT;
    process.env.KDFLOW_CONTAINMENT = 'chroot';
    try {
      expect(() => new LocalRuntime(os.tmpdir()).containment).toThrow(
        /KDFLOW_CONTAINMENT must be auto, pidns or tracked, not "chroot"/,
      );
    } finally {
      restoreEnv(before);
    }
  });
});

function restoreEnv(value: string | undefined): void {
  if (value === undefined) delete process.env.KDFLOW_CONTAINMENT;
  else process.env.KDFLOW_CONTAINMENT = value;
}
