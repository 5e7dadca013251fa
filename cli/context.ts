import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { DEFAULT_NAMESPACE, clusterWorkflowId } from '../api/index.ts';
import { AppCatalog } from '../lib/app-catalog.ts';
import { kdflowHome, runtimeKind, temporalConnection, temporalNamespace } from '../lib/config.ts';
import type { Runtime } from '../runtimes/runtime.ts';
import type { clusterWorkflow } from '../workflows/cluster.ts';
import { checkName } from './names.ts';
import { lineOutput, stdoutOutput, type Output } from './output.ts';
import { NotFoundError, TemporalUnreachableError } from './errors.ts';
import { tcpRefusal } from '../lib/reachability.ts';

/** What every command may need, made on first use so that `kdflow app validate` never dials Temporal. */
export class CliContext {
  readonly namespace: string;
  readonly home = kdflowHome();
  readonly catalog = new AppCatalog(this.home);
  readonly out: (line: string) => void;
  /** For output too large to hold: a member's logs. */
  readonly output: Output;
  private client?: Client;
  private connection?: Connection;

  constructor(namespace: string | undefined, out?: (line: string) => void) {
    this.namespace = namespace === undefined ? DEFAULT_NAMESPACE : checkName('namespace', '-n/--namespace', namespace);
    this.output = out ? lineOutput(out) : stdoutOutput();
    this.out = this.output.line;
  }

  async temporal(): Promise<Client> {
    if (this.client) return this.client;
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
    const client = await this.temporal();
    const handle = client.workflow.getHandle<typeof clusterWorkflow>(clusterWorkflowId(this.namespace, name));
    try {
      const description = await handle.describe();
      if (description.status.name !== 'RUNNING')
        throw new NotFoundError(
          `cluster ${this.namespace}/${name} is not running (its workflow is ${description.status.name.toLowerCase()})`,
        );
    } catch (error) {
      if (error instanceof WorkflowNotFoundError)
        throw new NotFoundError(`cluster ${this.namespace}/${name} not found`);
      throw error;
    }
    return handle;
  }

  async close(): Promise<void> {
    await this.connection?.close();
  }
}
