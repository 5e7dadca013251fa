/**
 * Part: members that die under a configured cluster: one's keep-alive is killed (kill -9), another's
 * directory removed (rm -rf), a third is left alone. probeMembers must name the two with their
 * reasons and the third as alive; with a pid namespace the killed member's daemon goes with it.
 * Re-creating them (ensureMember, what `kdflow retry` does for dead members) leaves one keep-alive
 * each and nothing of the old members; after delete nothing of the cluster runs (docs/adr/0015).
 */
import { randomInt } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { memberFqdn, memberName } from '../../api/index.ts';
import type { MemberSpec } from '../../runtimes/runtime.ts';
import { markedProcesses } from '../processes.ts';
import { deleteAndCheckGone, observeCluster } from './checks.ts';
import type { ChaosEnv } from './env.ts';
import { NAMESPACE, clusterSpec, configured, scriptApp, sleep, startCluster, waitForStatus } from './fixtures.ts';
import { finishPart, summarize, type PartReport, type TrialResult } from './report.ts';

const SCRIPT = `#!/bin/sh
me=$(basename "$KDFLOW_MEMBER_ROOT")
[ "$1" = --configure ] && (cd / && exec setsid sleep "$CHAOS_MARK.\${me##*-}") &
exit 0
`;

/** Polls a condition the system reaches by itself; the limit is a hang guard. Resolves to the ms it took, or undefined. */
async function within(limitMs: number, probe: () => Promise<boolean>): Promise<number | undefined> {
  const t0 = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - t0;
    if (Date.now() - t0 > limitMs) return undefined;
    await sleep(20);
  }
}

export async function deadMember(env: ChaosEnv, rounds: number): Promise<PartReport> {
  const started = Date.now();
  const containment = env.runtime.containment;
  const app = await scriptApp(path.join(env.dir, 'dead-member-pkg'), SCRIPT, {
    roles: [{ id: 'worker', cardinality: '1+' }],
  });
  const results: TrialResult[] = [];
  const detectMs: number[] = [];
  const probeMs: number[] = [];
  const daemonGoneMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const name = `dead-${r}`;
    const mark = String(randomInt(100_000, 999_999));
    const problems: string[] = [];
    const spec = (ordinal: number): MemberSpec => {
      const member = memberName(name, 'worker', ordinal);
      return {
        namespace: NAMESPACE,
        cluster: name,
        name: member,
        role: 'worker',
        ordinal,
        fqdn: memberFqdn(member, name, NAMESPACE),
        image: 'chaos:1',
        persistDirs: [],
      };
    };
    const [killed, removed, untouched] = [spec(0), spec(1), spec(2)];
    const daemon = (m: MemberSpec) => async () => (await markedProcesses(`${mark}.${m.ordinal}`)).length;
    // This part re-creates the dead members with the runtime itself, which the cluster's own healing
    // (docs/adr/0049, chaos part member-kill) would race: it is off for these clusters.
    const handle = await startCluster(
      env,
      name,
      app,
      clusterSpec({ worker: 3 }, [{ name: 'CHAOS_MARK', value: mark }]),
      { selfHeal: false },
    );
    await waitForStatus(handle, configured(1), 120_000);
    if ((await within(20_000, async () => (await markedProcesses(`${mark}.`)).length === 3)) === undefined)
      problems.push('the three daemons never all ran');

    const keepAlive = Number(
      await readFile(path.join(env.runtime.memberRoot(killed), '.kdflow', 'keepalive.pid'), 'utf8'),
    );
    const actedAt = Date.now();
    process.kill(keepAlive, 'SIGKILL');
    await rm(env.runtime.memberRoot(removed), { recursive: true, force: true });
    let verdict: Record<string, { ready: boolean; reason?: string }> = {};
    const detected = await within(20_000, async () => {
      const t0 = Date.now();
      verdict = await env.runtime.probeMembers([killed, removed, untouched]);
      probeMs.push(Date.now() - t0);
      return !verdict[killed.name]?.ready && !verdict[removed.name]?.ready;
    });
    if (detected === undefined) problems.push(`probeMembers did not report both dead: ${JSON.stringify(verdict)}`);
    else detectMs.push(Date.now() - actedAt);
    if (!/keep-alive/.test(verdict[killed.name]?.reason ?? ''))
      problems.push(`the killed member's reason is "${verdict[killed.name]?.reason}"`);
    if (!/directory .* is missing/.test(verdict[removed.name]?.reason ?? ''))
      problems.push(`the removed member's reason is "${verdict[removed.name]?.reason}"`);
    if (!verdict[untouched.name]?.ready)
      problems.push(`the untouched member is reported dead: ${verdict[untouched.name]?.reason}`);
    if (containment === 'pid-namespace') {
      const gone = await within(20_000, async () => (await daemon(killed)()) === 0);
      if (gone === undefined) problems.push("the killed member's daemon outlived its keep-alive");
      else daemonGoneMs.push(gone);
    }

    await env.runtime.ensureMember(killed);
    await env.runtime.ensureMember(removed);
    const after = await env.runtime.probeMembers([killed, removed, untouched]);
    for (const m of [killed, removed, untouched])
      if (!after[m.name]?.ready) problems.push(`${m.name} is not alive after re-creation: ${after[m.name]?.reason}`);
    for (const m of [killed, removed])
      if ((await daemon(m)()) > 0) problems.push(`the old ${m.name} left its daemon running after re-creation`);
    if ((await daemon(untouched)()) !== 1) problems.push(`the untouched member's daemon is gone`);
    const seen = await observeCluster(env, name);
    for (const m of [killed, removed, untouched])
      if (seen.keepalives.get(m.name) !== 1)
        problems.push(`${m.name} has ${seen.keepalives.get(m.name) ?? 0} keep-alives`);

    problems.push(...(await deleteAndCheckGone(env, handle, name)));
    const survivors = await markedProcesses(`${mark}.`);
    if (survivors.length > 0) problems.push(`processes outlived delete: ${survivors.join(' | ')}`);
    results.push({ id: `dead@${r}`, passed: problems.length === 0, problems });
  }
  return finishPart(
    env.log,
    { name: 'dead-member', title: 'Dead members (keep-alive killed, directory removed)', started },
    results,
    {
      containment,
      killToReportedDeadMs: summarize(detectMs),
      probeCallMs: summarize(probeMs),
      ...(containment === 'pid-namespace' ? { daemonGoneAfterKeepAliveKillMs: summarize(daemonGoneMs) } : {}),
      notes: [
        'Per round: three configured members, each with a setsid daemon; one keep-alive is killed with -9, one member directory removed, one left alone, then both are re-created with ensureMember and the cluster deleted.',
        'probeMembers is called directly on the runtime (the workflow wiring of kdflow retry is separate); killToReportedDeadMs is from the kill to the first probe that reports both dead.',
      ],
    },
  );
}
