/**
 * Thin activities: look up the runtime, heartbeat while waiting, and turn failures into typed
 * ApplicationFailures. Each is idempotent, so Temporal may retry any of them.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailureCategory } from '@temporalio/common';
import {
  clusterWorkflowId,
  configmetaFile,
  isScriptEvent,
  runArgv,
  topologyQuery,
  type ActionEvent,
  type KdClusterSpec,
  type ObjectKind,
  type ClusterRole,
  type EnvVar,
  type NotifyAbout,
  type ScriptEvent,
  type RoleService,
  type Topology,
  tokenWakeUpdate,
  tokensQuery,
} from '../api/index.ts';
import type { Logger } from 'pino';
import { redact, secretValues } from '../lib/secrets.ts';
import { suspiciousLine } from '../lib/suspicious-output.ts';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { preparePackage, type PrepareOptions } from '../runtimes/config-package.ts';
import { guestToolsArchive } from '../runtimes/guest-tools.ts';
import { packageCacheDir } from '../runtimes/package-cache.ts';
import { RuntimeError } from '../runtimes/errors.ts';
import { getObject } from '../lib/object-store.ts';
import { connectionsDigest, readConnections, type ConnectionReaders } from './connections.ts';
import { injectFiles, writeSecretFiles } from './member-files.ts';
import { runScript } from '../runtimes/script/protocol.ts';
import {
  CONFIGMETA_PATH,
  GUESTCONFIG_DIR,
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
  /** The package's pinned digest, when the app gives one (docs/adr/0039). */
  packageSHA256?: string;
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

export const BLOCK_STORAGE_LOCAL =
  'blockStorage: raw block devices need the Kubernetes runtime (PVCs in Block mode); the local runtime has none. Drop blockStorage from the role, or run on Kubernetes';

/** A script run as the workflow asks for it: the argv is formatted here, from `about`, never carried. */
export interface ScriptInput {
  runId: string;
  /** A lifecycle event, `reconnect`, or `action-NAME` for a custom action (docs/adr/0044, 0050). */
  event: ScriptEvent | ActionEvent;
  /** A custom action's name and parameters: its argv is `--action NAME --param k=v…`. */
  action?: { name: string; params: [string, string][] };
  about?: NotifyAbout;
  /** A rolling event's versions: `--upgrade --from OLD --to NEW`, `--rollback --from NEW --to OLD` (docs/adr/0037). */
  versions?: { from: string; to: string };
  env: EnvVar[];
  timeoutSeconds: number;
}

/** A rolling operation's replacement: a launch of existing members at a token (docs/adr/0037). */
export interface ReplaceInput extends LaunchInput {
  token: string;
  restart: boolean;
}

