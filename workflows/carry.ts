/**
 * The state a cluster run hands to the next one at continue-as-new, packed so that 1,000 members fit
 * well inside Temporal's payload limits (docs/adr/0013): each member is one row of numbers, with its
 * role, topology key and error text given once in a dictionary; names and FQDNs are derived again.
 * Pure; the round trip is tested.
 */
import { MEMBER_STATES, SCRIPT_EVENTS, memberName, type OrdinalRange, type ScriptEvent } from '../api/contract.ts';
import type { LastRun, Member, Notify, NotifyEvent } from './model.ts';
import { withNodeIds } from './plan.ts';

const STATES = MEMBER_STATES;
// Packed by index: new events are only ever appended (fields.ts), so older packed state reads the same.
const EVENTS: readonly ScriptEvent[] = SCRIPT_EVENTS;
const NOTIFY_EVENTS: NotifyEvent[] = ['addnodes', 'delnodes'];

const LAUNCHED = 1;
const READY = 2;
const ANNOUNCED = 4;
const DELNODES_SENT = 8;

/** [event, generation, seq, exitCode, attempts, startedAt, finishedAt, aboutRole (-1: none), aboutOrdinals] */
type PackedRun = [number, number, number, number | null, number, number, number, number, OrdinalRange[]];
/** [event, role, ordinals] */
type PackedNotify = [number, number, OrdinalRange[]];
/**
 * [role, ordinal, state, flags, topology, batch, error (-1: none), runs, failedNotifies, retryNotifies,
 * nodeId, warning (-1: none), connected (topology dictionary; -1: none)]; rows carried by runs from
 * before node ids end after retryNotifies, and before connections after warning.
 */
type PackedMember = [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  PackedRun[],
  PackedNotify[],
  PackedNotify[],
  number?,
  number?,
  number?,
];

export interface PackedMembers {
  roles: string[];
  topologies: string[];
  errors: string[];
  rows: PackedMember[];
}

class Dictionary {
  readonly values: string[] = [];
  private readonly index = new Map<string, number>();
  of(value: string): number {
    let at = this.index.get(value);
    if (at === undefined) {
      at = this.values.length;
      this.values.push(value);
      this.index.set(value, at);
    }
    return at;
  }
}

export function packMembers(members: Member[]): PackedMembers {
  const roles = new Dictionary();
  const topologies = new Dictionary();
  const errors = new Dictionary();
  const notify = (n: Notify): PackedNotify => [NOTIFY_EVENTS.indexOf(n.event), roles.of(n.role), n.ordinals];
  const rows = members.map((m): PackedMember => {
    const flags =
      (m.launched ? LAUNCHED : 0) |
      (m.ready ? READY : 0) |
      (m.announced ? ANNOUNCED : 0) |
      (m.delnodesSent ? DELNODES_SENT : 0);
    const runs = EVENTS.flatMap((event, e): PackedRun[] => {
      const r = m.runs[event];
      return r
        ? [
            [
              e,
              r.generation,
              r.seq,
              r.exitCode,
              r.attempts,
              r.startedAt,
              r.finishedAt,
              r.about ? roles.of(r.about.role) : -1,
              r.about?.ordinals ?? [],
            ],
          ]
        : [];
    });
    return [
      roles.of(m.role),
      m.ordinal,
      STATES.indexOf(m.state),
      flags,
      topologies.of(m.topology),
      m.batch,
      m.lastError === undefined ? -1 : errors.of(m.lastError),
      runs,
      m.failedNotifies.map(notify),
      m.retryNotifies.map(notify),
      m.nodeId ?? 0,
      m.warning === undefined ? -1 : errors.of(m.warning),
      m.connected === undefined ? -1 : topologies.of(m.connected),
    ];
  });
  return { roles: roles.values, topologies: topologies.values, errors: errors.values, rows };
}

export function unpackMembers(cluster: string, packed: PackedMembers): Member[] {
  const role = (i: number) => packed.roles[i] ?? '';
  const notify = ([event, r, ordinals]: PackedNotify): Notify => ({
    event: NOTIFY_EVENTS[event] ?? 'addnodes',
    role: role(r),
    ordinals,
  });
  const members = packed.rows.map(
    ([r, ordinal, state, flags, topology, batch, error, runs, failed, retry, nodeId, warning, connected]) => {
      const lastRuns: Member['runs'] = {};
      for (const [e, generation, seq, exitCode, attempts, startedAt, finishedAt, aboutRole, aboutOrdinals] of runs) {
        const run: LastRun = {
          generation,
          seq,
          exitCode,
          attempts,
          startedAt,
          finishedAt,
          ...(aboutRole >= 0 ? { about: { role: role(aboutRole), ordinals: aboutOrdinals } } : {}),
        };
        lastRuns[EVENTS[e] ?? 'configure'] = run;
      }
      return {
        name: memberName(cluster, role(r), ordinal),
        role: role(r),
        ordinal,
        state: STATES[state] ?? 'config error',
        launched: (flags & LAUNCHED) !== 0,
        ready: (flags & READY) !== 0,
        topology: packed.topologies[topology] ?? '',
        batch,
        announced: (flags & ANNOUNCED) !== 0,
        delnodesSent: (flags & DELNODES_SENT) !== 0,
        failedNotifies: failed.map(notify),
        retryNotifies: retry.map(notify),
        ...(error >= 0 ? { lastError: packed.errors[error] ?? '' } : {}),
        ...(nodeId ? { nodeId } : {}),
        ...(warning !== undefined && warning >= 0 ? { warning: packed.errors[warning] ?? '' } : {}),
        ...(connected !== undefined && connected >= 0 ? { connected: packed.topologies[connected] ?? '' } : {}),
        runs: lastRuns,
      };
    },
  );
  return withNodeIds(members);
}
