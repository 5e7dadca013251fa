/**
 * Thin activities: look up the runtime, heartbeat while waiting, and turn failures into typed
 * ApplicationFailures. Each is idempotent, so Temporal may retry any of them.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ApplicationFailureCategory } from '@temporalio/common';
import {
  configmetaFile,
  scriptArgv,
  type ClusterRole,
  type EnvVar,
  type EventName,
  type NotifyAbout,
  type RoleService,
  type Topology,
  tokenWakeUpdate,
  tokensQuery,
} from '../api/index.ts';
import type { Logger } from 'pino';
import { redact, secretValues } from '../lib/secrets.ts';
import { suspiciousLine } from '../lib/suspicious-output.ts';
import path from 'node:path';
import { preparePackage, type PrepareOptions } from '../runtimes/config-package.ts';
import { guestToolsArchive } from '../runtimes/guest-tools.ts';
import { packageCacheDir } from '../runtimes/package-cache.ts';
import { RuntimeError } from '../runtimes/errors.ts';
import { runScript } from '../runtimes/script/protocol.ts';
import {
  CONFIGMETA_PATH,
  type MemberSpec,
  type MemberTarget,
  type Runtime,
  type ScriptRequest,
  type TokenBook,
} from '../runtimes/runtime.ts';

/** Per-member failures of a batch activity; members not named succeeded. */
export interface BatchResult {
  failed: Record<string, string>;
  /** A launch says how the runtime keeps members (Runtime.describe), for status. */
  runtime?: string;
}

export interface ScriptOutcome {
  exitCode: number | null;
  /** The signal that killed the script, such as 'SIGKILL'. */
  signal?: string;
  timedOut: boolean;
  /** The runtime saw the member killed for want of memory. */
  oomKilled?: boolean;
  attempts: number;
  startedAt: string;
  finishedAt: string;
  stdoutTail: string;
  stderrTail: string;
  recorded: boolean;
  /** Exit 0 with a stderr line such as `configcli: command not found` (lib/suspicious-output.ts). */
  warning?: string;
}

/** One role's launch settings, given once per launch whatever the number of members. */
export interface LaunchRole {
  id: string;
  image: string;
  persistDirs: string[];
  settings?: ClusterRole;
  services: RoleService[];
  /** Absent: the role has no config package. */
  packageURL?: string;
}

export interface LaunchInput {
  namespace: string;
  cluster: string;
  roles: LaunchRole[];
  members: { name: string; role: string; ordinal: number; fqdn: string }[];
  /** What every launched member's configmeta describes. */
  topology: Topology;
  /** Members launched before whose configmeta is rewritten to the same topology (planner v3). */
  refresh?: MemberTarget[];
}

/** A script run as the workflow asks for it: the argv is formatted here, from `about`, never carried. */
export interface ScriptInput {
  runId: string;
  event: EventName;
  about?: NotifyAbout;
  env: EnvVar[];
  timeoutSeconds: number;
}

export interface ActivityDeps {
  runtime: Runtime;
  home: string;
  logger: Logger;
  /** How long awaitReady waits before it calls a member not ready. */
  readyTimeoutSeconds?: number;
  /** How many members one batch activity touches at once. */
  batchParallelism?: number;
  /** Package fetch idle timeout, progress interval and size limits; the defaults suit production. */
  packageOptions?: Pick<PrepareOptions, 'idleTimeoutMs' | 'progressIntervalMs' | 'limits'>;
}

