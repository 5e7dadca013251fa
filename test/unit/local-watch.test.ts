/**
 * The local heal watch's rule (runtimes/local/watch.ts): a member dead on two scans in a row is
 * reported, once per death; a new incarnation (a relaunch) dies again and is reported again, even
 * when no scan saw it alive in between.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchLocalMembers } from '../../runtimes/local/watch.ts';
import type { MemberDown } from '../../runtimes/runtime.ts';

/** What one scan sees of the member: alive, or dead in an incarnation. */
type Seen = { alive: true } | { alive: false; incarnation: string | undefined };

let membersDir: string;
beforeAll(async () => {
  membersDir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-watch-'));
  await mkdir(path.join(membersDir, 'default', 'c'), { recursive: true });
  await writeFile(path.join(membersDir, 'default', 'c', '.c-worker-0.member'), '');
});
afterAll(() => rm(membersDir, { recursive: true, force: true }));

/** Runs the watch over the scans given, one per scan, and returns the scans after which a report came. */
async function reportsAfter(scans: Seen[]): Promise<number[]> {
  const abort = new AbortController();
  const reports: number[] = [];
  let scan = -1;
  const now = () => scans[Math.min(scan, scans.length - 1)] as Seen;
  await watchLocalMembers(
    {
      membersDir,
      intervalMs: 0,
      readiness: () => {
        scan++;
        if (scan >= scans.length) abort.abort();
        return Promise.resolve(
          now().alive ? { ready: true } : { ready: false, reason: 'keep-alive process is not running' },
        );
      },
      incarnation: () => {
        const seen = now();
        return Promise.resolve(seen.alive ? undefined : seen.incarnation);
      },
    },
    (down: MemberDown) => {
      expect(down).toMatchObject({ namespace: 'default', cluster: 'c', member: 'c-worker-0' });
      reports.push(scan);
    },
    abort.signal,
  );
  return reports;
}

const dead = (incarnation: string | undefined): Seen => ({ alive: false, incarnation });
const alive: Seen = { alive: true };

describe('the local heal watch', () => {
  it('reports a death after two scans, and once however long it lasts', async () => {
    expect(await reportsAfter([alive, dead('101'), dead('101'), dead('101'), dead('101')])).toEqual([2]);
  });

  it('a single dead scan (a launch passing through) is no death', async () => {
    expect(await reportsAfter([dead('0'), alive, dead('101'), alive])).toEqual([]);
  });

  it('reports a relaunched member that dies again before any scan saw it alive', async () => {
    expect(await reportsAfter([dead('101'), dead('101'), dead('202'), dead('202'), dead('202')])).toEqual([1, 3]);
  });

  it('reports again after it was seen alive, in the same incarnation record or none', async () => {
    expect(await reportsAfter([dead(undefined), dead(undefined), alive, dead(undefined), dead(undefined)])).toEqual([
      1, 4,
    ]);
  });
});
