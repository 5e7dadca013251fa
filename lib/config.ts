import os from 'node:os';
import path from 'node:path';

/** Where kdflow keeps its state on this machine: the dev server's SQLite file, app catalog, member sandboxes. */
export function kdflowHome(): string {
  return path.resolve(process.env.KDFLOW_HOME ?? path.join(os.homedir(), '.kdflow'));
}

export function temporalAddress(): string {
  return process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
}

export function temporalNamespace(): string {
  return process.env.TEMPORAL_NAMESPACE ?? 'default';
}

export function runtimeKind(): string {
  return process.env.KDFLOW_RUNTIME ?? 'local';
}
