/**
 * Ordinal ranges: how a step, an activity input or a notify names "members 3 to 7 of role worker" in
 * O(1) bytes for the usual contiguous case, instead of a list of names or FQDNs that grows with N.
 */
import { memberFqdn, memberName } from './names.ts';

/** Inclusive [first, last] ordinals of one role. */
export type OrdinalRange = [number, number];

/** Sorted, de-duplicated ordinals as the fewest ranges. */
export function toRanges(ordinals: Iterable<number>): OrdinalRange[] {
  return toRuns([...new Set(ordinals)].sort((a, b) => a - b));
}

/** Values in their given order as the fewest runs ([5,6,7,9] → [[5,7],[9,9]]): node ids beside their ordinals. */
export function toRuns(values: readonly number[]): OrdinalRange[] {
  const runs: OrdinalRange[] = [];
  for (const value of values) {
    const last = runs.at(-1);
    if (last && last[1] + 1 === value) last[1] = value;
    else runs.push([value, value]);
  }
  return runs;
}

export function fromRanges(ranges: readonly OrdinalRange[]): number[] {
  return ranges.flatMap(([first, last]) => Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => first + i));
}

export function rangeCount(ranges: readonly OrdinalRange[]): number {
  return ranges.reduce((sum, [first, last]) => sum + Math.max(0, last - first + 1), 0);
}

/** `3-5,7`: for summaries and status, never for argv. */
export function rangesText(ranges: readonly OrdinalRange[]): string {
  return ranges.map(([first, last]) => (first === last ? String(first) : `${first}-${last}`)).join(',');
}

/** Two range lists as one (a member that missed two notifies about one role hears them as one). */
export function mergeRanges(a: readonly OrdinalRange[], b: readonly OrdinalRange[]): OrdinalRange[] {
  return toRanges([...fromRanges(a), ...fromRanges(b)]);
}

/** What a notify is about: members of one role, by ordinal. */
export interface NotifyAbout {
  role: string;
  ordinals: OrdinalRange[];
}

/**
 * The startscript's argv, in KubeDirector's words. Formatted here, once, at the activity boundary:
 * steps, state and activity inputs carry the structured form, so their size does not grow with N.
 */
export function scriptArgv(
  event: string,
  about: NotifyAbout | undefined,
  cluster: string,
  namespace: string,
): string[] {
  if (!about) return [`--${event}`];
  const fqdns = fromRanges(about.ordinals).map((ordinal) =>
    memberFqdn(memberName(cluster, about.role, ordinal), cluster, namespace),
  );
  return [`--${event}`, '--nodegroup', '1', '--role', about.role, '--fqdns', fqdns.join(',')];
}
