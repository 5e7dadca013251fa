/**
 * Part 4: startscripts that misbehave — hang, fail every time, fail twice then succeed, write
 * megabytes — side by side with good members in one cluster, then a grow of the good role. Each
 * fault must end as documented, and no other member may notice.
 */
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { resizeUpdate, statusQuery, type ClusterStatus, type MemberStatus } from '../../api/index.ts';
import { checkGone, doneEvents, observeCluster, workflowHistory } from './checks.ts';
import type { ChaosEnv } from './env.ts';
import {
  APP_NAME,
  NAMESPACE,
  bounded,
  deleteCluster,
  readLedger,
  scriptApp,
  settled,
  startCluster,
  waitForStatus,
} from './fixtures.ts';
import { finishPart, type PartReport, type TrialResult } from './report.ts';
import { KdClusterSpec } from '../../api/index.ts';

const MiB = 1024 * 1024;
const TIMEOUT_S = 3;
const ATTEMPTS = 3;

/** One script, its fault chosen by the role's CHAOS_FAULT variable. */
export const FAULT_SCRIPT = `#!/usr/bin/env bash
me=$(basename "$KDFLOW_MEMBER_ROOT")
echo "start $KDFLOW_RUN_ID $*" >> "$CHAOS_LEDGER/$me.log"
case "$CHAOS_FAULT:$1" in
  hang:--configure) sleep 600 ;;
  fail:--configure) echo "fail-stdout-marker"; echo "fail-stderr-marker: disk not found" >&2; exit 3 ;;
  flaky:--configure)
    n=$(( $(cat "$KDFLOW_MEMBER_ROOT/flaky.count" 2>/dev/null || echo 0) + 1 ))
    echo "$n" > "$KDFLOW_MEMBER_ROOT/flaky.count"
    if [ "$n" -lt 3 ]; then echo "flaky attempt $n fails" >&2; exit 1; fi ;;
  loud:--configure) head -c ${8 * MiB} /dev/zero | tr '\\0' o; echo LOUD-END; head -c ${2 * MiB} /dev/zero | tr '\\0' e >&2; echo LOUD-ERR-END >&2 ;;
  loudfail:--configure) head -c ${4 * MiB} /dev/zero | tr '\\0' f; echo LOUDFAIL-END; exit 1 ;;
esac
echo "done $KDFLOW_RUN_ID $*" >> "$CHAOS_LEDGER/$me.log"
exit 0
`;

const FAULT_ROLES = ['hang', 'fail', 'flaky', 'loud', 'loudfail'] as const;

