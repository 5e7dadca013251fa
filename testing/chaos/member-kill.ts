/**
 * Part: member containers killed at random under configured clusters, healed with no command
 * (docs/adr/0049). Per round, a cluster of a controller and four workers; one or two members chosen
 * at random lose their container, each at random by kill -9 of its keep-alive or by rm -rf of its
 * directory, and nothing is sent to kdflow. Checked: every killed member comes back configured by
 * KubeDirector's restart rule (configured again only where its directory, and so its configure
 * status, was removed) and the cluster settles configured; the members left alone were not configured
 * again and heard no notify (a healed member keeps its name); the status names the heal; one
 * keep-alive per member and no stray process; after delete nothing of the cluster runs.
 * Convergence is from the kill to that settled status.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { memberFqdn, type ClusterStatus } from '../../api/index.ts';
import type { MemberTarget } from '../../runtimes/runtime.ts';
import { deleteAndCheckGone, observeCluster } from './checks.ts';
import type { ChaosEnv } from './env.ts';
import { NAMESPACE, clusterSpec, configured, scriptApp, sleep, startCluster, waitForStatus } from './fixtures.ts';
import { finishPart, summarize, type PartReport, type TrialResult } from './report.ts';
import type { Rng } from './rng.ts';

const SCRIPT = `#!/bin/sh
echo "$*" >> "$GUESTCONFIG_DIR/events.log"
exit 0
`;
const WORKERS = 4;
const HEAL_LIMIT_MS = 120_000;

type Kill = 'keep-alive' | 'directory';

const runOf = (s: ClusterStatus, name: string, event = 'configure') =>
  s.roles
    .flatMap((r) => r.members)
    .find((m) => m.name === name)
    ?.events.find((e) => e.event === event)?.runId;
const healsOf = (s: ClusterStatus, name: string) =>
  s.roles.flatMap((r) => r.members).find((m) => m.name === name)?.heals ?? 0;

export async function memberKill(env: ChaosEnv, rng: Rng, options: { rounds: number }): Promise<PartReport> {
  const started = Date.now();
  const app = await scriptApp(path.join(env.dir, 'member-kill-pkg'), SCRIPT);
  const results: TrialResult[] = [];
  const kills: Record<Kill, number> = { 'keep-alive': 0, directory: 0 };
  const healMs: number[] = [];
  for (let r = 0; r < options.rounds; r++) {
    const name = `mk-${r}`;
    const problems: string[] = [];
    const handle = await startCluster(env, name, app, clusterSpec({ controller: 1, worker: WORKERS }));
    const before = await waitForStatus(handle, configured(1), 120_000);
    const everyone = before.roles.flatMap((r) =>
      r.members.map((m) => ({ name: m.name, role: r.id, ordinal: m.ordinal })),
    );
    const count = rng.int(1, 2);
    const victims: { name: string; kill: Kill }[] = [];
    while (victims.length < count) {
      const m = rng.pick(everyone);
      if (!victims.some((v) => v.name === m.name))
        victims.push({ name: m.name, kill: rng.pick(['keep-alive', 'directory'] as const) });
    }
    const target = (n: string): MemberTarget => {
      const m = everyone.find((x) => x.name === n) ?? { role: '', ordinal: 0 };
      return {
        namespace: NAMESPACE,
        cluster: name,
        name: n,
        role: m.role,
        ordinal: m.ordinal,
        fqdn: memberFqdn(n, name, NAMESPACE),
      };
    };
    const killedAt = Date.now();
    for (const v of victims) {
      kills[v.kill] += 1;
      const root = env.runtime.memberRoot(target(v.name));
      if (v.kill === 'directory') await rm(root, { recursive: true, force: true });
      else process.kill(Number(await readFile(path.join(root, '.kdflow', 'keepalive.pid'), 'utf8')), 'SIGKILL');
    }
    let after: ClusterStatus | undefined;
    try {
      after = await waitForStatus(
        handle,
        (s) =>
          s.phase === 'configured' &&
          !s.operation &&
          victims.every((v) => healsOf(s, v.name) > healsOf(before, v.name)),
        HEAL_LIMIT_MS,
      );
      healMs.push(Date.now() - killedAt);
    } catch (error) {
      problems.push(`not healed: ${(error as Error).message}`);
    }
    if (after) {
      if (!after.lastHeal) problems.push('status names no heal');
      for (const m of everyone) {
        const member = after.roles.flatMap((x) => x.members).find((x) => x.name === m.name);
        const victim = victims.some((v) => v.name === m.name);
        if (member?.state !== 'configured') problems.push(`${m.name} is ${member?.state ?? 'missing'}`);
        if (victim && !member?.heals) problems.push(`${m.name} was healed but status counts no heal`);
        // KubeDirector's restart rule: a kept volume keeps the configure status (not configured again);
        // a removed directory is a fresh member, configured again.
        const kill = victims.find((v) => v.name === m.name)?.kill;
        const configuredAgain = runOf(after, m.name) !== runOf(before, m.name);
        if (kill === 'directory' && !configuredAgain)
          problems.push(`${m.name} lost its directory but was not configured`);
        if (kill && kill !== 'directory' && configuredAgain)
          problems.push(`${m.name} kept its configure status but was configured again`);
        if (!victim && runOf(after, m.name) !== runOf(before, m.name))
          problems.push(`${m.name} was configured again though alive`);
        if (!victim && member?.events.some((e) => e.event !== 'configure'))
          problems.push(
            `${m.name} heard a notify about a healed member: ${member.events.map((e) => e.event).join(', ')}`,
          );
      }
      // A finished run's watchdog (its `sleep TIMEOUT`) goes a moment after the run is recorded: give it that moment.
      let seen = await observeCluster(env, name);
      for (
        const t0 = Date.now();
        seen.strays.length > 0 && Date.now() - t0 < 10_000;
        seen = await observeCluster(env, name)
      )
        await sleep(100);
      for (const m of everyone)
        if (seen.keepalives.get(m.name) !== 1)
          problems.push(`${m.name} has ${seen.keepalives.get(m.name) ?? 0} keep-alives`);
      if (seen.strays.length > 0) problems.push(`stray processes: ${seen.strays.join(' | ')}`);
    }
    problems.push(...(await deleteAndCheckGone(env, handle, name)));
    results.push({
      id: `${name}: ${victims.map((v) => `${v.name.slice(name.length + 1)} ${v.kill}`).join(', ')}`,
      passed: problems.length === 0,
      problems,
      ...(after ? { convergenceMs: healMs.at(-1) } : {}),
    });
  }
  return finishPart(
    env.log,
    { name: 'member-kill', title: 'Member containers killed at random, healed with no command', started },
    results,
    {
      kills,
      killToHealedMs: summarize(healMs),
      notes:
        'Per round: a controller and four workers, configured; one or two random members lose their container (kill -9 of the keep-alive, or rm -rf of the member directory, at random); no command is sent. Checked: each comes back configured (configured again only if its directory was removed: the restart rule), nobody else is configured again or notified, status names the heal, one keep-alive per member, no stray process, nothing left after delete.',
    },
  );
}
