/**
 * The status query's answer (workflows/status.ts) at 1,000 members: a page of members, counts over
 * all of them, and a size that stays well under Temporal's payload warning whatever the page.
 */
import { describe, expect, it } from 'vitest';
import { ClusterStatus, STATUS_PAGE_DEFAULT, STATUS_PAGE_MAX, type StatusRequest } from '../../api/index.ts';
import { MAX_ERROR_CHARS, type LastRun, type Member } from '../../workflows/model.ts';
import { newMember } from '../../workflows/plan.ts';
import { buildStatus, currentDetails, type StatusInput } from '../../workflows/status.ts';
import { FQDN_SUFFIX, fq, makeApp, makeDesired, names, nm } from './plan-sim.ts';

const app = makeApp([
  { id: 'controller', cardinality: '1' },
  { id: 'worker', cardinality: '1+' },
]);
const KIB = 1024;
const T = Date.UTC(2026, 10, 30, 12);

const errorOf = (i: number) =>
  `member ${i}: startscript exited 1: ${'y'.repeat(MAX_ERROR_CHARS)}`.slice(0, MAX_ERROR_CHARS);
const run = (seq: number, exitCode: number | null, about?: LastRun['about']): LastRun => ({
  generation: 250,
  seq,
  exitCode,
  attempts: 3,
  startedAt: T + seq * 1000,
  finishedAt: T + seq * 1000 + 500,
  ...(about ? { about } : {}),
});

/**
 * `workers` workers and a controller, each with a 160-character error and three runs (configure,
 * addnodes, delnodes), the last `failedRuns` of which failed. One in ten members is in config error.
 */
function cluster(workers: number, want = workers, failedRuns = 3): StatusInput {
  const desired = makeDesired(app, { controller: 1, worker: want }, 250);
  const all = [
    newMember(desired, 'controller', 0),
    ...Array.from({ length: workers }, (_, o) => newMember(desired, 'worker', o)),
  ];
  const exit = (position: number) => (position >= 3 - failedRuns ? 1 : 0);
  const members: Member[] = all.map((m, i) => ({
    ...m,
    state: i % 10 === 9 ? 'config error' : 'configured',
    launched: true,
    ready: i % 10 !== 9,
    topology: '1000:9c4e1f2a',
    announced: true,
    lastError: errorOf(i),
    runs: {
      configure: run(3 * i, exit(0)),
      addnodes: run(3 * i + 1, exit(1), { role: 'worker', ordinals: [[900, 999]] }),
      delnodes: run(3 * i + 2, exit(2), {
        role: 'worker',
        ordinals: [
          [1000, 1099],
          [1200, 1200],
        ],
      }),
    },
  }));
  return { desired, members, observedGeneration: 249, busy: false, deleting: false, deleted: false };
}

const size = (status: ClusterStatus) => JSON.stringify(status).length;
const listed = (status: ClusterStatus) => status.roles.flatMap((r) => r.members.map((m) => m.name));

