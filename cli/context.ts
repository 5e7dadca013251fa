import type { Client, Connection, WorkflowHandle } from '@temporalio/client';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { DEFAULT_NAMESPACE, clusterWorkflowId } from '../api/names.ts';
import type { HistoryEntry } from '../api/status.ts';
import type { AppCatalog } from '../lib/app-catalog.ts';
import type { HistoryReadOptions } from '../lib/script-history.ts';
import type { LeanTemporalClient } from '../lib/temporal-grpc.ts';
import type { RunInfo } from './cluster-facts.ts';
import { kdflowHome, runtimeKind, temporalClientKind, temporalConnection, temporalNamespace } from '../lib/config.ts';
import type { Runtime } from '../runtimes/runtime.ts';
import type { clusterWorkflow } from '../workflows/cluster.ts';
import { lineOutput, stdoutOutput, type Output } from './output.ts';
import { NotFoundError, TemporalUnreachableError } from './errors.ts';
import { tcpRefusal } from '../lib/reachability.ts';

/** What commands do with a cluster's workflow, whichever client carries it. */
export type ClusterHandle = Pick<WorkflowHandle<typeof clusterWorkflow>, 'query' | 'executeUpdate' | 'signal'>;

/** A running cluster: its workflow, which run it is, and how to ask when a run of it started (for its age). */
export interface RunningCluster {
  handle: ClusterHandle;
  run: RunInfo;
  startOf(runId: string): Promise<Date>;
}

const RUNNING_CLUSTERS = `WorkflowType = 'clusterWorkflow' AND ExecutionStatus = 'Running'`;

/**
 * What every command may need, each loaded and made on first use: `kdflow app validate` never loads
 * the Temporal client, `kdflow get` never loads the app catalog (ADR 0031). Reading and changing a
 * cluster goes through the lean client (lib/temporal-grpc.ts, ADR 0036) unless
 * KDFLOW_TEMPORAL_CLIENT=sdk or it cannot open a session; then, and for every other call, the SDK's.
 */
export class CliContext {
  readonly namespace: string;
  readonly home = kdflowHome();
  readonly out: (line: string) => void;
  /** For output too large to hold: a member's logs. */
  readonly output: Output;
  private client?: Client;
  private connection?: Connection;

  private appCatalog?: AppCatalog;
  /** null: decided against (or failed), undefined: not tried yet. */
  private leanClient?: LeanTemporalClient | null;

  /** The namespace is checked by main before a context is made. */
  constructor(namespace: string | undefined, out?: (line: string) => void) {
    this.namespace = namespace ?? DEFAULT_NAMESPACE;
    this.output = out ? lineOutput(out) : stdoutOutput();
    this.out = this.output.line;
  }

  /** The shared app catalog (lib/app-catalog.ts); it (and zod with it) loads on the first call. */
  readonly catalog: Pick<AppCatalog, 'put' | 'get' | 'find' | 'list' | 'delete'> = {
    put: async (...args) => (await this.loadCatalog()).put(...args),
    get: async (...args) => (await this.loadCatalog()).get(...args),
    find: async (...args) => (await this.loadCatalog()).find(...args),
    list: async (...args) => (await this.loadCatalog()).list(...args),
    delete: async (...args) => (await this.loadCatalog()).delete(...args),
  };

  /**
   * Reads go through the lean client (a query, ADR 0036), writes through the SDK's (update-with-start,
   * which the lean client does not speak). The catalog of `$KDFLOW_HOME/apps` from before the shared
   * catalog moves into it on first use (docs/adr/0039).
   */
  private async loadCatalog(): Promise<AppCatalog> {
    if (this.appCatalog) return this.appCatalog;
    const { AppCatalog, catalogReadError, sdkCatalogTransport } = await import('../lib/app-catalog.ts');
    const { catalogWorkflowId } = await import('../api/catalog.ts');
    const sdk = async () => sdkCatalogTransport(await this.temporal());
    const catalog = new AppCatalog({
      query: async (namespace, query, args) => {
        const lean = await this.lean();
        if (!lean) return (await sdk()).query(namespace, query, args);
        const { GRPC, GrpcCallError } = await import('../lib/temporal-grpc.ts');
        try {
          return await this.leanCall(() => lean.query(catalogWorkflowId(namespace), query, args));
        } catch (error) {
          if (error instanceof GrpcCallError && error.code === GRPC.NOT_FOUND) return undefined;
          if (error instanceof TemporalUnreachableError) throw error;
          throw catalogReadError(namespace, error);
        }
      },
      update: async (namespace, update, args) => (await sdk()).update(namespace, update, args),
    });
    // Only a home with the old directory loads the migration (and the schemas with it).
    const { existsSync } = await import('node:fs');
    const moved = existsSync(`${this.home}/apps`)
      ? await (
          await import('../lib/catalog-migration.ts')
        ).migrateLocalCatalog(this.home, (namespace, app) => catalog.put(namespace, app))
      : undefined;
    if (moved) {
      this.out(
        `kdflow: moved ${moved.migrated.length} app(s) from ${this.home}/apps into the shared catalog (${moved.migrated.join(', ') || 'none'}); the old directory is now ${this.home}/apps.migrated`,
      );
      for (const refused of moved.refused) this.out(`kdflow: not moved: ${refused}`);
    }
    this.appCatalog = catalog;
    return catalog;
  }

