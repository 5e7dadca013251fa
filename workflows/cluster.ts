/**
 * One cluster, one long-lived workflow. It takes changes (signals and updates), plans the lifecycle
 * with the pure planner, and runs it one operation at a time:
 *   create → every member is launched (created, ready, configmeta, package), then --configure;
 *   grow   → new members are launched and configured, then the members before them get --addnodes;
 *   shrink → survivors get --delnodes, then configmeta is rewritten, then the leavers go;
 *   delete → whatever runs is cancelled and every member is torn down.
 * Its state is O(1) per member; the script runs themselves are in Temporal's history (docs/adr/0013).
 */
import * as wf from '@temporalio/workflow';
import {
  checkSpecChange,
  clusterSearchAttributes,
  connectionsChangedSignal,
  deleteSignal,
  formatIssues,
  memberDownSignal,
  hasConnections,
  memberFqdn,
  parseClusterInput,
  planQuery,
  resizedSpec,
  resizeSignal,
  resizeUpdate,
  retrySignal,
  runActionUpdate,
  searchAttributes,
  specChangeSignal,
  specChangeUpdate,
  specQuery,
  stableJson,
  statusQuery,
  statusVersionQuery,
  topologyQuery,
  tokenWakeUpdate,
  tokensQuery,
  type Accepted,
  type ClusterInput,
  type ClusterStatus,
  type KdClusterSpec,
  type PlanAnswer,
  type Rejection,
  type ResizeRequest,
  type SpecChange,
  type UpgradeTarget,
} from '../api/contract.ts';
import {
  nextQueuedAction,
  pruneActions,
  queueAction,
  runAction,
  withMemberAction,
  type ActionState,
} from './actions.ts';
import { packMembers, unpackMembers, type PackedMembers } from './carry.ts';
import {
  applyHeals,
  forgetHeals,
  healDue,
  healPolicy,
  nextHealIn,
  noteDown,
  probeDue,
  type HealPolicy,
  type HealState,
} from './heal.ts';
import { runHook } from './hook-steps.ts';
import { hookPlanLines, hookRun, nextPostProvision, retriedHooks, teardownPlan, type HookState } from './hooks.ts';
import { shortError, type Desired, type Member, type Step } from './model.ts';
import { isLive } from './plan.ts';
import type { Rollout } from './plan-rolling.ts';
import { rollingOperations } from './rolling-ops.ts';
import { PLANNER_VERSION, freshPlannerVersion, plannerFor } from './planners.ts';
import { buildStatus, currentDetails, describeStep } from './status.ts';
import {
  DEFAULT_HEARTBEAT_TIMEOUT_SECONDS,
  failureMessage,
  probe,
  removal,
  runStep,
  target,
  topologyOf,
} from './steps.ts';
import { listed, teardownSummary } from './summaries.ts';
import { wakeIssue, woke, wokenOf, type WokenTokens } from './tokens.ts';

/** Everything the workflow knows. Plain JSON; O(1) per member. */
interface ClusterState extends HealState, ActionState, HookState {
  desired: Desired;
  members: Member[];
  observedGeneration: number;
  seq: number;
  retries: (string | null)[];
  lastRejection?: Rejection;
  lastError?: string;
  /** Bumped on every change status could show, carried across runs so a poller never sees it repeat. */
  statusVersion: number;
  plannerVersion: number;
  /** The rolling operation in flight or the last one (docs/adr/0037); absent before the first. */
  rollout?: Rollout;
  /** The spec of the last converged generation: what `kdflow cancel` of a grow returns to. */
  settledSpec?: KdClusterSpec;
  /** How the runtime keeps members, as the last launch said (bounded: one short line). */
  runtime?: string;
  /** Tokens its scripts woke (`ccli --tokenwake`, docs/adr/0047), bounded; absent in state from before them. */
  tokens?: WokenTokens;
}

/** What one run hands the next: the input carries the current app and spec, so they are not here twice. */
export interface CarriedState extends Omit<ClusterState, 'desired' | 'members'> {
  generation: number;
  members: PackedMembers;
  /** Digest of the connected objects (docs/adr/0044); absent without connections. */
  connections?: string;
}

