import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { DEFAULT_NAMESPACE, clusterWorkflowId } from '../api/index.ts';
import { AppCatalog } from '../lib/app-catalog.ts';
import { kdflowHome, runtimeKind, temporalConnection, temporalNamespace } from '../lib/config.ts';
import { createRuntime } from '../runtimes/index.ts';
import type { Runtime } from '../runtimes/runtime.ts';
import type { clusterWorkflow } from '../workflows/cluster.ts';
import { NotFoundError } from './errors.ts';

/** What every command may need, made on first use so that `kdflow app validate` never dials Temporal. */
export class CliContext {
  readonly namespace: string;
  readonly home = kdflowHome();
  readonly catalog = new AppCatalog(this.home);
  readonly out: (line: string) => void;
  private client?: Client;
  private connection?: Connection;

  constructor(namespace: string | undefined, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {
    this.namespace = namespace ?? DEFAULT_NAMESPACE;
    this.out = out;
  }

  async temporal(): Promise<Client> {
    if (this.client) return this.client;
    const settings = temporalConnection();
    const address = settings.address;
    try {
      this.connection = await Connection.connect({ ...settings, connectTimeout: 5_000 });
    } catch (error) {
      throw new Error(`cannot reach Temporal at ${address} (${(error as Error).message}); start it with: npm start (or set TEMPORAL_ADDRESS)`);
    }
    this.client = new Client({ connection: this.connection, namespace: temporalNamespace() });
    return this.client;
  }

  runtime(): Promise<Runtime> {
    return createRuntime(runtimeKind(), this.home);
  }

  async cluster(name: string): Promise<WorkflowHandle<typeof clusterWorkflow>> {
    const client = await this.temporal();
    const handle = client.workflow.getHandle<typeof clusterWorkflow>(clusterWorkflowId(this.namespace, name));
    try {
      const description = await handle.describe();
      if (description.status.name !== 'RUNNING') throw new NotFoundError(`cluster ${this.namespace}/${name} is not running (its workflow is ${description.status.name.toLowerCase()})`);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new NotFoundError(`cluster ${this.namespace}/${name} not found`);
      throw error;
    }
    return handle;
  }

  async close(): Promise<void> {
    await this.connection?.close();
  }
}