  async temporal(): Promise<Client> {
    if (this.client) return this.client;
    const { Client, Connection } = await import('@temporalio/client');
    const settings = temporalConnection();
    // Encrypts and decrypts payloads when a key is configured (lib/codec.ts); a key setting that cannot be used is said first.
    const { clientDataConverter } = await import('../lib/codec.ts');
    const dataConverter = clientDataConverter();
    const address = settings.address;
    // A refused connection fails at once here; the SDK would retry it until its deadline and then say only that.
    const refused = await tcpRefusal(address);
    if (refused) throw new TemporalUnreachableError(address, refused);
    try {
      this.connection = await Connection.connect({ ...settings, connectTimeout: 5_000 });
    } catch (error) {
      throw new TemporalUnreachableError(address, (error as Error).message);
    }
    this.client = new Client({ connection: this.connection, namespace: temporalNamespace(), dataConverter });
    return this.client;
  }

  /** Loaded on use: the Kubernetes client alone takes longer to load than most commands take to run. */
  async runtime(): Promise<Runtime> {
    const { createRuntime } = await import('../runtimes/index.ts');
    return createRuntime(runtimeKind(), this.home);
  }

  /** The lean client, or undefined when the SDK's answers (one debug line says why). */
  async lean(): Promise<LeanTemporalClient | undefined> {
    if (this.leanClient !== undefined) return this.leanClient ?? undefined;
    this.leanClient = null;
    if (temporalClientKind() === 'sdk') return undefined;
    const settings = temporalConnection();
    const codecs = await payloadCodecs();
    const refused = await tcpRefusal(settings.address);
    if (refused) throw new TemporalUnreachableError(settings.address, refused);
    const { LeanTemporalClient } = await import('../lib/temporal-grpc.ts');
    try {
      this.leanClient = await LeanTemporalClient.connect({ ...settings, namespace: temporalNamespace(), codecs });
    } catch (error) {
      const { logger } = await import('../lib/logger.ts');
      logger.debug(
        `the lean Temporal client could not open a session to ${settings.address} (${(error as Error).message}); using the SDK's client`,
      );
    }
    return this.leanClient ?? undefined;
  }

  async cluster(name: string): Promise<ClusterHandle> {
    return (await this.runningCluster(name)).handle;
  }

  /** A running cluster's workflow and which run it is (for its age). */
  async runningCluster(name: string): Promise<RunningCluster> {
    const workflowId = clusterWorkflowId(this.namespace, name);
    const notRunning = (status: string) =>
      new NotFoundError(`cluster ${this.namespace}/${name} is not running (its workflow is ${status.toLowerCase()})`);
    const lean = await this.lean();
    if (lean) {
      const description = await this.leanCall(() => lean.describe(workflowId), name);
      if (description.status.name !== 'RUNNING') throw notRunning(description.status.name);
      return leanCluster(lean, description);
    }
    const client = await this.temporal();
    const { WorkflowNotFoundError } = await import('@temporalio/client');
    const handle = client.workflow.getHandle<typeof clusterWorkflow>(workflowId);
    try {
      const description = await handle.describe();
      if (description.status.name !== 'RUNNING') throw notRunning(description.status.name);
      return {
        handle,
        run: {
          workflowId: description.workflowId,
          runId: description.runId,
          startTime: description.startTime,
          firstRunId: description.raw.workflowExecutionInfo?.firstRunId,
        },
        startOf: async (runId) => (await client.workflow.getHandle(workflowId, runId).describe()).startTime,
      };
    } catch (error) {
      if (error instanceof WorkflowNotFoundError)
        throw new NotFoundError(`cluster ${this.namespace}/${name} not found`);
      throw error;
    }
  }