export function createActivities(deps: ActivityDeps) {
  const { runtime } = deps;
  const parallel = deps.batchParallelism ?? 16;
  const log = (fields: Record<string, unknown>, message: string) => {
    const info = Context.current().info;
    deps.logger.info(
      {
        workflowId: info.workflowExecution?.workflowId,
        runId: info.workflowExecution?.runId,
        activity: info.activityType,
        attempt: info.attempt,
        ...fields,
      },
      message,
    );
  };

  // A large or slow package takes longer than the heartbeat timeout: every byte fetched, packed or
  // unpacked is reported, and the fetch gives up on its own idle timeout with a message saying why.
  const installInto = async (packageURL: string, members: MemberTarget[]): Promise<BatchResult> => {
    const ctx = Context.current();
    let tgzPath: string;
    try {
      tgzPath = (
        await preparePackage(packageURL, packageCacheDir(deps.home), {
          ...deps.packageOptions,
          onProgress: (p) => ctx.heartbeat(p),
          signal: ctx.cancellationSignal,
        })
      ).tgzPath;
    } catch (error) {
      throw toFailure(error);
    }
    return eachMember(members, parallel, (m) =>
      runtime.installPackage(m, tgzPath, (bytes, total) =>
        ctx.heartbeat({ phase: 'unpack', member: m.name, bytes, total }),
      ),
    );
  };

  const writeMemberConfigmeta = (topology: Topology, m: MemberTarget) =>
    runtime.writeFiles(m, [{ path: CONFIGMETA_PATH, ...configmetaFile(topology, m.name) }]);
  const writeConfigmetaTo = (topology: Topology, members: MemberTarget[]) =>
    eachMember(members, parallel, (m) => writeMemberConfigmeta(topology, m));

  // Removal must finish, so a failure is retried by Temporal rather than recorded on the member.
  const removeAll = async (members: MemberTarget[]) => {
    const failures = Object.entries((await eachMember(members, parallel, (m) => runtime.removeMember(m))).failed);
    if (failures.length > 0)
      throw ApplicationFailure.create({
        type: 'RuntimeFailure',
        message: failures.map(([n, e]) => `${n}: ${e}`).join('; '),
      });
  };

  return {
    /**
     * A member's whole launch in one activity (create, wait until ready, configmeta, package), so a
     * grow costs the workflow one round trip instead of four. Every stage is idempotent, so a
     * retried attempt redoes what it must; a member that fails a stage for good is named, the others go on.
     */
    async launchMembers(input: LaunchInput): Promise<BatchResult> {
      const ctx = Context.current();
      const failed: Record<string, string> = Object.create(null) as Record<string, string>;
      const roles = new Map(input.roles.map((r) => [r.id, r]));
      const specs: MemberSpec[] = input.members.map((m) => {
        const role = roles.get(m.role);
        return {
          namespace: input.namespace,
          cluster: input.cluster,
          ...m,
          image: role?.image ?? '',
          persistDirs: role?.persistDirs ?? [],
          settings: role?.settings,
          services: role?.services ?? [],
        };
      });
      const stage = async (what: string, members: MemberSpec[], work: (m: MemberSpec) => Promise<void>) => {
        ctx.heartbeat({ stage: what });
        const result = await eachMember(members, parallel, work);
        Object.assign(failed, result.failed);
        return members.filter((m) => !(m.name in failed));
      };
      let going = await stage('create', specs, (m) => runtime.ensureMember(m));
      if (going.length > 0) {
        const wait = {
          deadline: Date.now() + (deps.readyTimeoutSeconds ?? 300) * 1000,
          signal: ctx.cancellationSignal,
          heartbeat: (d?: unknown) => ctx.heartbeat(d),
        };
        let readiness: Awaited<ReturnType<Runtime['awaitReady']>>;
        try {
          readiness = await runtime.awaitReady(going, wait);
        } catch (error) {
          throw toFailure(error);
        }
        for (const m of going)
          if (!readiness[m.name]?.ready)
            failed[m.name] = `not ready: ${readiness[m.name]?.reason ?? 'timed out waiting'}`;
        going = going.filter((m) => !(m.name in failed));
      }
      going = await stage('configmeta', going, (m) => writeMemberConfigmeta(input.topology, m));
      // The configcli helpers (ccli, configmacro, …) its scripts find first on their PATH.
      const tools = await guestToolsArchive(path.join(deps.home, 'guest-tools')).catch((error: unknown) => {
        throw toFailure(error);
      });
      going = await stage('helpers', going, (m) => runtime.installPackage(m, tools));
      for (const role of input.roles) {
        const members = going.filter((m) => m.role === role.id);
        if (!role.packageURL || members.length === 0) continue;
        try {
          Object.assign(failed, (await installInto(role.packageURL, members)).failed);
        } catch (error) {
          // A package refused for good is its role's members' failure, not the other roles'; anything
          // else retries the whole (idempotent) launch.
          const failure = toFailure(error);
          if (!failure.nonRetryable) throw failure;
          for (const m of members) failed[m.name] = failure.message;
        }
      }
      // The members launched before learn of the new ones once these are ready, as a writeConfigmeta
      // right after would have told them, one round trip sooner.
      if (input.refresh && input.refresh.length > 0) {
        ctx.heartbeat({ stage: 'refresh' });
        Object.assign(failed, (await writeConfigmetaTo(input.topology, input.refresh)).failed);
      }
      log(
        { members: input.members.length, refreshed: input.refresh?.length ?? 0, failed: Object.keys(failed).length },
        'members launched',
      );
      const described = runtime.describe?.();
      return described ? { failed, runtime: described } : { failed };
    },

    /** Which members are dead now (name → why), without waiting: `kdflow retry` re-creates them. */
    async probeMembers({ members }: { members: MemberTarget[] }): Promise<{ dead: Record<string, string> }> {
      let probed: Awaited<ReturnType<Runtime['probeMembers']>>;
      try {
        probed = await runtime.probeMembers(members);
      } catch (error) {
        throw toFailure(error);
      }
      const dead: Record<string, string> = Object.create(null);
      for (const m of members) if (!probed[m.name]?.ready) dead[m.name] = probed[m.name]?.reason ?? 'not alive';
      log({ members: members.length, dead: Object.keys(dead) }, 'members probed');
      return { dead };
    },

    async writeConfigmeta({
      topology,
      members,
    }: {
      topology: Topology;
      members: MemberTarget[];
    }): Promise<BatchResult> {
      const result = await writeConfigmetaTo(topology, members);
      log({ members: members.length, failed: Object.keys(result.failed).length }, 'configmeta written');
      return result;
    },

    async installPackage({
      packageURL,
      members,
    }: {
      packageURL: string;
      members: MemberTarget[];
    }): Promise<BatchResult> {
      const result = await installInto(packageURL, members);
      log({ packageURL, members: members.length, failed: Object.keys(result.failed).length }, 'package installed');
      return result;
    },

    async runScript({ member, script }: { member: MemberTarget; script: ScriptInput }): Promise<ScriptOutcome> {
      const ctx = Context.current();
      const request: ScriptRequest = {
        runId: script.runId,
        event: script.event,
        argv: scriptArgv(script.event, script.about, member.cluster, member.namespace),
        env: script.env,
        timeoutSeconds: script.timeoutSeconds,
      };
      const startedAt = new Date().toISOString();
      let result;
      try {
        result = await runScript(runtime, member, request, {
          signal: ctx.cancellationSignal,
          heartbeat: (d) => ctx.heartbeat(d),
          tokens: clusterTokens(ctx),
        });
      } catch (error) {
        // Cut short by a cancel or by this worker stopping (Ctrl-C): expected, so not logged as a warning.
        const failure = toFailure(error);
        throw ctx.cancellationSignal.aborted ? benign(failure) : failure;
      }
      // The tails go to status, history and the Web UI: secret env values a script echoed are taken out.
      const secrets = secretValues(request.env);
      const tails = { stdoutTail: redact(result.stdoutTail, secrets), stderrTail: redact(result.stderrTail, secrets) };
      const outcome: ScriptOutcome = {
        ...result,
        ...tails,
        attempts: ctx.info.attempt,
        startedAt,
        finishedAt: new Date().toISOString(),
      };
      log(
        {
          member: member.name,
          event: request.event,
          exitCode: result.exitCode,
          timedOut: result.timedOut,
          recorded: result.recorded,
        },
        'script finished',
      );
      if (result.exitCode === 0) {
        const suspicious = suspiciousLine(tails.stderrTail);
        if (!suspicious) return outcome;
        // The end of the line says what was missing; a long script path before it is cut.
        const said = suspicious.length > 100 ? `…${suspicious.slice(-100)}` : suspicious;
        return { ...outcome, warning: `exit 0, but stderr says: ${said}` };
      }
      const why = result.timedOut
        ? `timed out after ${request.timeoutSeconds}s`
        : result.oomKilled
          ? `was killed for want of memory (OOMKilled)`
          : result.signal
            ? `exited on ${result.signal}`
            : `exited with ${result.exitCode ?? 'no exit status (its runner was killed)'}`;
      // Retryable: Temporal's retry policy bounds the attempts; the details carry the output tails.
      // The message is what status keeps (one short line): the output's last line says the most.
      const said = lastLine(tails.stderrTail) ?? lastLine(tails.stdoutTail);
      throw ApplicationFailure.create({
        type: result.timedOut ? 'ScriptTimeout' : 'ScriptFailed',
        message: `${request.event} on ${member.name} ${why}${said ? `: ${said}` : ''}`,
        details: [outcome],
      });
    },

    async removeMembers({ members }: { members: MemberTarget[] }): Promise<void> {
      await removeAll(members);
      log({ members: members.map((m) => m.name) }, 'members removed');
    },

    /** Every member the runtime still has for the cluster goes, known to the workflow or not. */
    async teardownCluster({
      namespace,
      cluster,
      members,
    }: {
      namespace: string;
      cluster: string;
      members: MemberTarget[];
    }): Promise<number> {
      const known = new Set(members.map((m) => m.name));
      const leftovers = (await runtime.listMembers(namespace, cluster)).filter((name) => !known.has(name));
      const all = [
        ...members,
        ...leftovers.map((name) => ({ namespace, cluster, name, role: '', ordinal: -1, fqdn: '' })),
      ];
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

async function eachMember<M extends { name: string }>(
  members: M[],
  parallel: number,
  work: (m: M) => Promise<void>,
): Promise<BatchResult> {
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

/**
 * The cluster's tokens (docs/adr/0047): its workflow, the one that runs this activity, through the
 * worker's client. Absent when the activity runs without one (a test's bare activity environment).
 */
function clusterTokens(ctx: Context): TokenBook | undefined {
  const workflowId = ctx.info.workflowExecution?.workflowId;
  let client: Context['client'];
  try {
    client = ctx.client;
  } catch {
    return undefined;
  }
  if (!workflowId) return undefined;
  const handle = client.workflow.getHandle(workflowId);
  return {
    wake: async (wake) => {
      await handle.executeUpdate(tokenWakeUpdate, { args: [wake] });
    },
    woken: (keys) => handle.query(tokensQuery, { keys }),
  };
}

function lastLine(text: string): string | undefined {
  const line = text.trimEnd().split('\n').at(-1)?.trim();
  return line ? line.slice(0, 120) : undefined;
}

/** The same failure (type, retries), in the category the SDK logs at debug. */
function benign(failure: ApplicationFailure): ApplicationFailure {
  return ApplicationFailure.create({
    type: failure.type ?? undefined,
    message: failure.message,
    nonRetryable: failure.nonRetryable ?? false,
    category: ApplicationFailureCategory.BENIGN,
  });
}

function toFailure(error: unknown): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  if (error instanceof RuntimeError)
    return ApplicationFailure.create({ type: error.type, message: error.message, nonRetryable: error.permanent });
  const message = error instanceof Error ? error.message : String(error);
  return ApplicationFailure.create({ type: 'RuntimeFailure', message });
}
