/**
 * Rolling operations (docs/adr/0037): what a client asks for (upgrade, a decision on a paused
 * upgrade, restart, cancel) and what status says about the one in flight. Zod-free and free of
 * state: the workflow sandbox imports it through contract.ts.
 */
import type { KdAppSpec } from './app.ts';
import { scriptArgv, type NotifyAbout } from './ranges.ts';

export const ROLLOUT_KINDS = ['upgrade', 'reconfigure', 'restart'] as const;
export type RolloutKind = (typeof ROLLOUT_KINDS)[number];

/** What an upgrade does when a member fails: roll every touched member back (the default), or stop and wait. */
export const ON_FAILURE = ['rollback', 'pause'] as const;
export type OnFailure = (typeof ON_FAILURE)[number];

/**
 * Where a rolling operation stands. `rolling`/`rolling back` move members; `paused` waits for
 * `kdflow upgrade NAME --resume|--rollback`; the rest are ends: `done`, `rolled back` (every
 * touched member back on the old version or settings), `rollback failed` (some member could not be
 * put back: it is in config error), `failed` (a restart, which has nothing to roll back).
 */
export const ROLLOUT_PHASES = [
  'rolling',
  'paused',
  'rolling back',
  'done',
  'rolled back',
  'rollback failed',
  'failed',
] as const;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];

export const MAX_UNAVAILABLE = { min: 1, max: 100 } as const;

/** An app version as the CLI resolved it from the catalog: the workflow takes the snapshot as is. */
export interface UpgradeTarget {
  /** The app's name (the cluster's `spec.app`); an upgrade never changes it. */
  name: string;
  /** `app.version`, said twice so a request is checked against its own snapshot. */
  version: string;
  app: KdAppSpec;
}

export interface UpgradeRequest {
  to: UpgradeTarget;
  /** Members replaced at once (default 1). */
  maxUnavailable?: number;
  onFailure?: OnFailure;
}

/** For a paused upgrade (or reconfigure): go on from the failed member, or roll back. */
export interface RolloutDecision {
  action: 'resume' | 'rollback';
}

export interface RestartRequest {
  /** Only this role's members. */
  role?: string;
  /** Only these members (names). Absent with `role` absent: every member. */
  members?: string[];
}

/** What a cancel did, in one sentence for the CLI. */
export interface CancelAnswer {
  outcome: 'rolling back' | 'shrinking back' | 'deleting' | 'completing' | 'nothing to cancel';
  message: string;
}

/** The rolling operation in flight (or the last one), as status shows it: O(1) whatever the cluster's size. */
export interface RolloutStatus {
  kind: RolloutKind;
  /** Upgrade: the versions; reconfigure and restart: the app's version on both sides. */
  from: string;
  to: string;
  phase: RolloutPhase;
  /** Members moved forward, of `total`. */
  done: number;
  total: number;
  /** Rolling back: members put back, of `toRollBack`. */
  rolledBack: number;
  toRollBack: number;
  /** Members being worked on now (at most maxUnavailable). */
  current: string[];
  failed?: { member: string; error: string };
  maxUnavailable: number;
  onFailure: OnFailure;
  /** An upgrade: the roles in the order it takes them (the app's `upgrade.roleOrder`, then the rest). */
  roleOrder?: string[];
  cancelled?: boolean;
}

/** `3/5 members` (forward) or `rolling back 2/3`: the progress line of get, wait and the Web UI. */
export function rolloutProgress(r: RolloutStatus): string {
  const verb = r.kind === 'upgrade' ? `upgrade ${r.from} → ${r.to}` : r.kind;
  const moving = r.current.length > 0 ? `, now ${r.current.join(', ')}` : '';
  const failed = r.failed ? `, failed on ${r.failed.member}: ${r.failed.error}` : '';
  const back =
    r.phase === 'rolling back' || r.phase === 'rolled back' || r.phase === 'rollback failed'
      ? `, rolled back ${r.rolledBack}/${r.toRollBack}`
      : '';
  return `${verb}: ${r.phase}, ${r.done}/${r.total} members${back}${moving}${failed}`;
}

/** How the rollout moves: `1 at a time, on failure rollback, roles worker → controller`; what `get` and `plan` show. */
export function rolloutPolicy(r: Pick<RolloutStatus, 'maxUnavailable' | 'onFailure' | 'roleOrder'>): string {
  const roles = r.roleOrder && r.roleOrder.length > 0 ? `, roles ${r.roleOrder.join(' → ')}` : '';
  return `${r.maxUnavailable} at a time, on failure ${r.onFailure}${roles}`;
}

/** Progress and policy in one line: what `get NAME`, `kdflow upgrade` and the KdCluster's status.rollout say. */
export const rolloutLine = (r: RolloutStatus): string => `${rolloutProgress(r)} (${rolloutPolicy(r)})`;

/**
 * The startscript's argv for a rolling event (formatted at the activity boundary, as scriptArgv is):
 * `--upgrade --from OLD --to NEW`, `--rollback --from NEW --to OLD`, `--reconfigure`, `--restart`.
 */
export function rollingArgv(event: string, versions: { from: string; to: string } | undefined): string[] {
  return versions ? [`--${event}`, '--from', versions.from, '--to', versions.to] : [`--${event}`];
}

/** Any script run's argv, from what its activity input carries: the one place both the activity and `kdflow history` format it. */
export function startscriptArgv(
  script: { event: string; about?: NotifyAbout; versions?: { from: string; to: string } },
  cluster: string,
  namespace: string,
): string[] {
  return script.versions
    ? rollingArgv(script.event, script.versions)
    : scriptArgv(script.event, script.about, cluster, namespace);
}

/** Why an upgrade request is refused, or undefined: checked in the CLI and again in the workflow. */
export function upgradeRequestIssue(
  request: UpgradeRequest | undefined,
  appName: string,
  current: KdAppSpec,
): string | undefined {
  const to = request?.to;
  if (!to || typeof to !== 'object' || !to.app || typeof to.app !== 'object')
    return 'to: an upgrade needs the app snapshot it goes to';
  if (to.name !== appName) return `to.name: the cluster runs app "${appName}", got "${String(to.name)}"`;
  if (to.version !== to.app.version)
    return `to.version: "${String(to.version)}" is not the snapshot's version "${String(to.app.version)}"`;
  if (to.version === current.version) return `to.version: the cluster already runs version ${current.version}`;
  const currentRoles = current.roles.map((r) => r.id).join(',');
  const nextRoles = (Array.isArray(to.app.roles) ? to.app.roles : []).map((r) => r.id).join(',');
  if (currentRoles !== nextRoles)
    return `to.app.roles: an upgrade keeps the app's roles (${currentRoles}), got ${nextRoles || 'none'}`;
  const max = request.maxUnavailable;
  if (max !== undefined && (!Number.isInteger(max) || max < MAX_UNAVAILABLE.min || max > MAX_UNAVAILABLE.max))
    return `maxUnavailable: must be a whole number from ${MAX_UNAVAILABLE.min} to ${MAX_UNAVAILABLE.max}, got ${String(max)}`;
  if (request.onFailure !== undefined && !ON_FAILURE.includes(request.onFailure))
    return `onFailure: expected one of ${ON_FAILURE.join(', ')}, got "${String(request.onFailure)}"`;
  return undefined;
}