describe('buildStatus paging', () => {
  const big = cluster(999);

  it('at 1,000 members the default page is at most 256 KiB of JSON, even when every run failed', () => {
    const byDefault = buildStatus(big);
    expect(listed(byDefault)).toHaveLength(STATUS_PAGE_DEFAULT);
    expect(byDefault.page).toEqual({ offset: 0, limit: STATUS_PAGE_DEFAULT, total: 1000 });
    // Every run shows; the member's one error line goes with its newest failed run only.
    expect(byDefault.roles[1]!.members[0]!.events.map((e) => [e.event, e.error?.length, e.about])).toEqual([
      ['configure', undefined, undefined],
      ['addnodes', undefined, 'worker 900-999'],
      ['delnodes', MAX_ERROR_CHARS, 'worker 1000-1099,1200'],
    ]);
    expect(size(byDefault)).toBeLessThanOrEqual(256 * KIB);
    // A page of the last members weighs the same: nothing in a member grows with its ordinal.
    const last = buildStatus(big, { offset: 1000 - STATUS_PAGE_DEFAULT });
    expect(size(last)).toBeLessThanOrEqual(256 * KIB);
    expect(ClusterStatus.parse(byDefault)).toEqual(byDefault);
    console.log(
      `status at 1,000 members, every run failed: default page (${STATUS_PAGE_DEFAULT}) ${size(byDefault)} bytes, last default page ${size(last)} bytes`,
    );
  });

  it('at 1,000 members the largest page is at most 256 KiB of JSON when every member has an error but its runs succeeded', () => {
    // A launch or configmeta failure sets lastError and records no run.
    const largest = buildStatus(cluster(999, 999, 0), { limit: STATUS_PAGE_MAX });
    expect(listed(largest)).toHaveLength(STATUS_PAGE_MAX);
    expect(largest.page).toEqual({ offset: 0, limit: STATUS_PAGE_MAX, total: 1000 });
    expect(
      largest.roles[1]!.members.every((m) => m.lastError?.length === MAX_ERROR_CHARS && m.events.length === 3),
    ).toBe(true);
    expect(size(largest)).toBeLessThanOrEqual(256 * KIB);
    expect(ClusterStatus.parse(largest)).toEqual(largest);
    console.log(`status at 1,000 members, runs succeeded: max page (${STATUS_PAGE_MAX}) ${size(largest)} bytes`);
  });

  // Bug (workflows/status.ts memberStatus): every failed run repeats the member's lastError as its
  // `error`, so a member with a 160-character error and failed runs costs up to 4 × 160 bytes, and
  // the largest page passes 256 KiB once a member's last run failed, the usual reason it has an
  // error: measured 271,898 bytes with one failed run a member, 357,398 with three (the passing
  // test above: 229,148 with none). It also names the wrong error: the member's last error shows on
  // each older failed run. Showing the error on the newest failed run only (or not per run) fits;
  // so would a STATUS_PAGE_MAX of 200.
  it('at 1,000 members the largest page is at most 256 KiB of JSON when the runs failed', () => {
    for (const failedRuns of [1, 3]) {
      const largest = buildStatus(cluster(999, 999, failedRuns), { limit: STATUS_PAGE_MAX });
      expect(listed(largest)).toHaveLength(STATUS_PAGE_MAX);
      expect(size(largest), `${failedRuns} failed run(s) a member`).toBeLessThanOrEqual(256 * KIB);
    }
  });

  it('counts cover every member, whatever the page', () => {
    const counts = (s: ClusterStatus) =>
      s.roles.map(({ id, desired, total, ready, configured }) => ({ id, desired, total, ready, configured }));
    const expected = [
      { id: 'controller', desired: 1, total: 1, ready: 1, configured: 1 },
      { id: 'worker', desired: 999, total: 999, ready: 899, configured: 899 },
    ];
    for (const request of [
      {},
      { offset: 0, limit: 1 },
      { offset: 500, limit: 10 },
      { offset: 990, limit: STATUS_PAGE_MAX },
      { offset: 5000 },
    ]) {
      const s = buildStatus(big, request);
      expect(counts(s), JSON.stringify(request)).toEqual(expected);
      expect(s.page.total).toBe(1000);
      expect(s.phase).toBe('config error');
    }
    // Pages tile the members in role order, then ordinal: no gap, no overlap.
    const seen: string[] = [];
    for (let offset = 0; offset < 1000; offset += STATUS_PAGE_MAX)
      seen.push(...listed(buildStatus(big, { offset, limit: STATUS_PAGE_MAX })));
    expect(seen).toEqual([nm('controller', 0), ...names('worker', ...Array(999).keys())]);
    // The page straddling two roles lists each under its role.
    const straddle = buildStatus(big, { offset: 0, limit: 3 });
    expect(straddle.roles.map((r) => r.members.map((m) => m.name))).toEqual([
      [nm('controller', 0)],
      names('worker', 0, 1),
    ]);
  });

  it('offset and limit are clamped, whatever a client sends', () => {
    const cases: [StatusRequest, { offset: number; limit: number; count: number }][] = [
      [
        { offset: -5, limit: -5 },
        { offset: 0, limit: 1, count: 1 },
      ],
      [
        { offset: Number.NaN, limit: Number.NaN },
        { offset: 0, limit: STATUS_PAGE_DEFAULT, count: STATUS_PAGE_DEFAULT },
      ],
      [{ limit: 1_000_000 }, { offset: 0, limit: STATUS_PAGE_MAX, count: STATUS_PAGE_MAX }],
      [{ limit: Number.POSITIVE_INFINITY }, { offset: 0, limit: STATUS_PAGE_MAX, count: STATUS_PAGE_MAX }],
      [{ limit: Number.NEGATIVE_INFINITY }, { offset: 0, limit: 1, count: 1 }],
      [
        { offset: 2.9, limit: 3.7 },
        { offset: 2, limit: 3, count: 3 },
      ],
      [
        { offset: 995, limit: 50 },
        { offset: 995, limit: 50, count: 5 },
      ],
      // Past the end: an empty page at the end, never an offset the answer's own schema refuses.
      [{ offset: 10_000 }, { offset: 1000, limit: STATUS_PAGE_DEFAULT, count: 0 }],
      // 0 counts as no limit given (not as "counts only").
      [{ limit: 0 }, { offset: 0, limit: STATUS_PAGE_DEFAULT, count: STATUS_PAGE_DEFAULT }],
      // A query argument is whatever JSON a client sent: strings and nulls are no numbers.
      [
        { offset: '7' as unknown as number, limit: 'lots' as unknown as number },
        { offset: 7, limit: STATUS_PAGE_DEFAULT, count: STATUS_PAGE_DEFAULT },
      ],
      [
        { offset: null as unknown as number, limit: null as unknown as number },
        { offset: 0, limit: STATUS_PAGE_DEFAULT, count: STATUS_PAGE_DEFAULT },
      ],
      [{ offset: {} as unknown as number }, { offset: 0, limit: STATUS_PAGE_DEFAULT, count: STATUS_PAGE_DEFAULT }],
    ];
    for (const [request, want] of cases) {
      const s = buildStatus(big, request);
      expect({ offset: s.page.offset, limit: s.page.limit, count: listed(s).length }, JSON.stringify(request)).toEqual(
        want,
      );
      // The answer is still valid status.
      expect(ClusterStatus.safeParse(s).success, JSON.stringify(request)).toBe(true);
    }
    // An absent request is the first default page.
    expect(buildStatus(big).page).toEqual(buildStatus(big, {}).page);
  });

  // Bug (workflows/status.ts buildStatus): an offset that is not a safe integer is passed through.
  // JSON.parse('1e400') is Infinity, so a client can send it; page.offset is then Infinity, which
  // JSON writes as null and ClusterStatus (z.number().int()) rejects, so the CLI cannot read the
  // answer. 1e300 is likewise kept and rejected (not a safe integer). Clamping the offset to the
  // total (or to Number.MAX_SAFE_INTEGER) fixes both.
  it('an infinite or astronomically large offset gives a valid, empty page', () => {
    for (const offset of [Number.POSITIVE_INFINITY, 1e300]) {
      const s = buildStatus(big, { offset });
      expect(listed(s)).toEqual([]);
      expect(Number.isSafeInteger(s.page.offset), String(offset)).toBe(true);
      expect(ClusterStatus.safeParse(JSON.parse(JSON.stringify(s))).success, String(offset)).toBe(true);
    }
  });

  it("members the spec wants that do not exist yet show as 'create pending'", () => {
    // 10 workers exist, the spec wants 15: five rows are waiting to be launched.
    const growing = { ...cluster(10, 15), busy: true };
    const s = buildStatus(growing, { limit: STATUS_PAGE_MAX });
    const workers = s.roles[1]!;
    expect(workers).toMatchObject({ desired: 15, total: 15, configured: 9, ready: 9 });
    expect(workers.members.map((m) => m.state)).toEqual([
      ...Array(10).fill(expect.stringMatching(/^config(ured| error)$/)),
      ...Array(5).fill('create pending'),
    ]);
    expect(workers.members.slice(10)).toEqual(
      [10, 11, 12, 13, 14].map((o) => ({
        name: nm('worker', o),
        role: 'worker',
        ordinal: o,
        fqdn: fq('worker', o),
        state: 'create pending',
        ready: false,
        events: [],
      })),
    );
    expect(s.page.total).toBe(16);
    expect(s.phase).toBe('updating');
    // They are paged like the others.
    expect(listed(buildStatus(growing, { offset: 14, limit: 5 }))).toEqual(names('worker', 13, 14));
  });

  it('a shrink shows the leavers and counts only the live as ready; deleting wants nobody', () => {
    const input = cluster(10, 8);
    const members = input.members.map((m) =>
      m.role === 'worker' && m.ordinal >= 8 ? { ...m, state: 'delete pending' as const } : m,
    );
    const s = buildStatus({ ...input, members, busy: true });
    // worker-8 is not ready and worker-9 is, but both leave: the eight that stay are ready.
    expect(s.roles[1]).toMatchObject({ desired: 8, total: 10, ready: 8, configured: 8 });
    expect(s.roles[1]!.members.slice(-2).map((m) => m.state)).toEqual(['delete pending', 'delete pending']);
    const gone = buildStatus({ ...input, members, deleting: true });
    expect(gone.roles.map((r) => r.desired)).toEqual([0, 0]);
    expect(gone.phase).toBe('deleting');
  });

  it('member status derives FQDNs and run ids; the Web UI details stay bounded too', () => {
    const s = buildStatus(big, { limit: STATUS_PAGE_MAX });
    const first = s.roles[1]!.members[0]!;
    expect(first.fqdn).toBe(fq('worker', 0));
    expect(first.events[0]!.runId).toBe(`team1/kc/g250/s3/${nm('worker', 0)}/configure`);
    expect(first.events[0]!.startedAt).toBe(new Date(T + 3000).toISOString());
    // Only the page carries FQDNs: one per listed member.
    expect(JSON.stringify(s).split(FQDN_SUFFIX).length - 1).toBe(STATUS_PAGE_MAX);
    expect(currentDetails(s).length).toBeLessThan(32 * KIB);
  });
});
