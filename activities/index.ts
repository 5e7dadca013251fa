/**
 * Thin activities: look up the runtime, heartbeat while waiting, and turn failures into typed
 * ApplicationFailures. Each is idempotent, so Temporal may retry any of them.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ApplicationFailureCategory } from '@temporalio/common';
import path from 'node:path';
import { buildConfigmeta, type Topology } from '../api/index.ts';
import type { Logger } from 'pino';
import { redact, secretValues } from '../lib/secrets.ts';
import { preparePackage } from '../runtimes/config-package.ts';
import { RuntimeError } from '../runtimes/errors.ts';
import { CONFIGMETA_PATH, type MemberSpec, type MemberTarget, type Runtime, type ScriptRequest } from '../runtimes/runtime.ts';

/** Per-member failures of a batch activity; members not named succeeded. */
export interface BatchResult {
  failed: Record<string, string>;
}

export interface ScriptOutcome {
  exitCode: number | null;
  timedOut: boolean;
  attempts: number;
  startedAt: string;
  finishedAt: string;
  stdoutTail: string;
  stderrTail: string;
  recorded: boolean;
}

export interface ActivityDeps {
  runtime: Runtime;
  home: string;
  logger: Logger;
  /** How long awaitReady waits before it calls a member not ready. */
  readyTimeoutSeconds?: number;
  /** How many members one batch activity touches at once. */
  batchParallelism?: number;
}

