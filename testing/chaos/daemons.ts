/**
 * Part: startscripts that leave processes behind, as real configure scripts do when they start
 * services. One role's configure starts daemons every way a script can (`&`, `nohup` after `cd /`,
 * `setsid` after `cd /`, and with a pid namespace also `env -i setsid`, which no tag can follow);
 * another role hangs after starting a `setsid` child, so each attempt times out. No attempt may leave
 * its child behind, and after delete no process of the cluster may survive (docs/adr/0015).
 */
import { randomInt } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { KdClusterSpec, type MemberStatus } from '../../api/index.ts';
import { markedProcesses } from '../processes.ts';
import { checkGone } from './checks.ts';
import type { ChaosEnv } from './env.ts';
import { APP_NAME, deleteCluster, scriptApp, settled, sleep, startCluster, waitForStatus } from './fixtures.ts';
import { finishPart, type PartReport, type TrialResult } from './report.ts';

const TIMEOUT_S = 2;
const DAEMON_MEMBERS = 2;

const SCRIPT = `#!/bin/sh
case "$CHAOS_KIND:$1" in
  daemon:--configure)
    sleep "$CHAOS_MARK.1" &
    cd / && nohup sleep "$CHAOS_MARK.2" >/dev/null 2>&1 &
    (cd / && exec setsid sleep "$CHAOS_MARK.3") &
    [ "$CHAOS_CLEAR_ENV" = yes ] && (cd / && exec env -i setsid sleep "$CHAOS_MARK.4") &
    ;;
  hang:--configure)
    (cd / && exec setsid sleep "$CHAOS_MARK.5") &
    sleep 600 ;;
esac
exit 0
`;

export interface DaemonOptions {
  rounds: number;
  /** Attempts of the hanging member's configure, each timed out. */
  attempts: number;
}

export async function daemons(env: ChaosEnv, { rounds, attempts }: DaemonOptions): Promise<PartReport> {
  const started = Date.now();
  const containment = env.runtime.containment;
  // A daemon with a cleared environment and cwd "/" is out of reach of tracked mode (documented); only a namespace holds it.
  const kinds = containment === 'pid-namespace' ? 4 : 3;
  const app = await scriptApp(path.join(env.dir, 'daemons-pkg'), SCRIPT, {
    roles: [
      { id: 'daemon', cardinality: '1+' },
      { id: 'hang', cardinality: '0+' },
    ],
    scriptTimeoutSeconds: TIMEOUT_S,
    retry: { maximumAttempts: attempts, initialIntervalSeconds: 0.2, backoffCoefficient: 1 },
  });
  const results: TrialResult[] = [];
  const figures = {
    daemonsWhileLive: [] as number[],
    hangChildrenMaxAtOnce: [] as number[],
    hangChildrenAfterTimeouts: [] as number[],
    survivorsAfterDelete: [] as number[],
    deleteMs: [] as number[],
  };
  for (let r = 0; r < rounds; r++) {
    const name = `daemons-${r}`;
    const problems: string[] = [];
    const [daemonMark, hangMark] = [`${randomInt(100_000, 999_999)}.`, `${randomInt(100_000, 999_999)}.`];
    const role = (id: string, members: number, mark: string) => ({
      id,
      members,
      env: [
        { name: 'CHAOS_KIND', value: id },
        { name: 'CHAOS_MARK', value: mark.slice(0, -1) },
        { name: 'CHAOS_CLEAR_ENV', value: kinds === 4 ? 'yes' : 'no' },
      ],
    });
    await mkdir(path.join(env.home, 'ledger', name), { recursive: true });
    const handle = await startCluster(
      env,
      name,
      app,
      KdClusterSpec.parse({
        app: APP_NAME,
        roles: [role('daemon', DAEMON_MEMBERS, daemonMark), role('hang', 1, hangMark)],
      }),
    );
    // While the hanging member times out and is retried, at most one attempt's child may live at a time.
    let hangMax = 0;
    let settledAt: number | undefined;
    const watching = (async () => {
      while (settledAt === undefined) {
        hangMax = Math.max(hangMax, (await markedProcesses(hangMark)).length);
        await sleep(100);
      }
    })();
    const status = await waitForStatus(handle, settled(1), 120_000).finally(() => (settledAt = Date.now()));
    await watching;
    const state = (id: string) =>
      (status.roles.find((role) => role.id === id)?.members ?? []).map((m: MemberStatus) => m.state);
    if (state('daemon').some((s) => s !== 'configured'))
      problems.push(`daemon members are ${state('daemon').join(',')}, not configured`);
    if (state('hang').join() !== 'config error')
      problems.push(`the hanging member is ${state('hang').join()}, not config error`);
    const hangLeft = (await markedProcesses(hangMark)).length;
    if (hangLeft > 0) problems.push(`${hangLeft} setsid child(ren) of timed-out attempts still run`);
    if (hangMax > 1)
      problems.push(`${hangMax} setsid children of timed-out attempts ran at once: retries left them behind`);
    // Forks reach exec in their own time: wait for every daemon to show (a hang guard, not a timing claim).
    const expected = DAEMON_MEMBERS * kinds;
    let live = 0;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(100))
      if ((live = (await markedProcesses(daemonMark)).length) >= expected) break;
    if (live !== expected) problems.push(`${live} daemons run while the cluster lives, expected ${expected}`);
    const t0 = Date.now();
    await deleteCluster(handle);
    figures.deleteMs.push(Date.now() - t0);
    const survivors = [...(await markedProcesses(daemonMark)), ...(await markedProcesses(hangMark))];
    if (survivors.length > 0) problems.push(`processes outlived delete: ${survivors.slice(0, 4).join(' | ')}`);
    problems.push(...(await checkGone(env, name)));
    figures.daemonsWhileLive.push(live);
    figures.hangChildrenMaxAtOnce.push(hangMax);
    figures.hangChildrenAfterTimeouts.push(hangLeft);
    figures.survivorsAfterDelete.push(survivors.length);
    results.push({
      id: `daemons@${r}`,
      passed: problems.length === 0,
      problems,
      details: { live, hangMax, hangLeft, survivors: survivors.length },
    });
  }
  return finishPart(
    env.log,
    { name: 'daemons', title: 'Daemons a startscript leaves (&, nohup, setsid; timed-out attempts)', started },
    results,
    {
      containment,
      daemonKinds: kinds,
      ...figures,
      settings: { scriptTimeoutSeconds: TIMEOUT_S, maximumAttempts: attempts, daemonMembers: DAEMON_MEMBERS },
      notes: [
        `Containment in effect: ${containment}. Each daemon member's configure leaves ${kinds} daemons (${kinds === 4 ? '&, nohup, setsid, env -i setsid' : '&, nohup, setsid; env -i is out of reach of tracked mode'}); a hanging member starts a setsid child and is timed out ${attempts} times.`,
        'Checked: all daemons run while the cluster lives; at most one timed-out attempt child at a time and none after the last; no process of the cluster after delete.',
      ],
    },
  );
}