export interface ReplaceResult extends BatchResult {
  /** Member → whether its /opt/guestconfig/configure.status says a successful run. */
  configurePersisted: Record<string, boolean>;
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
  const installInto = async (packageURL: string, members: MemberTarget[], sha256?: string): Promise<BatchResult> => {
    const ctx = Context.current();
    // KubeDirector's file:// is a path in the member's image: where the worker does not have it and the
    // runtime's members have images, it is unpacked inside each member (docs/adr/0045).
    const imagePath = runtime.installImagePackage ? await imageOnlyPath(packageURL) : undefined;
    if (imagePath !== undefined)
      return eachMember(members, parallel, (m) => runtime.installImagePackage?.(m, imagePath) ?? Promise.resolve());
    let tgzPath: string;
    try {
      tgzPath = (
        await preparePackage(packageURL, packageCacheDir(deps.home), {
          ...deps.packageOptions,
          ...(sha256 !== undefined ? { sha256 } : {}),
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

  // Connected objects: the runtime's own where it has them (the API on Kubernetes), else what `kdflow apply` stored.
  const readers: ConnectionReaders = {
    object: (kind: ObjectKind, namespace: string, name: string) =>
      runtime.readObject ? runtime.readObject(kind, namespace, name) : getObject(deps.home, kind, namespace, name),
    cluster: async (namespace: string, name: string) => {
      const { client } = Context.current();
      const handle = client.workflow.getHandle(clusterWorkflowId(namespace, name));
      const running = await handle.describe().then(
        (d) => d.status.name === 'RUNNING',
        (error: unknown) => {
          if (error instanceof WorkflowNotFoundError) return false;
          throw error;
        },
      );
      return running ? handle.query(topologyQuery) : undefined;
    },
  };
  const connected = async (namespace: string, connections: KdClusterSpec['connections']) => {
    if (!connections) return { content: undefined, notes: [] };
    try {
      return await readConnections(namespace, connections, readers);
    } catch (error) {
      throw toFailure(error);
    }
  };

  // One read of the connections per write, whatever the number of members (docs/adr/0044).
  const configmetaWriter = async (topology: Topology) => {
    const { content } = await connected(topology.namespace, topology.connections);
    return (m: MemberTarget) =>
      runtime.writeFiles(m, [{ path: CONFIGMETA_PATH, ...configmetaFile(topology, m.name, content) }]);
  };
  const writeConfigmetaTo = async (topology: Topology, members: MemberTarget[]) =>
    eachMember(members, parallel, await configmetaWriter(topology));

  // Removal must finish, so a failure is retried by Temporal rather than recorded on the member.
  const removeAll = async (members: MemberTarget[]) => {
    const failures = Object.entries((await eachMember(members, parallel, (m) => runtime.removeMember(m))).failed);
    if (failures.length > 0)
      throw ApplicationFailure.create({
        type: 'RuntimeFailure',
        message: failures.map(([n, e]) => `${n}: ${e}`).join('; '),
      });
  };

  /** create (or `prepare`), ready, configmeta, helpers, package, and the refresh of members launched before. */
  const launch = async (input: LaunchInput, prepare?: (m: MemberSpec) => Promise<void>): Promise<BatchResult> => {
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
    // Raw block devices need Kubernetes: refused by name on a runtime without them (docs/adr/0045).
    for (const m of specs)
      if (m.settings?.blockStorage && runtime.kind === 'local') failed[m.name] = BLOCK_STORAGE_LOCAL;
    let going = await stage(
      'create',
      specs.filter((m) => !(m.name in failed)),
      prepare ?? ((m) => runtime.ensureMember(m)),
    );
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
    going = await stage('configmeta', going, await configmetaWriter(input.topology));
    // The configcli helpers (ccli, configmacro, …) its scripts find first on their PATH.
    const tools = await guestToolsArchive(path.join(deps.home, 'guest-tools')).catch((error: unknown) => {
      throw toFailure(error);
    });
    going = await stage('helpers', going, (m) => runtime.installPackage(m, tools));
    for (const role of input.roles) {
      const members = going.filter((m) => m.role === role.id);
      if (!role.packageURL || members.length === 0) continue;
      try {
        Object.assign(failed, (await installInto(role.packageURL, members, role.packageSHA256)).failed);
      } catch (error) {
        // A package refused for good is its role's members' failure, not the other roles'; anything
        // else retries the whole (idempotent) launch.
        const failure = toFailure(error);
        if (!failure.nonRetryable) throw failure;
        for (const m of members) failed[m.name] = failure.message;
      }
    }
    // Secrets (the local runtime's stand-in for a Secret volume) and file injections, before --configure.
    going = going.filter((m) => !(m.name in failed));
    if (runtime.kind === 'local')
      going = await stage('secret', going, async (m) => {
        if (m.settings?.secret) await writeSecretFiles(runtime, m, m.settings.secret, readers.object);
      });
    await stage('files', going, (m) =>
      injectFiles(runtime, m, m.settings?.fileInjections ?? [], {
        ...deps.packageOptions,
        onProgress: (p) => ctx.heartbeat(p),
        signal: ctx.cancellationSignal,
      }),
    );
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
    // How the runtime keeps members (docs/adr/0046): one short line the workflow shows in status.
    const described = runtime.describe?.();
    return described ? { failed, runtime: described } : { failed };
  };

  return {
    /**
     * A member's whole launch in one activity (create, wait until ready, configmeta, package), so a
     * grow costs the workflow one round trip instead of four. Every stage is idempotent, so a
     * retried attempt redoes what it must; a member that fails a stage for good is named, the others go on.
     */
    async launchMembers(input: LaunchInput): Promise<BatchResult> {
      return launch(input);
    },

    /**
     * A rolling operation's member replacement (docs/adr/0037): the member is brought to the
     * replacement (Kubernetes: a new pod with the side's image and settings, same name and PVC; local:
     * the old package out, processes ended for a restart), then launched as a new one is, with the
     * side's configmeta and package. Idempotent by the token. Says whose --configure status survived
     * (KubeDirector's rule: such a member stays configured after a restart).
     */
    async replaceMembers(input: ReplaceInput): Promise<ReplaceResult> {
      const ctx = Context.current();
      const replacement = { token: input.token, restart: input.restart };
      const result = await launch(input, async (m) => {
        await runtime.replaceMember({ ...m, replacement: input.token }, replacement, (d) => ctx.heartbeat(d));
        await runtime.ensureMember({ ...m, replacement: input.token });
      });
      const configurePersisted: Record<string, boolean> = Object.create(null) as Record<string, boolean>;
      for (const m of input.members) {
        if (m.name in result.failed) continue;
        const status = await runtime
          .readGuestFile(
            { namespace: input.namespace, cluster: input.cluster, ...m },
            `${GUESTCONFIG_DIR}/configure.status`,
          )
          .catch(() => undefined);
        configurePersisted[m.name] = /=0\s*$/.test(status ?? '');
      }
      log(
        { members: input.members.length, token: input.token, failed: Object.keys(result.failed).length },
        'members replaced',
      );
      return { ...result, configurePersisted };
    },

    /** A digest of what the cluster connects to now (docs/adr/0044): the workflow keeps only that, and --reconnects on a new one. */
    async readConnections({
      namespace,
      cluster,
      connections,
    }: {
      namespace: string;
      cluster: string;
      connections: NonNullable<KdClusterSpec['connections']>;
    }): Promise<{ digest: string; notes: string[] }> {
      const { content, notes } = await connected(namespace, connections);
      const digest = connectionsDigest(content ?? { clusters: {}, configmaps: {}, secrets: {} });
      if (notes.length > 0) deps.logger.warn({ namespace, cluster, notes }, 'connections left out of configmeta');
      return { digest, notes };
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
      sha256,
      members,
    }: {
      packageURL: string;
      sha256?: string;
      members: MemberTarget[];
    }): Promise<BatchResult> {
      const result = await installInto(packageURL, members, sha256);
      log({ packageURL, members: members.length, failed: Object.keys(result.failed).length }, 'package installed');
      return result;
    },

    async runScript({ member, script }: { member: MemberTarget; script: ScriptInput }): Promise<ScriptOutcome> {
      const ctx = Context.current();
      // The event names the run's files: only a lifecycle event or `action-<DNS label>` may reach a path.
      if (!isScriptEvent(script.event))
        throw ApplicationFailure.create({
          type: 'InvalidScript',
          message: `event ${JSON.stringify(script.event)} is neither configure, addnodes, delnodes nor action-NAME`,
          nonRetryable: true,
        });
      const request: ScriptRequest = {
        runId: script.runId,
        event: script.event,
        argv: runArgv(script, member.cluster, member.namespace),
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

/** The path of a file:// URL that the worker's machine does not have; undefined for anything else. */
async function imageOnlyPath(packageURL: string): Promise<string | undefined> {
  if (!packageURL.startsWith('file:///')) return undefined;
  let local: string;
  try {
    local = fileURLToPath(packageURL);
  } catch {
    return undefined;
  }
  return (await stat(local).catch(() => undefined)) ? undefined : local;
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
