/** Ordinal ranges (api/ranges.ts): how steps, state and activity inputs name members of one role in O(1). */
import { describe, expect, it } from 'vitest';
import {
  fromRanges,
  mergeRanges,
  rangeCount,
  rangesText,
  scriptArgv,
  toRanges,
  type OrdinalRange,
} from '../../api/index.ts';
import { mulberry32 } from './plan-sim.ts';

const sortedUnique = (values: number[]) => [...new Set(values)].sort((a, b) => a - b);

describe('toRanges', () => {
  it('makes the fewest inclusive ranges from sorted ordinals', () => {
    expect(toRanges([0, 1, 2, 3])).toEqual([[0, 3]]);
    expect(toRanges([4])).toEqual([[4, 4]]);
    expect(toRanges([0, 1, 3, 4, 5, 9])).toEqual([
      [0, 1],
      [3, 5],
      [9, 9],
    ]);
  });

  it('sorts numerically (not as strings) and drops duplicates', () => {
    expect(toRanges([10, 9, 2, 1, 100, 3])).toEqual([
      [1, 3],
      [9, 10],
      [100, 100],
    ]);
    expect(toRanges([5, 5, 4, 4, 4, 6])).toEqual([[4, 6]]);
    expect(toRanges([7, 7])).toEqual([[7, 7]]);
  });

  it('of nothing is nothing; takes any iterable', () => {
    expect(toRanges([])).toEqual([]);
    expect(toRanges(new Set([3, 2, 1]))).toEqual([[1, 3]]);
    expect(toRanges((function* () {})())).toEqual([]);
  });
});

describe('fromRanges and rangeCount', () => {
  it('expand ranges back to ordinals, in range order', () => {
    expect(
      fromRanges([
        [0, 2],
        [5, 5],
      ]),
    ).toEqual([0, 1, 2, 5]);
    expect(fromRanges([])).toEqual([]);
    expect(
      rangeCount([
        [0, 2],
        [5, 5],
      ]),
    ).toBe(4);
    expect(rangeCount([])).toBe(0);
  });

  it('a reversed range is empty, not negative', () => {
    expect(fromRanges([[5, 3]])).toEqual([]);
    expect(rangeCount([[5, 3]])).toBe(0);
    expect(
      fromRanges([
        [5, 3],
        [1, 1],
      ]),
    ).toEqual([1]);
  });

  it('round-trips with toRanges for random sets, unsorted and with duplicates', () => {
    const rng = mulberry32(2024);
    for (let trial = 0; trial < 500; trial++) {
      const values = Array.from({ length: Math.floor(rng() * 40) }, () => Math.floor(rng() * 60));
      const ranges = toRanges(values);
      expect(fromRanges(ranges)).toEqual(sortedUnique(values));
      expect(rangeCount(ranges)).toBe(new Set(values).size);
      // Canonical: sorted, disjoint, never adjacent, each first <= last.
      ranges.forEach(([first, last], i) => {
        expect(first).toBeLessThanOrEqual(last);
        if (i > 0) expect(first).toBeGreaterThan(ranges[i - 1]![1] + 1);
      });
      expect(toRanges(fromRanges(ranges))).toEqual(ranges);
    }
  });

  it('1,000 contiguous ordinals are one range', () => {
    const ordinals = Array.from({ length: 1000 }, (_, i) => 999 - i);
    expect(toRanges(ordinals)).toEqual([[0, 999]]);
    expect(JSON.stringify(toRanges(ordinals))).toBe('[[0,999]]');
  });
});

describe('rangesText', () => {
  it('writes single ordinals bare and runs with a dash', () => {
    expect(
      rangesText([
        [1, 1],
        [3, 5],
        [9, 9],
      ]),
    ).toBe('1,3-5,9');
    expect(rangesText([[0, 999]])).toBe('0-999');
    expect(rangesText([])).toBe('');
  });

  it('writes what it is given: canonicalise first with toRanges', () => {
    const messy: OrdinalRange[] = [
      [3, 5],
      [1, 1],
      [4, 6],
    ];
    expect(rangesText(messy)).toBe('3-5,1,4-6');
    expect(rangesText(toRanges(fromRanges(messy)))).toBe('1,3-6');
  });
});

describe('mergeRanges', () => {
  it('joins overlapping and adjacent ranges', () => {
    expect(mergeRanges([[1, 3]], [[4, 6]])).toEqual([[1, 6]]);
    expect(mergeRanges([[1, 5]], [[3, 8]])).toEqual([[1, 8]]);
    expect(mergeRanges([[2, 2]], [[2, 2]])).toEqual([[2, 2]]);
  });

  it('keeps gaps, sorts whatever the input order, and is commutative', () => {
    const a: OrdinalRange[] = [[7, 9]];
    const b: OrdinalRange[] = [
      [1, 2],
      [4, 4],
    ];
    expect(mergeRanges(a, b)).toEqual([
      [1, 2],
      [4, 4],
      [7, 9],
    ]);
    expect(mergeRanges(b, a)).toEqual(mergeRanges(a, b));
    // Unsorted, overlapping input lists are canonical after a merge.
    expect(
      mergeRanges(
        [
          [5, 6],
          [0, 1],
          [5, 5],
        ],
        [[2, 3]],
      ),
    ).toEqual([
      [0, 3],
      [5, 6],
    ]);
  });

  it('with nothing on either side', () => {
    expect(mergeRanges([], [])).toEqual([]);
    expect(mergeRanges([[3, 4]], [])).toEqual([[3, 4]]);
    expect(mergeRanges([], [[3, 4]])).toEqual([[3, 4]]);
  });

  it('is the union of the ordinals, for random inputs', () => {
    const rng = mulberry32(77);
    const some = () => toRanges(Array.from({ length: Math.floor(rng() * 15) }, () => Math.floor(rng() * 30)));
    for (let trial = 0; trial < 300; trial++) {
      const a = some();
      const b = some();
      expect(fromRanges(mergeRanges(a, b))).toEqual(sortedUnique([...fromRanges(a), ...fromRanges(b)]));
    }
  });

  it('does not change its inputs', () => {
    const a: OrdinalRange[] = [[1, 2]];
    const b: OrdinalRange[] = [[3, 4]];
    mergeRanges(a, b);
    expect(a).toEqual([[1, 2]]);
    expect(b).toEqual([[3, 4]]);
  });
});

describe('scriptArgv', () => {
  it('is just the event for --configure', () => {
    expect(scriptArgv('configure', undefined, 'kc', 'team1')).toEqual(['--configure']);
  });

  it('names the members a notify is about by FQDN, in KubeDirector words', () => {
    expect(
      scriptArgv(
        'addnodes',
        {
          role: 'worker',
          ordinals: [
            [2, 3],
            [5, 5],
          ],
        },
        'kc',
        'team1',
      ),
    ).toEqual([
      '--addnodes',
      '--nodegroup',
      '1',
      '--role',
      'worker',
      '--fqdns',
      'kc-worker-2.kc.team1.svc.cluster.local,kc-worker-3.kc.team1.svc.cluster.local,kc-worker-5.kc.team1.svc.cluster.local',
    ]);
    // A role id with an underscore: dashes in the host names, the id as it is after --role.
    expect(scriptArgv('delnodes', { role: 'vanilla_centos', ordinals: [[0, 0]] }, 'kc', 'ns')).toEqual([
      '--delnodes',
      '--nodegroup',
      '1',
      '--role',
      'vanilla_centos',
      '--fqdns',
      'kc-vanilla-centos-0.kc.ns.svc.cluster.local',
    ]);
  });
});
