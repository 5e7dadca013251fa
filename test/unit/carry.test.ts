/**
 * The state one cluster run hands the next at continue-as-new (workflows/carry.ts): the round trip
 * loses nothing the planner or status reads, and 1,000 members fit well inside Temporal's limits.
 */
import { describe, expect, it } from 'vitest';
import { MemberState, memberName, type EventName } from '../../api/index.ts';
import { packMembers, unpackMembers } from '../../workflows/carry.ts';
import { MAX_ERROR_CHARS, type LastRun, type Member } from '../../workflows/model.ts';
import { newMember, nextStep } from '../../workflows/plan.ts';
import {
  CLUSTER,
  FQDN_SUFFIX,
  app3,
  makeApp,
  makeDesired,
  mulberry32,
  names,
  nm,
  settled,
  type FailFn,
} from './plan-sim.ts';

/** What a continue-as-new does to the packed state: it travels as JSON. */
const roundTrip = (members: Member[]) => unpackMembers(CLUSTER, JSON.parse(JSON.stringify(packMembers(members))));

/** A distinct one-line error of exactly MAX_ERROR_CHARS characters. */
const errorOf = (i: number) =>
  `member ${i}: startscript exited 1: ${'x'.repeat(MAX_ERROR_CHARS)}`.slice(0, MAX_ERROR_CHARS);

const run = (generation: number, seq: number, exitCode: number | null, about?: LastRun['about']): LastRun => ({
  generation,
  seq,
  exitCode,
  attempts: exitCode === 0 ? 1 : 3,
  startedAt: Date.UTC(2026, 10, 30, 12) + seq * 1000,
  finishedAt: Date.UTC(2026, 10, 30, 12) + seq * 1000 + 750,
  ...(about ? { about } : {}),
});