export async function scriptFaults(env: ChaosEnv, rounds: number): Promise<PartReport> {
  const started = Date.now();
  const app = await scriptApp(path.join(env.dir, 'faults-pkg'), FAULT_SCRIPT, {
    roles: [{ id: 'good', cardinality: '1+' }, ...FAULT_ROLES.map((id) => ({ id, cardinality: '0+' }))],
    scriptTimeoutSeconds: TIMEOUT_S,
    retry: { maximumAttempts: ATTEMPTS, initialIntervalSeconds: 0.2, backoffCoefficient: 1 },
  });
  const results: TrialResult[] = [];
  const settleMs: number[] = [];
  let statusBytes = 0;
  for (let r = 0; r < rounds; r++) {
    const name = `faults-${r}`;
    const ledger = path.join(env.home, 'ledger', name);
    await mkdir(ledger, { recursive: true });
    const role = (id: string, members: number) => ({
      id,
      members,
      env: [
        { name: 'CHAOS_LEDGER', value: ledger },
        { name: 'CHAOS_FAULT', value: id },
      ],
    });
    const spec = KdClusterSpec.parse({
      app: APP_NAME,
      roles: [role('good', 2), ...FAULT_ROLES.map((id) => role(id, 1))],
    });
    const t0 = Date.now();
    const handle = await startCluster(env, name, app, spec);
    const first = await waitForStatus(handle, settled(1), 180_000);
    // Output tails are in Temporal's history (the activities' results), not in status.
    const history = await workflowHistory(handle);
    const ran = (m: MemberStatus) => history.filter((h) => h.member === m.name && h.event === 'configure').at(-1);
    settleMs.push(Date.now() - t0);
    statusBytes = Math.max(statusBytes, JSON.stringify(first).length);
    const member = (s: ClusterStatus, role: string, ordinal = 0) =>
      s.roles.find((x) => x.id === role)?.members.find((m) => m.ordinal === ordinal) as MemberStatus;
    const configure = (m: MemberStatus) => m?.events.filter((e) => e.event === 'configure').at(-1);
    const root = (m: string) => env.runtime.memberRoot({ namespace: NAMESPACE, cluster: name, name: m });
    const trial = (id: string, problems: string[], details?: Record<string, unknown>) =>
      results.push({ id: `${id}@${r}`, passed: problems.length === 0, problems, ...(details ? { details } : {}) });
    const expect = (problems: string[], ok: boolean, what: string) => void (ok || problems.push(what));

    // Hanging: killed at the timeout on each attempt, then config error.
    {
      const m = member(first, 'hang');
      const p: string[] = [];
      expect(p, m.state === 'config error', `hang is ${m.state}, not config error`);
      expect(
        p,
        (m.lastError ?? '').includes(`timed out after ${TIMEOUT_S}s`),
        `hang lastError is "${m.lastError?.split('\n')[0]}"`,
      );
      expect(
        p,
        configure(m)?.exitCode === null && configure(m)?.attempts === ATTEMPTS,
        `hang configure run ${JSON.stringify({ exit: configure(m)?.exitCode, attempts: configure(m)?.attempts })}`,
      );
      const seen = await observeCluster(env, name);
      const hung = seen.strays.filter((s) => s.includes('sleep 600'));
      expect(p, hung.length === 0, `the hanging script is still running: ${hung.join(' | ')}`);
      trial('hang', p, { lastError: m.lastError?.split('\n')[0], attempts: configure(m)?.attempts });
    }
    // Non-zero every time: bounded retries, then config error with both tails.
    {
      const m = member(first, 'fail');
      const p: string[] = [];
      expect(p, m.state === 'config error', `fail is ${m.state}`);
      expect(p, /exited with 3/.test(m.lastError ?? ''), `fail lastError lacks the exit code: ${m.lastError}`);
      expect(
        p,
        (ran(m)?.stdoutTail ?? '').includes('fail-stdout-marker') &&
          (ran(m)?.stderrTail ?? '').includes('fail-stderr-marker'),
        `fail's history entry lacks a tail: ${JSON.stringify(ran(m))}`,
      );
      expect(
        p,
        configure(m)?.attempts === ATTEMPTS && configure(m)?.exitCode === 3,
        `fail configure run ${JSON.stringify({ exit: configure(m)?.exitCode, attempts: configure(m)?.attempts })}`,
      );
      const starts = (await readLedger(ledger)).filter((l) => l.member === m.name && l.kind === 'start').length;
      expect(p, starts === ATTEMPTS, `fail started ${starts} times, not ${ATTEMPTS}`);
      trial('fail', p, { attempts: configure(m)?.attempts, starts });
    }
    // Twice failing, then fine: configured on attempt 3.
    {
      const m = member(first, 'flaky');
      const p: string[] = [];
      expect(p, m.state === 'configured', `flaky is ${m.state}: ${m.lastError}`);
      expect(
        p,
        configure(m)?.attempts === 3 && configure(m)?.exitCode === 0,
        `flaky configure run ${JSON.stringify({ exit: configure(m)?.exitCode, attempts: configure(m)?.attempts })}`,
      );
      trial('flaky', p, { attempts: configure(m)?.attempts });
    }
    // Megabytes of output: status keeps a tail, the files keep everything, no payload failure.
    {
      const m = member(first, 'loud');
      const p: string[] = [];
      const run = ran(m);
      expect(p, m.state === 'configured', `loud is ${m.state}: ${m.lastError?.split('\n')[0]}`);
      expect(
        p,
        (run?.stdoutTail ?? '').length <= 4096 && (run?.stdoutTail ?? '').endsWith('LOUD-END\n'),
        `loud stdoutTail is ${(run?.stdoutTail ?? '').length} chars ending ${JSON.stringify((run?.stdoutTail ?? '').slice(-10))}`,
      );
      expect(
        p,
        (run?.stderrTail ?? '').length <= 4096 && (run?.stderrTail ?? '').endsWith('LOUD-ERR-END\n'),
        `loud stderrTail is ${(run?.stderrTail ?? '').length} chars`,
      );
      const out = await stat(path.join(root(m.name), 'opt/guestconfig/configure.stdout')).catch(() => undefined);
      const err = await stat(path.join(root(m.name), 'opt/guestconfig/configure.stderr')).catch(() => undefined);
      expect(
        p,
        out?.size === 8 * MiB + 'LOUD-END\n'.length,
        `configure.stdout on disk is ${out?.size} bytes, not ${8 * MiB + 9}`,
      );
      expect(p, err?.size === 2 * MiB + 'LOUD-ERR-END\n'.length, `configure.stderr on disk is ${err?.size} bytes`);
      trial('loud', p, { stdoutOnDisk: out?.size, stdoutTailInHistory: run?.stdoutTail?.length });
    }
    {
      const m = member(first, 'loudfail');
      const p: string[] = [];
      expect(p, m.state === 'config error', `loudfail is ${m.state}`);
      expect(p, (m.lastError ?? '').length <= 160, `loudfail lastError is ${(m.lastError ?? '').length} chars`);
      expect(
        p,
        (ran(m)?.stdoutTail ?? '').length <= 4096 && (ran(m)?.stdoutTail ?? '').includes('LOUDFAIL-END'),
        `loudfail's stdout tail in history is ${(ran(m)?.stdoutTail ?? '').length} chars`,
      );
      trial('loudfail', p, { lastErrorChars: m.lastError?.length });
    }
    // Isolation: the good members configured once; a grow of the good role works and leaves the failed members as they were.
    {
      const p: string[] = [];
      const goods = [member(first, 'good', 0), member(first, 'good', 1)];
      for (const m of goods)
        expect(
          p,
          m.state === 'configured' && configure(m)?.attempts === 1,
          `${m.name} is ${m.state} after ${configure(m)?.attempts} attempt(s)`,
        );
      expect(p, first.phase === 'config error', `the cluster is ${first.phase}, not config error`);
      const failedBefore = ['hang', 'fail', 'loudfail'].map((id) => JSON.stringify(member(first, id)));
      await handle.executeUpdate(resizeUpdate, { args: [{ roles: { good: 3 } }] });
      const grown = await waitForStatus(handle, settled(2), 120_000);
      expect(
        p,
        member(grown, 'good', 2)?.state === 'configured',
        `the new good member is ${member(grown, 'good', 2)?.state}`,
      );
      const after = ['hang', 'fail', 'loudfail'].map((id) => JSON.stringify(member(grown, id)));
      expect(p, after.join() === failedBefore.join(), 'a member in config error changed during the grow');
      const lines = await readLedger(ledger);
      for (const m of [...goods.map((g) => g.name), member(first, 'flaky').name, member(first, 'loud').name]) {
        expect(
          p,
          doneEvents(lines, m, '--addnodes').length === 1,
          `${m} did not get exactly one --addnodes for the new good member`,
        );
      }
      for (const m of goods)
        expect(
          p,
          doneEvents(lines, m.name, '--configure').length === 1,
          `${m.name} ran --configure ${doneEvents(lines, m.name, '--configure').length} times`,
        );
      trial('isolation', p);
    }
    statusBytes = Math.max(
      statusBytes,
      JSON.stringify(await bounded(handle, 10_000, () => handle.query(statusQuery))).length,
    );
    await deleteCluster(handle);
    const gone = await checkGone(env, name);
    if (gone.length > 0) results.push({ id: `teardown@${r}`, passed: false, problems: gone });
  }
  return finishPart(
    env.log,
    { name: 'script-faults', title: 'Script faults (hang, fail, flaky, megabytes of output)', started },
    results,
    {
      clusterSettleMs: settleMs,
      largestStatusBytes: statusBytes,
      settings: { scriptTimeoutSeconds: TIMEOUT_S, maximumAttempts: ATTEMPTS },
      notes: [
        'One cluster per round: 2 good members and one member per fault (hang, fail, flaky, loud = 8 MiB stdout + 2 MiB stderr, loudfail = 4 MiB then exit 1), then the good role grows to 3.',
        'failures.test.ts covers hang, fail-then-retry and coalescing as integration tests; here the same faults run side by side, with figures.',
      ],
    },
  );
}
