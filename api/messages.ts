import type { QueryDefinition, SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { KdAppSpec } from './app.ts';
import type {
  AppVersionAnswer,
  AppVersionRequest,
  CatalogListing,
  DeleteAppVersionRequest,
  DeleteAppVersionResult,
  PutAppRequest,
  PutAppResult,
} from './catalog.ts';
import type { KdClusterSpec } from './cluster.ts';
import type { ClusterStatus, StatusRequest } from './status.ts';
import type { Topology } from './configmeta.ts';
import type { FieldIssue } from './rules.ts';
import type { ActionStarted, RunActionRequest } from './actions.ts';
import type {
  CancelAnswer,
  RestartRequest,
  RolloutDecision,
  RolloutStatus,
  UpgradeRequest,
  UpgradeTarget,
} from './rolling.ts';

/*
 * The SDK's defineSignal/defineUpdate/defineQuery return exactly { type, name }; made here with the
 * SDK's types, so that importing the messages loads none of @temporalio/workflow (and @temporalio/common
 * with it): the CLI reads a cluster without them (docs/adr/0036).
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the SDK's own constraint on argument lists */
const defineSignal = <Args extends any[] = []>(name: string) => ({ type: 'signal', name }) as SignalDefinition<Args>;
const defineUpdate = <Ret, Args extends any[] = []>(name: string) =>
  ({ type: 'update', name }) as UpdateDefinition<Ret, Args>;
const defineQuery = <Ret, Args extends any[] = []>(name: string) =>
  ({ type: 'query', name }) as QueryDefinition<Ret, Args>;
/* eslint-enable @typescript-eslint/no-explicit-any */

/** What starts a cluster workflow: where it lives, the app snapshot it keeps, and the first spec. */
export interface ClusterInput {
  namespace: string;
  name: string;
  appName: string;
  app: KdAppSpec;
  spec: KdClusterSpec;
}

export interface ResizeRequest {
  /** Role id to the new member count. */
  roles: Record<string, number>;
}

export interface SpecChange {
  spec: KdClusterSpec;
  /**
   * The catalog's snapshot of `spec.appVersion`, when it is not the version the cluster runs: the
   * workflow never reads the catalog, so a client that sends a new appVersion sends its app with it
   * and the change starts a rolling upgrade (docs/adr/0037).
   */
  app?: UpgradeTarget;
}

export interface RetryRequest {
  /** One member, or every member with a failed event when absent. */
  member?: string;
}

/**
 * A worker's heal watch saw a member's container die (docs/adr/0049): its keep-alive gone or its
 * directory removed on the local runtime, its pod deleted, evicted or failed on Kubernetes. The
 * workflow checks it again before it heals, so a stale or doubled report costs nothing but a look.
 */
export interface MemberDownReport {
  member: string;
  /** What the watch saw, one short line: `keep-alive process is not running`, `pod deleted`. */
  reason: string;
  /** The reporting worker's identity, for the history reader. */
  observer?: string;
}

/** `kdflow delete NAME [--skip-hooks]`: absent (as the shim and older clients send it) runs the preTerminate hook. */
export interface DeleteRequest {
  skipHooks?: boolean;
}

export interface Accepted {
  generation: number;
}

// Signals are fire-and-forget (the shim uses them); updates answer with the generation or a rejection (the CLI uses them).
export const resizeSignal = defineSignal<[ResizeRequest]>('resize');
export const specChangeSignal = defineSignal<[SpecChange]>('specChange');
export const deleteSignal = defineSignal<[DeleteRequest?]>('delete');
export const retrySignal = defineSignal<[RetryRequest]>('retry');
/** From the workers' heal watches, never from users: the workflow de-duplicates and checks it. */
export const memberDownSignal = defineSignal<[MemberDownReport]>('memberDown');
/** A connected ConfigMap or Secret may have changed: check the connections now, not at the next interval (docs/adr/0044). */
export const connectionsChangedSignal = defineSignal<[]>('connectionsChanged');

export const resizeUpdate = defineUpdate<Accepted, [ResizeRequest]>('resizeCluster');
export const specChangeUpdate = defineUpdate<Accepted, [SpecChange]>('changeSpec');
/** A custom action (docs/adr/0050): checked, queued as one operation, answered with its id; refused before anything runs. */
export const runActionUpdate = defineUpdate<ActionStarted, [RunActionRequest]>('runAction');

// Rolling operations (docs/adr/0037): each answers with the operation as status will show it, or a rejection.
export const upgradeUpdate = defineUpdate<RolloutStatus, [UpgradeRequest]>('upgrade');
/** A paused upgrade or reconfigure: `--resume` or `--rollback`. */
export const rolloutDecisionUpdate = defineUpdate<RolloutStatus, [RolloutDecision]>('decideRollout');
export const restartUpdate = defineUpdate<RolloutStatus, [RestartRequest]>('restart');
/** Stops the operation in flight and returns to the last converged spec where that can be undone. */
export const cancelUpdate = defineUpdate<CancelAnswer, []>('cancel');

/** The app snapshot and spec the cluster runs, so a client validates a change with the same rules. */
export interface ClusterSpecView {
  appName: string;
  app: KdAppSpec;
  spec: KdClusterSpec;
  generation: number;
}

/** What `kdflow plan` prints for a running cluster: the steps its own planner would take, or why the spec is refused. */
export type PlanAnswer = { generation: number; steps: string[] } | { issues: FieldIssue[] };

export const statusQuery = defineQuery<ClusterStatus, [StatusRequest?]>('status');
export const specQuery = defineQuery<ClusterSpecView>('spec');
/** Runs the workflow's planner over its own member state with a proposed spec; changes nothing. */
export const planQuery = defineQuery<PlanAnswer, [SpecChange]>('plan');
/** A number that changes whenever the status would: a poller (the shim) asks this first and reads status only on change. */
export const statusVersionQuery = defineQuery<number>('statusVersion');

// --- the shared app catalog: one workflow per namespace (api/catalog.ts, docs/adr/0039) ---
export const putAppUpdate = defineUpdate<PutAppResult, [PutAppRequest]>('putAppVersion');
export const deleteAppVersionUpdate = defineUpdate<DeleteAppVersionResult, [DeleteAppVersionRequest]>(
  'deleteAppVersion',
);
export const catalogListQuery = defineQuery<CatalogListing[]>('listApps');
export const appVersionQuery = defineQuery<AppVersionAnswer, [AppVersionRequest]>('appVersion');
/** Who is in the cluster now, as its members' configmeta describes it: what a cluster that connects to it shows (docs/adr/0044). */
export const topologyQuery = defineQuery<Topology>('topology');
/**
 * `ccli --tokenwake` and `--tokenwait` across members (docs/adr/0047). A token is woken by one
 * member, named by its FQDN, for the whole cluster, and stays woken for the cluster's life; a wait
 * names the member (`fqdn/token`) or any member (`* /token`, without the space).
 */
export type TokenStatus = 'success' | 'error';

export interface TokenWake {
  /** The waking member's FQDN. */
  fqdn: string;
  token: string;
  status: TokenStatus;
}

export interface TokenQuestion {
  /** `FQDN/TOKEN`, or `*` for the FQDN: woken by any member. */
  keys: string[];
}

/** Tokens are 1 to 64 of these; FQDNs are DNS names. */
export const TOKEN_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** The cluster keeps at most this many woken tokens (each key counted once), the oldest forgotten first. */
export const MAX_TOKENS = 256;

/** Answered once the workflow has recorded the wake (an update is in history before it answers). */
export const tokenWakeUpdate = defineUpdate<{ woken: number }, [TokenWake]>('wakeToken');
/** Which of the keys are woken, and how: a key not woken is left out. */
export const tokensQuery = defineQuery<Record<string, TokenStatus>, [TokenQuestion]>('tokens');
