/** One-line texts for the Web UI (activity summaries, current operation): bounded whatever the cluster's size. Pure. */
import { rangesText, type OrdinalRange } from '../api/contract.ts';
import type { Step } from './model.ts';

const SUMMARY_NAMES = 4;

/** `a, b, c, d +3 more`: member lists stay one short line however big the cluster is. */
export function listed(names: string[]): string {
  const shown = names.slice(0, SUMMARY_NAMES).join(', ');
  return names.length > SUMMARY_NAMES ? `${shown} +${names.length - SUMMARY_NAMES} more` : shown;
}

/** `configure analytics-worker-2`, `addnodes on analytics-controller-0 (+worker 2-3)`, `delnodes on … (-worker 3)`. */
export function scriptSummary(step: Extract<Step, { kind: 'runEvent' }>, member: string): string {
  if (step.event === 'configure') return `configure ${member}`;
  const sign = step.event === 'delnodes' ? '-' : '+';
  const about = step.about ? ` (${sign}${aboutText(step.role, step.about)})` : '';
  return `${step.event} on ${member}${about}${step.retry ? ' (retry)' : ''}`;
}

/** `worker 3-5`: which members a notify is about, in O(1) characters for contiguous ordinals. */
export function aboutText(role: string, about: OrdinalRange[]): string {
  return `${role} ${rangesText(about)}`;
}

/** `launch a, b (create, ready, configmeta, package); configmeta to c`: the launch activity's line. */
export function launchSummary(names: string[], refresh: string[] = []): string {
  const rewrite = refresh.length > 0 ? `; configmeta to ${listed(refresh)}` : '';
  return `launch ${listed(names)} (create, ready, configmeta, package)${rewrite}`;
}

export function teardownSummary(cluster: string, members: number): string {
  return `tear down ${cluster} (${members} known member${members === 1 ? '' : 's'})`;
}
