import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { temporalConnection } from '../../lib/config.ts';
import { DEFAULT_METRICS_ADDRESS, metricsAddress } from '../../lib/telemetry.ts';

describe('connecting to a production Temporal', () => {
  it('is plain on the dev server address by default', () => {
    expect(temporalConnection({})).toEqual({ address: '127.0.0.1:7233' });
  });

  it('reads mTLS files and the API key from the environment', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-tls-'));
    for (const f of ['ca.pem', 'client.pem', 'client.key']) await writeFile(path.join(dir, f), `-- ${f} --`);
    const settings = temporalConnection({
      TEMPORAL_ADDRESS: 'temporal.example:7233',
      TEMPORAL_TLS_CERT: path.join(dir, 'client.pem'),
      TEMPORAL_TLS_KEY: path.join(dir, 'client.key'),
      TEMPORAL_TLS_CA: path.join(dir, 'ca.pem'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      TEMPORAL_API_KEY: 'k',
    });
    expect(settings.address).toBe('temporal.example:7233');
    expect(settings.apiKey).toBe('k');
    const tls = settings.tls as {
      serverNameOverride: string;
      serverRootCACertificate: Buffer;
      clientCertPair: { crt: Buffer; key: Buffer };
    };
    expect(tls.serverNameOverride).toBe('temporal.internal');
    expect(tls.serverRootCACertificate.toString()).toBe('-- ca.pem --');
    expect(tls.clientCertPair.crt.toString()).toBe('-- client.pem --');
    expect(tls.clientCertPair.key.toString()).toBe('-- client.key --');
    // The Temporal CLI's variable names work as well.
    expect(temporalConnection({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(dir, 'ca.pem') }).tls).toHaveProperty(
      'serverRootCACertificate',
    );
  });

  it('turns TLS on for an API key (Temporal Cloud) unless told otherwise, and refuses half an mTLS pair', () => {
    expect(temporalConnection({ TEMPORAL_API_KEY: 'k' })).toEqual({
      address: '127.0.0.1:7233',
      apiKey: 'k',
      tls: true,
    });
    expect(temporalConnection({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: '0' })).toEqual({
      address: '127.0.0.1:7233',
      apiKey: 'k',
    });
    expect(temporalConnection({ TEMPORAL_TLS: 'true' }).tls).toBe(true);
    expect(() => temporalConnection({ TEMPORAL_TLS_CERT: '/x.pem' })).toThrow(
      'TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together',
    );
    expect(() => temporalConnection({ TEMPORAL_TLS_CA: '/nonexistent/ca.pem' })).toThrow(
      'cannot read the TLS CA /nonexistent/ca.pem',
    );
  });

  it('serves worker metrics when asked by flag or environment', () => {
    expect(metricsAddress([], {})).toBeUndefined();
    expect(metricsAddress(['--metrics'], {})).toBe(DEFAULT_METRICS_ADDRESS);
    expect(metricsAddress(['--metrics', '0.0.0.0:9000'], {})).toBe('0.0.0.0:9000');
    expect(metricsAddress(['--metrics=127.0.0.1:9001'], {})).toBe('127.0.0.1:9001');
    expect(metricsAddress([], { KDFLOW_METRICS_ADDRESS: '127.0.0.1:9002' })).toBe('127.0.0.1:9002');
  });
});