export function createActivities(deps: ActivityDeps) {
  const { runtime } = deps;
  const parallel = deps.batchParallelism ?? 16;
  const log = (fields: Record<string, unknown>, message: string) => {
    const info = Context.current().info;
    deps.logger.info({ workflowId: info.workflowExecution?.workflowId, runId: info.workflowExecution?.runId, activity: info.activityType, attempt: info.attempt, ...fields }, message);
  };

  // Removal must finish, so a failure is retried by Temporal rather than recorded on the member.
  const removeAll = async (members: MemberTarget[]) => {
    const failures = Object.entries((await eachMember(members, parallel, (m) => runtime.removeMember(m))).failed);
    if (failures.length > 0) throw ApplicationFailure.create({ type: 'RuntimeFailure', message: failures.map(([n, e]) => `${n}: ${e}`).join('; ') });
  };

  return {
    async ensureMembers({ members }: { members: MemberSpec[] }): Promise<BatchResult> {
      const result = await eachMember(members, parallel, (m) => runtime.ensureMember(m));
      log({ members: members.length, failed: Object.keys(result.failed).length }, 'members ensured');
      return result;
    },

    async awaitReady({ members }: { members: MemberTarget[] }): Promise<BatchResult> {
      const ctx = Context.current();
      const wait = { deadline: Date.now() + (deps.readyTimeoutSeconds ?? 300) * 1000, signal: ctx.cancellationSignal, heartbeat: (d?: unknown) => ctx.heartbeat(d) };
      let readiness: Awaited<ReturnType<Runtime['awaitReady']>>;
      try {
        readiness = await runtime.awaitReady(members, wait);
      } catch (error) {
        throw toFailure(error);
      }
      const failed = Object.fromEntries(members.flatMap((m) => (readiness[m.name]?.ready ? [] : [[m.name, `not ready: ${readiness[m.name]?.reason ?? 'timed out waiting'}`]])));
      log({ members: members.length, failed: Object.keys(failed).length }, 'members ready');
      return { failed };
    },

    async writeConfigmeta({ topology, members }: { topology: Topology; members: MemberTarget[] }): Promise<BatchResult> {
      const result = await eachMember(members, parallel, (m) =>
        runtime.writeFiles(m, [{ path: CONFIGMETA_PATH, content: `${JSON.stringify(buildConfigmeta(topology, m.name), null, 2)}\n`, mode: 0o600 }]),
      );
      log({ members: members.length, failed: Object.keys(result.failed).length }, 'configmeta written');
      return result;
    },

    async installPackage({ packageURL, members }: { packageURL: string; members: MemberTarget[] }): Promise<BatchResult> {
      let tgzPath: string;
      try {
        tgzPath = (await preparePackage(packageURL, path.join(deps.home, 'packages'))).tgzPath;
      } catch (error) {
        throw toFailure(error);
      }
      const result = await eachMember(members, parallel, (m) => runtime.installPackage(m, tgzPath));
      log({ packageURL, members: members.length, failed: Object.keys(result.failed).length }, 'package installed');
      return result;
    },

    async runScript({ member, request }: { member: MemberTarget; request: ScriptRequest }): Promise<ScriptOutcome> {
      const ctx = Context.current();
      const startedAt = new Date().toISOString();
      let result;
      try {
        result = await runtime.runScript(member, request, { signal: ctx.cancellationSignal, heartbeat: (d) => ctx.heartbeat(d) });
      } catch (error) {
        // Cut short by a cancel or by this worker stopping (Ctrl-C): expected, so not logged as a warning.
        const failure = toFailure(error);
        throw ctx.cancellationSignal.aborted ? benign(failure) : failure;
      }
      // The tails go to status, history and the Web UI: secret env values a script echoed are taken out.
      const secrets = secretValues(request.env);
      const tails = { stdoutTail: redact(result.stdoutTail, secrets), stderrTail: redact(result.stderrTail, secrets) };
      const outcome: ScriptOutcome = { ...result, ...tails, attempts: ctx.info.attempt, startedAt, finishedAt: new Date().toISOString() };
      log({ member: member.name, event: request.event, exitCode: result.exitCode, timedOut: result.timedOut, recorded: result.recorded }, 'script finished');
      if (result.exitCode === 0) return outcome;
      const why = result.timedOut ? `timed out after ${request.timeoutSeconds}s` : `exited with ${result.exitCode ?? 'a signal'}`;
      // Retryable: Temporal's retry policy bounds the attempts; the details carry the output tails.
      throw ApplicationFailure.create({ type: result.timedOut ? 'ScriptTimeout' : 'ScriptFailed', message: `${request.event} on ${member.name} ${why}`, details: [outcome] });
    },

    async removeMembers({ members }: { members: MemberTarget[] }): Promise<void> {
      await removeAll(members);
      log({ members: members.map((m) => m.name) }, 'members removed');
    },

    /** Every member the runtime still has for the cluster goes, known to the workflow or not. */
    async teardownCluster({ namespace, cluster, members }: { namespace: string; cluster: string; members: MemberTarget[] }): Promise<number> {
      const known = new Set(members.map((m) => m.name));
      const leftovers = (await runtime.listMembers(namespace, cluster)).filter((name) => !known.has(name));
      const all = [...members, ...leftovers.map((name) => ({ namespace, cluster, name, role: '', ordinal: -1, fqdn: '' }))];
      await removeAll(all);
      try {
        await runtime.removeCluster(namespace, cluster);
      } catch (error) {
        throw toFailure(error);
      }
      log({ removed: all.length }, 'cluster torn down');
      return all.length;
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

async function eachMember<M extends { name: string }>(members: M[], parallel: number, work: (m: M) => Promise<void>): Promise<BatchResult> {
  const failed: Record<string, string> = {};
  const queue = [...members];
  const lanes = Array.from({ length: Math.min(parallel, queue.length) }, async () => {
    for (let m = queue.shift(); m; m = queue.shift()) {
      try {
        await work(m);
      } catch (error) {
        // A permanent failure is this member's; anything else retries the whole (idempotent) batch.
        if (error instanceof RuntimeError && error.permanent) failed[m.name] = error.message;
        else throw toFailure(error);
      }
    }
  });
  await Promise.all(lanes);
  return { failed };
}

/** The same failure (type, retries), in the category the SDK logs at debug. */
function benign(failure: ApplicationFailure): ApplicationFailure {
  return ApplicationFailure.create({ type: failure.type ?? undefined, message: failure.message, nonRetryable: failure.nonRetryable ?? false, category: ApplicationFailureCategory.BENIGN });
}

function toFailure(error: unknown): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  if (error instanceof RuntimeError) return ApplicationFailure.create({ type: error.type, message: error.message, nonRetryable: error.permanent });
  const message = error instanceof Error ? error.message : String(error);
  return ApplicationFailure.create({ type: 'RuntimeFailure', message });
}