  /** The running clusters of this namespace, by workflow id. */
  async runningClusters(): Promise<RunningCluster[]> {
    const prefix = clusterWorkflowId(this.namespace, '');
    const clusters: RunningCluster[] = [];
    const lean = await this.lean();
    if (lean) {
      for (const run of await this.leanCall(() => lean.list(RUNNING_CLUSTERS)))
        if (run.workflowId.startsWith(prefix)) clusters.push(leanCluster(lean, run));
    } else {
      const client = await this.temporal();
      for await (const wf of client.workflow.list({ query: RUNNING_CLUSTERS })) {
        if (!wf.workflowId.startsWith(prefix)) continue;
        clusters.push({
          handle: client.workflow.getHandle<typeof clusterWorkflow>(wf.workflowId),
          run: { workflowId: wf.workflowId, runId: wf.runId, startTime: wf.startTime, firstRunId: wf.raw.firstRunId },
          startOf: async (runId) => (await client.workflow.getHandle(wf.workflowId, runId).describe()).startTime,
        });
      }
    }
    return clusters.sort((a, b) => a.run.workflowId.localeCompare(b.run.workflowId));
  }

  /** The status of a cluster's newest workflow run, or undefined when there is none. */
  async clusterRunStatus(name: string): Promise<string | undefined> {
    const workflowId = clusterWorkflowId(this.namespace, name);
    const lean = await this.lean();
    if (lean) {
      try {
        return (await this.leanCall(() => lean.describe(workflowId), name)).status.name;
      } catch (error) {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      }
    }
    const { WorkflowNotFoundError } = await import('@temporalio/client');
    const description = await (
      await this.temporal()
    ).workflow
      .getHandle(workflowId)
      .describe()
      .catch((error: unknown) => {
        if (error instanceof WorkflowNotFoundError) return undefined;
        throw error;
      });
    return description?.status.name;
  }

  /** The cluster's script runs from Temporal's history (lib/script-history.ts). */
  async scriptHistory(name: string, options: HistoryReadOptions): Promise<HistoryEntry[]> {
    const workflowId = clusterWorkflowId(this.namespace, name);
    const { leanScriptHistory, scriptHistory } = await import('../lib/script-history.ts');
    const lean = await this.lean();
    if (lean) return this.leanCall(() => leanScriptHistory(lean, workflowId, options), name);
    return scriptHistory((await this.temporal()).workflow, workflowId, options);
  }

  /** A lean call's errors as the CLI says them: a workflow not found, Temporal gone away. */
  private async leanCall<T>(call: () => Promise<T>, cluster?: string): Promise<T> {
    const { GRPC, GrpcCallError, GrpcTransportError } = await import('../lib/temporal-grpc.ts');
    try {
      return await call();
    } catch (error) {
      if (cluster !== undefined && error instanceof GrpcCallError && error.code === GRPC.NOT_FOUND)
        throw new NotFoundError(`cluster ${this.namespace}/${cluster} not found`);
      if (error instanceof GrpcTransportError || (error instanceof GrpcCallError && error.code === GRPC.UNAVAILABLE))
        throw new TemporalUnreachableError(temporalConnection().address, error.message);
      throw error;
    }
  }

  async close(): Promise<void> {
    this.leanClient?.close();
    await this.connection?.close();
  }
}

/**
 * The encryption codec (lib/codec.ts, ADR 0035), the one the SDK's client gets. Its module loads
 * Temporal's protobuf tree, so without a key it loads only when an encrypted payload arrives, to refuse
 * it with its own message (which key id, how to configure one).
 */
async function payloadCodecs(env: NodeJS.ProcessEnv = process.env): Promise<PayloadCodec[]> {
  const load = async () => (await import('../lib/codec.ts')).codecFromEnv(env);
  if (env.KDFLOW_CODEC_KEY_FILE || env.KDFLOW_CODEC_KEYS) return [await load()];
  const encrypted = (p: Payload) => Buffer.from(p.metadata?.encoding ?? []).toString() === 'binary/encrypted';
  return [
    {
      encode: async (payloads) => payloads,
      decode: async (payloads) => (payloads.some(encrypted) ? (await load()).decode(payloads) : payloads),
    },
  ];
}

/** The SDK handle's methods that commands use, over the lean client (the same values come back). */
function leanCluster(
  lean: LeanTemporalClient,
  run: { workflowId: string; runId: string; startTime: Date; firstRunId?: string },
): RunningCluster {
  const { workflowId } = run;
  const nameOf = (def: string | { name: string }) => (typeof def === 'string' ? def : def.name);
  const handle = {
    query: (def: string | { name: string }, ...args: unknown[]) => lean.query(workflowId, nameOf(def), args),
    executeUpdate: (def: string | { name: string }, options?: { args?: unknown[] }) =>
      lean.update(workflowId, nameOf(def), options?.args ?? []),
    signal: (def: string | { name: string }, ...args: unknown[]) => lean.signal(workflowId, nameOf(def), args),
  };
  return {
    // The SDK's overloaded generic signatures, met by these untyped forwarders: the values are the workflow's own.
    handle: handle as unknown as ClusterHandle,
    run,
    startOf: async (runId) => (await lean.describe(workflowId, runId)).startTime,
  };
}