export interface ClusterOptions {
  /** Continue-as-new after this many history events even if the server does not suggest it yet. */
  maxHistoryEvents?: number;
  /** How soon the activities of a killed worker are given to another; tests shorten it. */
  heartbeatTimeoutSeconds?: number;
  /** Self-healing's bound and backoff (docs/adr/0049); tests shorten them. */
  heal?: Partial<HealPolicy>;
  /** false: reports of dead members are ignored (a test that re-creates members with the runtime itself). */
  selfHeal?: boolean;
  /** How often a cluster with connections reads them for a change (docs/adr/0044); KubeDirector re-reads every 30 s. */
  connectionCheckSeconds?: number;
}

const DEFAULT_CONNECTION_CHECK_SECONDS = 30;
/** Heals by the restart rule (issue 17); a history from before it heals each member as `kdflow retry` does. */
const HEAL_BY_RESTART_PATCH = 'heal-by-restart-rule';

const MAX_STEPS_PER_OPERATION = 10_000;

export async function clusterWorkflow(
  rawInput: ClusterInput,
  carried?: CarriedState,
  options: ClusterOptions = {},
): Promise<ClusterStatus> {
  // Anyone with access to Temporal can start this by hand: refuse what the CLI would refuse, and run
  // on the parsed input (defaults filled in), never on the raw one.
  const parsed = parseClusterInput(rawInput);
  if (!('input' in parsed))
    throw wf.ApplicationFailure.create({
      type: 'InvalidCluster',
      message: formatIssues(parsed.issues),
      nonRetryable: true,
    });
  const input = parsed.input;
  const state: ClusterState = carried ? resume(input, carried) : fresh(input);
  // This run's planner for life; the newest takes over at continue-as-new (docs/adr/0014).
  const { nextStep, applyOutcome, plan, requestRetry, countsWithPhaseOnly } = plannerFor(state.plannerVersion);
  const heartbeatTimeoutSeconds = options.heartbeatTimeoutSeconds ?? DEFAULT_HEARTBEAT_TIMEOUT_SECONDS;
  const heals = healPolicy(options.heal);
  let deleting = false;
  let skipHooks = false;
  let deleted = false;
  let step: Step | undefined;
  let operation: wf.CancellationScope | undefined;
  // Set by `kdflow cancel` during a launch: the operation ends after its step, without converging.
  let stopAfterStep = false;
  // configmeta's cluster.id: a plain id, stable across continue-as-new, new for a re-created cluster (as a CR's UID).
  const clusterId = wf.workflowInfo().firstExecutionRunId;
  // Read the connections before the next operation: at the start, on a hint, at each interval (docs/adr/0044).
  let connectionsDue = hasConnections(state.desired.spec) && state.desired.connections === undefined;
  const changed = () => {
    state.statusVersion += 1;
  };

  const status = (request?: Parameters<typeof buildStatus>[1]): ClusterStatus =>
    buildStatus(
      {
        ...state,
        busy: operation !== undefined,
        deleting,
        deleted,
        step,
        lastRejection: state.lastRejection,
        lastError: state.lastError,
        rollout: rolling.status(),
        rollingStep: rolling.operation(),
        hooks: state.hooks,
      },
      request,
    );

  // --- what the Web UI shows: current details always, search attributes upserted only when they change ---
  const publish = () => {
    changed();
    const now = status();
    wf.setCurrentDetails(currentDetails(now));
    const current = wf.workflowInfo().typedSearchAttributes;
    const attributes = clusterSearchAttributes(input, now.phase, state.members.filter(isLive).length).filter(
      (pair) => current.get(pair.key) !== pair.value,
    );
    const phaseChanged = attributes.some((pair) => pair.key.name === searchAttributes.phase.name);
    if (attributes.length > 0 && (phaseChanged || !countsWithPhaseOnly)) wf.upsertSearchAttributes(attributes);
  };

  // --- changes: validated with the same code as the CLI, coalesced to the newest spec ---
  const reject = (reason: string): never => {
    // Workflow time: deterministic on replay.
    state.lastRejection = { reason, at: new Date().toISOString() };
    changed();
    throw wf.ApplicationFailure.create({ type: 'InvalidChange', message: reason, nonRetryable: true });
  };
  // Before any handler: a signal buffered since the start is delivered when its handler is set.
  const rolling = rollingOperations({
    state,
    appName: input.appName,
    clusterId,
    heartbeatTimeoutSeconds,
    deleting: () => deleting,
    lifecycleStep: () => (operation ? step : undefined),
    cancelOperation: () => operation?.cancel(),
    stopAfterStep: () => {
      stopAfterStep = true;
    },
    startDelete: () => {
      deleting = true;
      operation?.cancel();
    },
    reject,
    publish,
  });
  const validated = (raw: unknown): KdClusterSpec => {
    if (deleting) return reject('the cluster is being deleted');
    rolling.refuseChange();
    const checked = checkSpecChange(input.name, state.desired.spec, raw, state.desired.app);
    return 'spec' in checked ? checked.spec : reject(formatIssues(checked.issues));
  };
  const accept = (spec: KdClusterSpec, target?: UpgradeTarget): Accepted => {
    const upgradeIssue = rolling.specUpgradeIssue(spec, target);
    if (upgradeIssue) return reject(`spec.appVersion: ${upgradeIssue}`);
    // As in Kubernetes, an unchanged spec is no new generation: a re-sent or replayed change is a no-op.
    if (stableJson(spec) === stableJson(state.desired.spec)) return { generation: state.desired.generation };
    if (stableJson(spec.connections ?? null) !== stableJson(state.desired.spec.connections ?? null))
      connectionsDue = hasConnections(spec) || state.desired.connections !== undefined;
    const before = state.desired.spec;
    state.desired = { ...state.desired, spec, generation: state.desired.generation + 1 };
    rolling.specAccepted(before, target);
    changed();
    return { generation: state.desired.generation };
  };
  // Payloads are whatever a client sent: a malformed one is rejected, never thrown as a TypeError (which would wedge the workflow).
  const resized = (request: ResizeRequest | undefined): KdClusterSpec => {
    const roles: unknown = request?.roles ?? {};
    if (typeof roles !== 'object' || roles === null || Array.isArray(roles))
      return reject('roles: a resize needs { ROLE: N, … }');
    return resizedSpec(state.desired.spec, roles as Record<string, number>);
  };
  // A rejected signal is recorded in status; it must not fail the workflow.
  const quietly = (fn: () => void) => {
    try {
      fn();
    } catch (error) {
      if (!(error instanceof wf.ApplicationFailure)) throw error;
    }
  };
  // `kdflow plan` for a live cluster: this planner, this state, the proposed spec. Changes nothing.
  const planned = (change: SpecChange | undefined): PlanAnswer => {
    const checked = checkSpecChange(input.name, state.desired.spec, change?.spec, state.desired.app);
    if (!('spec' in checked)) return { issues: checked.issues };
    const target = change?.app;
    const upgradeIssue = rolling.specUpgradeIssue(checked.spec, target);
    if (upgradeIssue) return { issues: [{ path: 'spec.appVersion', message: upgradeIssue }] };
    const desired = { ...state.desired, spec: checked.spec, generation: state.desired.generation + 1 };
    // A new appVersion comes alone (api/rules.ts appVersionChangeIssues): its plan is the upgrade's.
    const upgrading = target !== undefined && checked.spec.appVersion !== state.desired.app.version;
    const steps = plan(desired, state.members);
    return {
      generation: desired.generation,
      steps: upgrading
        ? rolling.plannedUpgrade(target)
        : [
            ...steps.map(describeStep),
            ...rolling.plannedReconfigure(checked.spec),
            ...hookPlanLines(applyOutcome, desired, state.members, steps, state),
          ],
    };
  };

  wf.setHandler(resizeSignal, (request) => quietly(() => accept(validated(resized(request)))));
  wf.setHandler(specChangeSignal, (change) => quietly(() => accept(validated(change?.spec), change?.app)));
  // No update validators: a rejection is recorded in status, and only handlers (in history) may change state.
  wf.setHandler(resizeUpdate, (request) => accept(validated(resized(request))));
  wf.setHandler(specChangeUpdate, (change) => accept(validated(change?.spec), change?.app));
  wf.setHandler(retrySignal, (request) => {
    if (request?.member === undefined || typeof request.member === 'string')
      state.retries.push(request?.member ?? null);
  });
  // A worker's heal watch saw a member die: queued once, however many workers report it (docs/adr/0049).
  wf.setHandler(memberDownSignal, (report) => {
    if (deleting || options.selfHeal === false) return;
    const healing = noteDown(state, state.members, report, Date.now(), heals);
    if (!healing) return;
    state.healing = healing;
    changed();
  });
  // A custom action (docs/adr/0050): checked with the CLI's own check, queued as an operation, answered with its id.
  wf.setHandler(runActionUpdate, (request) => {
    if (deleting)
      throw wf.ApplicationFailure.create({
        type: 'InvalidAction',
        message: 'the cluster is being deleted',
        nonRetryable: true,
      });
    const queued = queueAction(state, state.desired, state.members, request, Date.now());
    if ('issues' in queued)
      throw wf.ApplicationFailure.create({
        type: 'InvalidAction',
        message: formatIssues(queued.issues),
        nonRetryable: true,
      });
    state.actions = queued.actions;
    state.actionSeq = queued.seq;
    changed();
    return { id: queued.record.id, targets: queued.record.count };
  });
  wf.setHandler(connectionsChangedSignal, () => {
    if (hasConnections(state.desired.spec)) connectionsDue = true;
  });
  wf.setHandler(topologyQuery, () => topologyOf(state.desired, clusterId, state.members));
  wf.setHandler(deleteSignal, (request) => {
    if (request?.skipHooks === true) skipHooks = true;
    deleting = true;
    operation?.cancel();
  });
  // `ccli --tokenwake` and `--tokenwait` across members (docs/adr/0047): recorded and answered, never waited on here.
  wf.setHandler(tokenWakeUpdate, (wake) => {
    const issue = wakeIssue(wake);
    if (issue) throw wf.ApplicationFailure.create({ type: 'InvalidToken', message: issue, nonRetryable: true });
    state.tokens = woke(state.tokens ?? [], wake);
    return { woken: state.tokens.length };
  });
  // Configured: by state, or by a configure of the running step that succeeded already (the step's
  // outcome is applied once every member's run is over, and a `ccli --wait` is inside one of them).
  const configuredNow = new Set<string>();
  wf.setHandler(tokensQuery, (question) => {
    const configured = new Set(
      state.members
        .filter((m) => m.state === 'configured' || configuredNow.has(m.name))
        .map((m) => memberFqdn(m.name, state.desired.name, state.desired.namespace)),
    );
    return wokenOf(state.tokens ?? [], question, (fqdn) => configured.has(fqdn));
  });
  wf.setHandler(statusQuery, (request) => status(request));
  wf.setHandler(statusVersionQuery, () => state.statusVersion);
  wf.setHandler(planQuery, planned);
  wf.setHandler(specQuery, () => ({
    appName: input.appName,
    app: state.desired.app,
    spec: state.desired.spec,
    generation: state.desired.generation,
  }));
  // A new run after continue-as-new shows where it stands at once. A fresh cluster has its attributes from
  // the start call and publishes when its first operation begins, a moment later.
  if (carried) publish();

  // --- the lifecycle: one operation at a time, each planned step by step ---
  const runOperation = async (desired: Desired) => {
    for (let count = 0; ; count++) {
      step = nextStep(desired, state.members);
      if (!step || stopAfterStep) break;
      if (count >= MAX_STEPS_PER_OPERATION) {
        state.lastError = `operation for generation ${desired.generation} did not converge`;
        break;
      }
      state.seq += 1;
      if (step.kind === 'removeMembers') state.members = markDeleting(state.members, step.members);
      publish();
      configuredNow.clear();
      const outcome = await runStep(step, {
        desired,
        members: state.members,
        seq: state.seq,
        clusterId,
        heartbeatTimeoutSeconds,
        configured: configuredNow,
      });
      configuredNow.clear();
      state.members = applyOutcome(desired, state.members, step, outcome);
      if (outcome.runtime) state.runtime = outcome.runtime.slice(0, 300);
    }
    step = undefined;
  };

  // postProvision: once, after the whole cluster is first configured (docs/adr/0053).
  const runPostProvision = async () => {
    const due = nextPostProvision(state.desired, state.members, state);
    if (!due) return;
    state.seq += 1;
    publish();
    const run = await runHook(due, {
      desired: state.desired,
      members: state.members,
      seq: state.seq,
      heartbeatTimeoutSeconds,
    });
    state.hooks = { ...state.hooks, postProvision: run };
    // A failure leaves the cluster configured, with the error in sight until `kdflow retry` runs it again.
    if (run.error) state.lastError = run.error;
    else if (state.lastError?.startsWith('postProvision ')) state.lastError = undefined;
    publish();
  };

  // Custom actions run once the lifecycle has nothing left to do, one at a time (docs/adr/0050).
  const runActions = async () => {
    for (let record = nextQueuedAction(state); record; record = nextQueuedAction(state)) {
      if (nextStep(state.desired, state.members) !== undefined) return;
      const current = record;
      current.state = 'running';
      state.seq += 1;
      publish();
      try {
        await runAction(current, {
          desired: state.desired,
          members: state.members,
          seq: state.seq,
          heartbeatTimeoutSeconds,
          onResult: (row) => {
            state.memberActions = withMemberAction(state.memberActions ?? [], row, state.members);
            publish();
          },
        });
        current.state = current.failed > 0 ? 'failed' : 'succeeded';
      } catch (error) {
        if (wf.isCancellation(error)) current.state = 'cancelled';
        throw error;
      } finally {
        current.finishedAt = Date.now();
        state.actions = pruneActions(state.actions ?? []);
        publish();
      }
    }
  };

  const probeForRetry = async (members: Member[]): Promise<Set<string>> => {
    if (members.length === 0) return new Set();
    try {
      const { dead } = await probe(heartbeatTimeoutSeconds).probeMembers.executeWithOptions(
        { summary: `check ${listed(members.map((m) => m.name))} for retry` },
        [{ members: members.map((m) => target(state.desired, m)) }],
      );
      return new Set(Object.keys(dead));
    } catch (error) {
      if (wf.isCancellation(error)) throw error;
      // A retry still retries failed members and notifies when the runtime cannot be asked.
      state.lastError = `could not check members for retry: ${failureMessage(error)}`;
      return new Set();
    }
  };

  const hasWork = () =>
    state.desired.generation > state.observedGeneration ||
    state.retries.length > 0 ||
    healDue(state, Date.now()) ||
    nextQueuedAction(state) !== undefined ||
    nextStep(state.desired, state.members) !== undefined ||
    nextPostProvision(state.desired, state.members, state) !== undefined;
  const historyTooLong = () =>
    wf.workflowInfo().continueAsNewSuggested ||
    (options.maxHistoryEvents !== undefined && wf.workflowInfo().historyLength > options.maxHistoryEvents);

  // Reads the connected objects; a new digest is what makes the planner send --reconnect (workflows/reconnect.ts).
  const checkConnections = async () => {
    connectionsDue = false;
    const spec = state.desired.spec;
    if (!hasConnections(spec)) {
      if (state.desired.connections !== undefined) state.desired = withoutConnectionsDigest(state.desired);
      return;
    }
    try {
      const { digest } = await probe(heartbeatTimeoutSeconds).readConnections.executeWithOptions(
        { summary: 'read connected clusters, configmaps and secrets' },
        [{ namespace: input.namespace, cluster: input.name, connections: spec.connections ?? {} }],
      );
      if (digest !== state.desired.connections) {
        state.desired = { ...state.desired, connections: digest };
        changed();
      }
    } catch (error) {
      if (wf.isCancellation(error)) throw error;
      state.lastError = `could not read the cluster's connections: ${failureMessage(error)}`;
      changed();
    }
  };
  const connectionCheckMs = (options.connectionCheckSeconds ?? DEFAULT_CONNECTION_CHECK_SECONDS) * 1000;

  while (!deleting) {
    const awake = () => deleting || connectionsDue || hasWork() || rolling.runnable() || historyTooLong();
    // Only a cluster with connections, or with a heal in backoff, waits on a timer: every other
    // history keeps its commands (docs/adr/0014). With both, the nearer one.
    const healIn = nextHealIn(state, Date.now());
    const connected = hasConnections(state.desired.spec);
    const timers = [healIn, connected ? connectionCheckMs : undefined].filter((ms) => ms !== undefined);
    if (timers.length === 0) await wf.condition(awake);
    else {
      const waitMs = Math.min(...timers);
      const sleptFrom = Date.now();
      if (!(await wf.condition(awake, waitMs)) && connected && Date.now() - sleptFrom >= connectionCheckMs)
        connectionsDue = true;
    }
    if (deleting) break;
    if (connectionsDue) await checkConnections();
    if (deleting) break;
    if (!hasWork() && rolling.runnable()) {
      // A rolling operation runs when the lifecycle has nothing to do; a cancel turns it, never ends it.
      operation = new wf.CancellationScope();
      publish();
      try {
        await operation.run(() => rolling.run());
      } catch (error) {
        if (!wf.isCancellation(error)) throw error;
      } finally {
        operation = undefined;
        publish();
      }
      continue;
    }
    if (!hasWork() && !historyTooLong()) continue;
    if (!hasWork()) {
      if (!historyTooLong()) continue;
      // Idle and the history is long: start a fresh run with the same state.
      await wf.condition(wf.allHandlersFinished);
      const next: ClusterInput = { ...input, app: state.desired.app, spec: state.desired.spec };
      return wf.continueAsNew<typeof clusterWorkflow>(next, carry(state), options);
    }
    // `kdflow retry`: members the runtime finds dead (container gone, directory removed) are
    // re-created under their own names, besides the failed members and notifies.
    const retries = state.retries.splice(0);
    if (retries.length > 0) {
      const asked = retries.includes(null)
        ? state.members.filter(isLive)
        : state.members.filter((m) => isLive(m) && retries.includes(m.name));
      const dead = await probeForRetry(asked);
      for (const member of retries) state.members = requestRetry(state.members, member ?? undefined, dead);
      state.heals = forgetHeals(state, retries);
      state.hooks = retriedHooks(state, retries);
    }
    // Self-healing: the due reports are checked with the runtime, and the members found dead re-created.
    const now = Date.now();
    const due = (state.healing ?? []).filter((p) => p.notBefore <= now);
    if (due.length > 0) {
      // Kept pending while checked, so another worker's report of the same death is dropped meanwhile.
      const probed = await probeDue(state.desired, state.members, due, heartbeatTimeoutSeconds);
      state.healing = (state.healing ?? []).filter((p) => !due.includes(p));
      if ('error' in probed)
        state.lastHeal = shortError(`could not check ${listed(due.map((p) => p.member))}: ${probed.error}`);
      else {
        // KubeDirector's restart rule for a member that is configured and missed nothing; the retry
        // path (configure again, with a fresh configmeta) for the rest and in histories from before it.
        const byRestart: string[] = [];
        const restartable = (name: string) =>
          state.members.some(
            (m) =>
              m.name === name && m.state === 'configured' && m.failedNotifies.length + m.retryNotifies.length === 0,
          );
        const relaunch = (members: Member[], only: string, dead: ReadonlySet<string>) => {
          if (restartable(only) && wf.patched(HEAL_BY_RESTART_PATCH)) {
            byRestart.push(only);
            return members;
          }
          return requestRetry(members, only, dead);
        };
        const healed = applyHeals(state.members, state.heals ?? [], due, probed.dead, Date.now(), heals, relaunch);
        state.members = healed.members;
        const taken = rolling.healByRestart(byRestart);
        for (const name of byRestart)
          if (!taken.includes(name)) state.members = requestRetry(state.members, name, new Set([name]));
        state.heals = healed.heals;
        if (healed.lastHeal) state.lastHeal = healed.lastHeal;
      }
    }
    const desired = state.desired;
    operation = new wf.CancellationScope();
    publish();
    try {
      await operation.run(async () => {
        await runOperation(desired);
        await runPostProvision();
        await runActions();
      });
      if (!stopAfterStep) {
        state.observedGeneration = desired.generation;
        state.settledSpec = desired.spec;
      }
    } catch (error) {
      if (!wf.isCancellation(error)) throw error;
    } finally {
      operation = undefined;
      step = undefined;
      stopAfterStep = false;
      publish();
    }
  }

  // --- delete: nothing may interrupt teardown; preTerminate first, bounded, then each terminate stage ---
  await wf.CancellationScope.nonCancellable(async () => {
    const plan = teardownPlan(state.desired, state.members, skipHooks);
    state.members = markDeleting(
      state.members,
      state.members.map((m) => m.name),
    );
    publish();
    const byName = new Map(state.members.map((m) => [m.name, m]));
    const targets = (names: string[]) =>
      names.flatMap((n) => (byName.has(n) ? [target(state.desired, byName.get(n) as Member)] : []));
    for (const part of plan) {
      if (part.kind === 'skipHook') {
        const now = Date.now();
        state.hooks = {
          ...state.hooks,
          preTerminate: hookRun(
            undefined,
            { exitCode: null, attempts: 0, startedAt: now, finishedAt: now },
            part.reason,
            true,
          ),
        };
      } else if (part.kind === 'hook') {
        state.seq += 1;
        // The run's member is still there: it is marked deleting, not removed, until its stage goes.
        const run = await runHook(part.step, {
          desired: state.desired,
          members: state.members,
          seq: state.seq,
          heartbeatTimeoutSeconds,
        });
        state.hooks = { ...state.hooks, preTerminate: run };
        // The teardown goes on whatever the hook did; its failure stays in the final status.
        if (run.error) state.lastError = run.error;
      } else if (part.kind === 'remove') {
        await removal(heartbeatTimeoutSeconds).removeMembers.executeWithOptions(
          { summary: `remove ${listed(part.members)} (terminate order)` },
          [{ members: targets(part.members) }],
        );
        state.members = state.members.filter((m) => !part.members.includes(m.name));
      } else {
        await removal(heartbeatTimeoutSeconds).teardownCluster.executeWithOptions(
          { summary: teardownSummary(input.name, part.members.length) },
          [{ namespace: input.namespace, cluster: input.name, members: targets(part.members) }],
        );
      }
      if (part.kind !== 'teardown') publish();
    }
  });
  state.members = [];
  deleted = true;
  publish();
  await wf.condition(wf.allHandlersFinished);
  return status();
}

