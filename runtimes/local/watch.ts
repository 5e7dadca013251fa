/**
 * The local runtime's heal watch (docs/adr/0049): every member this KDFLOW_HOME made (its
 * `.<member>.member` record) is looked at every interval, with the same check as `probeMembers`
 * (directory there, keep-alive running). A directory and a process have no events to wait on, so
 * this polls; one scan per worker covers every cluster. A member must look dead on two scans in a
 * row before it is reported (a launch or removal passes through "dead" for a moment), and it is
 * reported once per death. A death is told from the next one by the member's incarnation (its
 * keep-alive's recorded pid), not by a scan that saw it alive in between: a healed member that dies
 * again before the next scan must be reported again.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { MemberDown, MemberTarget, Readiness } from '../runtime.ts';
import { DNS_LABEL } from './layout.ts';

export interface LocalWatchOptions {
  /** $KDFLOW_HOME/members */
  membersDir: string;
  intervalMs: number;
  readiness: (member: MemberTarget) => Promise<Readiness>;
  /** What tells one life of the member from the next (a relaunch changes it); undefined when none is recorded. */
  incarnation: (member: MemberTarget) => Promise<string | undefined>;
}

/** Member records under members/<namespace>/<cluster>/: every member this home made that was not removed. */
async function recordedMembers(membersDir: string): Promise<Omit<MemberTarget, 'role' | 'ordinal' | 'fqdn'>[]> {
  const dirs = async (dir: string) =>
    (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory()).map((e) => e.name);
  const found: Omit<MemberTarget, 'role' | 'ordinal' | 'fqdn'>[] = [];
  for (const namespace of await dirs(membersDir)) {
    for (const cluster of await dirs(path.join(membersDir, namespace))) {
      const entries = await readdir(path.join(membersDir, namespace, cluster), { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const name = e.isFile() ? /^\.(.+)\.member$/.exec(e.name)?.[1] : undefined;
        if (name && DNS_LABEL.test(name)) found.push({ namespace, cluster, name });
      }
    }
  }
  return found;
}

const YIELD_EVERY = 64;

export async function watchLocalMembers(
  options: LocalWatchOptions,
  onDown: (down: MemberDown) => void,
  signal: AbortSignal,
): Promise<void> {
  // Member key → scans in a row it looked dead, in which incarnation.
  const strikes = new Map<string, { count: number; incarnation: string | undefined }>();
  while (!signal.aborted) {
    const seen = new Set<string>();
    let looked = 0;
    for (const m of await recordedMembers(options.membersDir)) {
      if (signal.aborted) return;
      // The checks read small files at once: the worker's other work gets the event loop between batches.
      if (++looked % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
      const key = `${m.namespace}/${m.cluster}/${m.name}`;
      seen.add(key);
      // Role, ordinal and FQDN are not needed to find a local member's directory and keep-alive.
      const target = { ...m, role: '', ordinal: 0, fqdn: '' };
      const readiness: Readiness = await options.readiness(target).catch(() => ({ ready: true }));
      if (readiness.ready) {
        strikes.delete(key);
        continue;
      }
      const incarnation = await options.incarnation(target).catch(() => undefined);
      const before = strikes.get(key);
      const count = before && before.incarnation === incarnation ? before.count + 1 : 1;
      strikes.set(key, { count, incarnation });
      if (count === 2)
        onDown({
          namespace: m.namespace,
          cluster: m.cluster,
          member: m.name,
          reason: readiness.reason ?? 'its keep-alive is gone',
        });
    }
    for (const key of strikes.keys()) if (!seen.has(key)) strikes.delete(key);
    // An abort ends the wait at once (the rejection is that abort, and the loop then ends).
    await delay(options.intervalMs, undefined, { signal }).catch(() => undefined);
  }
}
