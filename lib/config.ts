import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TLSConfig } from '@temporalio/client';

/** Where kdflow keeps its state on this machine: the dev server's SQLite file, app catalog, member sandboxes. */
export function kdflowHome(): string {
  return path.resolve(process.env.KDFLOW_HOME ?? path.join(os.homedir(), '.kdflow'));
}

/** Rebuildable things kdflow keeps per user: the Temporal CLI, test binaries, workflow bundles (KDFLOW_CACHE moves it). */
export function kdflowCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.KDFLOW_CACHE ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'kdflow'));
}

export function temporalAddress(): string {
  return process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
}

export function temporalNamespace(): string {
  return process.env.TEMPORAL_NAMESPACE ?? 'default';
}

/**
 * Which client the CLI's cluster commands (get, history, resize, delete, retry, wait, logs) use:
 * `lean` (default; lib/temporal-grpc.ts, ADR 0036) or `sdk` (@temporalio/client). KDFLOW_TEMPORAL_CLIENT.
 */
export function temporalClientKind(env: NodeJS.ProcessEnv = process.env): 'lean' | 'sdk' {
  const kind = env.KDFLOW_TEMPORAL_CLIENT || 'lean';
  if (kind !== 'lean' && kind !== 'sdk') throw new Error(`KDFLOW_TEMPORAL_CLIENT must be lean or sdk, got "${kind}"`);
  return kind;
}

export function runtimeKind(): string {
  return process.env.KDFLOW_RUNTIME ?? 'local';
}

/** What both the client (`Connection`) and the worker (`NativeConnection`) connect with. */
export interface TemporalConnectionSettings {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

/**
 * TEMPORAL_ADDRESS, plus TLS and an API key for a production server or Temporal Cloud:
 * TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY (client certificate and key files, for mTLS), TEMPORAL_TLS_CA (the
 * server's CA file), TEMPORAL_TLS_SERVER_NAME (SNI override), TEMPORAL_TLS=1 (TLS with the system CAs),
 * TEMPORAL_API_KEY (implies TLS unless TEMPORAL_TLS=0). The Temporal CLI's names
 * (TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH) work too.
 */
export function temporalConnection(env: NodeJS.ProcessEnv = process.env): TemporalConnectionSettings {
  const pick = (...names: string[]) => names.map((n) => env[n]).find((v) => v !== undefined && v !== '');
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`cannot read the TLS ${what} ${file}: ${(error as Error).message}`, { cause: error });
    }
  };
  const cert = pick('TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_CLIENT_CERT_PATH');
  const key = pick('TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_CLIENT_KEY_PATH');
  const ca = pick('TEMPORAL_TLS_CA', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH');
  const serverName = pick('TEMPORAL_TLS_SERVER_NAME');
  const apiKey = pick('TEMPORAL_API_KEY');
  const flag = pick('TEMPORAL_TLS')?.toLowerCase();
  if (Boolean(cert) !== Boolean(key))
    throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both for mTLS, or neither');
  const settings: TemporalConnectionSettings = { address: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' };
  if (apiKey) settings.apiKey = apiKey;
  const off = flag === '0' || flag === 'false';
  if (cert || ca || serverName) {
    if (off) throw new Error('TEMPORAL_TLS=0 contradicts TEMPORAL_TLS_CERT/KEY/CA/SERVER_NAME');
    settings.tls = {
      ...(serverName ? { serverNameOverride: serverName } : {}),
      ...(ca ? { serverRootCACertificate: read(ca, 'CA') } : {}),
      ...(cert && key ? { clientCertPair: { crt: read(cert, 'certificate'), key: read(key, 'key') } } : {}),
    };
  } else if (!off && (apiKey || flag === '1' || flag === 'true')) {
    settings.tls = true;
  }
  return settings;
}