function fresh(input: ClusterInput): ClusterState {
  return {
    desired: { namespace: input.namespace, name: input.name, app: input.app, spec: input.spec, generation: 1 },
    members: [],
    observedGeneration: 0,
    seq: 0,
    retries: [],
    statusVersion: 0,
    // A history that began before v3 has no marker: it replays on the planner it ran with (docs/adr/0014).
    plannerVersion: freshPlannerVersion(wf.patched),
  };
}

function carry(state: ClusterState): CarriedState {
  const { desired, members, ...rest } = state;
  // A new run takes the newest planner (docs/adr/0014).
  return {
    ...rest,
    plannerVersion: PLANNER_VERSION,
    generation: desired.generation,
    members: packMembers(members),
    ...(desired.connections !== undefined ? { connections: desired.connections } : {}),
  };
}

function resume(input: ClusterInput, carried: CarriedState): ClusterState {
  const { generation, members, connections, ...rest } = carried;
  return {
    ...rest,
    desired: {
      namespace: input.namespace,
      name: input.name,
      app: input.app,
      spec: input.spec,
      generation,
      ...(connections !== undefined ? { connections } : {}),
    },
    members: unpackMembers(input.name, members),
  };
}

function withoutConnectionsDigest(desired: Desired): Desired {
  const { connections: _digest, ...rest } = desired;
  return rest;
}

function markDeleting(members: Member[], names: string[]): Member[] {
  const leaving = new Set(names);
  return members.map((m) => (leaving.has(m.name) ? { ...m, state: 'deleting' } : m));
}