describe('packMembers / unpackMembers', () => {
  it('round-trips members in every state, with every flag, runs, failed and retry notifies', () => {
    const d = makeDesired(app3, { a: 1, b: 3, c: 2 }, 4);
    const base = (role: string, ordinal: number) => newMember(d, role, ordinal);
    const members: Member[] = MemberState.options.map((state, i) => ({
      ...base('b', i),
      state,
      launched: i % 2 === 0,
      ready: i % 3 === 0,
      announced: i % 2 === 1,
      delnodesSent: i >= 4,
      topology: i === 0 ? '' : `${i}:abc${i}`,
      batch: 1000 * i + i,
      nodeId: 40 - i,
      ...(i % 2 === 0 ? { lastError: errorOf(i) } : {}),
      ...(i === 2 ? { warning: 'exit 0, but stderr says: configcli: command not found' } : {}),
      runs:
        i === 0
          ? {}
          : {
              configure: run(i, 10 + i, i === 3 ? 1 : 0),
              ...(i > 1
                ? {
                    addnodes: run(i, 20 + i, 0, {
                      role: 'c',
                      ordinals: [
                        [0, 1],
                        [4, 4],
                      ],
                    }),
                  }
                : {}),
              ...(i > 2 ? { delnodes: run(i, 30 + i, null, { role: 'b', ordinals: [[7, 9]] }) } : {}),
            },
      failedNotifies:
        i > 3
          ? [
              { event: 'addnodes', role: 'c', ordinals: [[2, 3]] },
              { event: 'delnodes', role: 'b', ordinals: [[5, 5]] },
            ]
          : [],
      retryNotifies: i === 2 ? [{ event: 'delnodes', role: 'a', ordinals: [[0, 0]] }] : [],
    }));
    members.push({
      ...base('a', 0),
      state: 'configured',
      launched: true,
      ready: true,
      topology: '6:ffff',
      announced: true,
      nodeId: 41,
    });
    members.push({ ...base('c', 1), nodeId: 42 });
    const back = roundTrip(members);
    expect(back).toEqual(members);
    // Names are derived again, from cluster, role and ordinal.
    expect(back.map((m) => m.name)).toEqual([...names('b', 0, 1, 2, 3, 4, 5), nm('a', 0), nm('c', 1)]);
    // No `lastError` key for a member without one, and no `about` on a run without one.
    expect('lastError' in back[1]!).toBe(false);
    expect('about' in back[1]!.runs.configure!).toBe(false);
  });

  it('gives members carried from before node ids theirs, after the highest in use, in member order', () => {
    const d = makeDesired(app3, { a: 1, b: 2 }, 1);
    const members = [newMember(d, 'a', 0), { ...newMember(d, 'b', 0), nodeId: 5 }, newMember(d, 'b', 1)];
    const packed = packMembers(members);
    // A row of an older run ends after its retry notifies: no node id, no warning.
    const old = { ...packed, rows: packed.rows.map((row) => row.slice(0, 10) as typeof row) };
    old.rows[1] = packed.rows[1] as (typeof old.rows)[number];
    expect(unpackMembers(CLUSTER, old).map((m) => m.nodeId)).toEqual([6, 5, 7]);
  });

  it('a role id with an underscore gets its member names back', () => {
    const app = makeApp([{ id: 'vanilla_centos', cardinality: '1+' }]);
    const d = makeDesired(app, { vanilla_centos: 2 }, 1);
    const members = [newMember(d, 'vanilla_centos', 0), newMember(d, 'vanilla_centos', 1)].map((m, i) => ({
      ...m,
      nodeId: i + 1,
    }));
    expect(roundTrip(members)).toEqual(members);
    expect(roundTrip(members).map((m) => m.name)).toEqual([
      memberName(CLUSTER, 'vanilla_centos', 0),
      'kc-vanilla-centos-1',
    ]);
  });

  it('the planner resumes identically from unpacked state, at every step of runs with failures and retries', () => {
    const rng = mulberry32(31337);
    const fail: FailFn = () => (rng() < 0.2 ? `failure ${Math.floor(rng() * 5)}` : undefined);
    let checked = 0;
    for (let trial = 0; trial < 60; trial++) {
      const sim = settled(app3, { a: 1, b: 2, c: 1 });
      sim.fail = fail;
      for (let change = 0; change < 4; change++) {
        sim.change({ a: Math.floor(rng() * 3), b: Math.floor(rng() * 5), c: Math.floor(rng() * 4) });
        for (let step = sim.step(); step; step = sim.step()) {
          const back = roundTrip(sim.members);
          expect(back).toEqual(sim.members);
          expect(nextStep(sim.desired, back)).toEqual(nextStep(sim.desired, sim.members));
          checked++;
        }
        if (rng() < 0.5) sim.retry();
      }
    }
    expect(checked).toBeGreaterThan(500);
  });

  it('1,000 members of a 2-role cluster, each with three runs and a distinct 160-character error, pack to at most 512 KiB of JSON', () => {
    const app = makeApp([
      { id: 'controller', cardinality: '1' },
      { id: 'worker', cardinality: '1+' },
    ]);
    const d = makeDesired(app, { controller: 1, worker: 999 }, 250);
    const events: EventName[] = ['configure', 'addnodes', 'delnodes'];
    const topology = '1000:9c4e1f2a';
    const members: Member[] = [
      ...[0].map((o) => newMember(d, 'controller', o)),
      ...Array.from({ length: 999 }, (_, o) => newMember(d, 'worker', o)),
    ].map((m, i) => ({
      ...m,
      state: 'configured',
      launched: true,
      ready: true,
      topology,
      batch: 249_001,
      announced: true,
      nodeId: i + 1,
      lastError: errorOf(i),
      runs: Object.fromEntries(
        events.map((event, e) => [
          event,
          run(
            250,
            41_000 + i * 3 + e,
            e === 0 ? 0 : 2,
            event === 'configure'
              ? undefined
              : { role: 'worker', ordinals: event === 'addnodes' ? [[900, 999]] : [[1000, 1099]] },
          ),
        ]),
      ),
    }));
    expect(new Set(members.map((m) => m.lastError)).size).toBe(1000);
    expect(members.every((m) => m.lastError!.length === MAX_ERROR_CHARS)).toBe(true);
    const packed = JSON.stringify(packMembers(members));
    const plain = JSON.stringify(members);
    expect(packed.includes(FQDN_SUFFIX)).toBe(false);
    expect(packed.length).toBeLessThanOrEqual(512 * 1024);
    expect(roundTrip(members)).toEqual(members);
    console.log(
      `carry: 1,000 members packed ${packed.length} bytes (${(packed.length / 1024).toFixed(1)} KiB), ${Math.round(packed.length / 1000)} B/member; unpacked JSON ${plain.length} bytes`,
    );

    // With a failed and a queued notify on every member too, it still fits.
    const noisy = members.map((m) => ({
      ...m,
      failedNotifies: [{ event: 'addnodes' as const, role: 'worker', ordinals: [[900, 999]] as [number, number][] }],
      retryNotifies: [{ event: 'delnodes' as const, role: 'worker', ordinals: [[1000, 1099]] as [number, number][] }],
    }));
    const noisyPacked = JSON.stringify(packMembers(noisy));
    expect(noisyPacked.length).toBeLessThanOrEqual(512 * 1024);
    console.log(
      `carry: with a failed and a retry notify on each member ${noisyPacked.length} bytes (${(noisyPacked.length / 1024).toFixed(1)} KiB)`,
    );
  });
});
