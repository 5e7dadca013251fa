import type { Client, Connection, WorkflowHandle } from '@temporalio/client';
import { DEFAULT_NAMESPACE, clusterWorkflowId } from '../api/names.ts';
import type { AppCatalog } from '../lib/app-catalog.ts';
import type { RunInfo } from './cluster-facts.ts';
import { kdflowHome, runtimeKind, temporalConnection, temporalNamespace } from '../lib/config.ts';
import type { Runtime } from '../runtimes/runtime.ts';
import type { clusterWorkflow } from '../workflows/cluster.ts';
import { lineOutput, stdoutOutput, type Output } from './output.ts';
import { NotFoundError, TemporalUnreachableError } from './errors.ts';
import { tcpRefusal } from '../lib/reachability.ts';

/**
 * What every command may need, each loaded and made on first use: `kdflow app validate` never loads
 * the Temporal client, `kdflow get` never loads the app catalog (ADR 0031).
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

  /** The namespace is checked by main before a context is made. */
  constructor(namespace: string | undefined, out?: (line: string) => void) {
    this.namespace = namespace ?? DEFAULT_NAMESPACE;
    this.output = out ? lineOutput(out) : stdoutOutput();
    this.out = this.output.line;
  }

  /** The app catalog; it (and zod with it) loads on the first call. */
  readonly catalog: Pick<AppCatalog, 'put' | 'get' | 'list'> = {
    put: async (...args) => (await this.loadCatalog()).put(...args),
    get: async (...args) => (await this.loadCatalog()).get(...args),
    list: async (...args) => (await this.loadCatalog()).list(...args),
  };

  private async loadCatalog(): Promise<AppCatalog> {
    const { AppCatalog } = await import('../lib/app-catalog.ts');
    this.appCatalog ??= new AppCatalog(this.home);
    return this.appCatalog;
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

  async cluster(name: string): Promise<WorkflowHandle<typeof clusterWorkflow>> {
    return (await this.runningCluster(name)).handle;
  }

  /** A running cluster's workflow and which run it is (for its age). */
  async runningCluster(name: string): Promise<{ handle: WorkflowHandle<typeof clusterWorkflow>; run: RunInfo }> {
    const client = await this.temporal();
    const { WorkflowNotFoundError } = await import('@temporalio/client');
    const handle = client.workflow.getHandle<typeof clusterWorkflow>(clusterWorkflowId(this.namespace, name));
    try {
      const description = await handle.describe();
      if (description.status.name !== 'RUNNING')
        throw new NotFoundError(
          `cluster ${this.namespace}/${name} is not running (its workflow is ${description.status.name.toLowerCase()})`,
        );
      return {
        handle,
        run: {
          workflowId: description.workflowId,
          runId: description.runId,
          startTime: description.startTime,
          firstRunId: description.raw.workflowExecutionInfo?.firstRunId,
        },
      };
    } catch (error) {
      if (error instanceof WorkflowNotFoundError)
        throw new NotFoundError(`cluster ${this.namespace}/${name} not found`);
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.connection?.close();
  }
}
