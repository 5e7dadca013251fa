/**
 * docker-compose.temporal.yml is valid Compose (checked by `docker-compose config`, which needs no
 * Docker engine), runs the server with the repo's temporal/production.yaml, registers exactly kdflow's search attributes, and its registration job really works:
 * its script runs here against a dev server that has none of them, twice (it must be idempotent).
 */
import { Connection } from '@temporalio/client';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SEARCH_ATTRIBUTE_KEYS } from '../../api/index.ts';
import { freePort } from '../../lib/free-port.ts';
import { SERVER_CONFIG_DIR } from '../../lib/temporal-production.ts';
import { ensureTemporalCli } from '../../lib/temporal-server.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const COMPOSE = path.join(REPO, 'docker-compose.temporal.yml');
const hasCompose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
}

function composeConfig(...args: string[]): Record<string, Service> {
  const result = spawnSync('docker-compose', ['-f', COMPOSE, ...args, 'config'], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, TEMPORAL_NAMESPACE: '' },
  });
  expect(result.stderr).not.toMatch(/error|invalid/i);
  expect(result.status).toBe(0);
  return (parse(result.stdout) as { services: Record<string, Service> }).services;
}

describe.skipIf(!hasCompose)('docker-compose.temporal.yml', () => {
  it('is valid Compose with PostgreSQL, the server, the Web UI, the attribute job and the worker profile', () => {
    const services = composeConfig('--profile', 'worker');
    expect(Object.keys(services).sort()).toEqual([
      'kdflow-worker',
      'postgresql',
      'temporal',
      'temporal-schema',
      'temporal-search-attributes',
      'temporal-ui',
    ]);
    expect(services.temporal?.image).toMatch(/^temporalio\/server:\d+\.\d+\.\d+$/);
    expect(services.temporal?.environment).toMatchObject({ POSTGRES_SEEDS: 'postgresql' });
    // The same settings as `npm run temporal:prod`: the repo's temporal/ directory, mounted and named.
    expect(services.temporal?.volumes).toEqual([`${SERVER_CONFIG_DIR}:/etc/kdflow/temporal:ro`]);
    expect(services.temporal?.command?.[0]).toContain('--config /etc/kdflow/temporal --env production start');
    expect(services.temporal?.depends_on?.['temporal-schema']?.condition).toBe('service_completed_successfully');
    expect(services['temporal-ui']?.image).toMatch(/^temporalio\/ui:\d+\.\d+\.\d+$/);
    expect(services['temporal-ui']?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(services['kdflow-worker']?.profiles).toEqual(['worker']);
    expect(services['kdflow-worker']?.depends_on?.['temporal-search-attributes']?.condition).toBe(
      'service_completed_successfully',
    );
  });

  it('registers exactly the search attributes of api/search-attributes.ts, idempotently', async () => {
    const job = composeConfig()['temporal-search-attributes'] as Service;
    const declared = SEARCH_ATTRIBUTE_KEYS.map((k) => `${k.name}=${k.type === 'INT' ? 'Int' : 'Keyword'}`);
    expect(job.environment?.KD_SEARCH_ATTRIBUTES?.split(/\s+/)).toEqual(declared);

    // The job's own script (Compose's $$ is a literal $), against a fresh dev server without the attributes.
    const script = (job.command?.[0] ?? '').replaceAll('$$', '$');
    const port = await freePort();
    const cli = ensureTemporalCli();
    const server = spawn(
      cli,
      ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error'],
      { stdio: 'ignore' },
    );
    try {
      const env = {
        ...process.env,
        ...job.environment,
        TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
        PATH: `${path.dirname(cli)}${path.delimiter}${process.env.PATH}`,
      };
      const run = () =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          const child = spawn('/bin/sh', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          child.stderr.on('data', (d) => (out += d));
          child.once('exit', (code) => resolve({ code, out }));
        });
      const first = await run();
      expect(first.code, first.out).toBe(0);
      const second = await run();
      expect(second.code, second.out).toBe(0);
      expect(second.out).toContain('KdMembers exists');

      const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
      try {
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
        const types = Object.fromEntries(SEARCH_ATTRIBUTE_KEYS.map((k) => [k.name, customAttributes?.[k.name]]));
        // IndexedValueType: 2 = KEYWORD, 3 = INT.
        expect(types).toEqual({ KdCluster: 2, KdNamespace: 2, KdApp: 2, KdPhase: 2, KdMembers: 3 });
      } finally {
        await connection.close();
      }
    } finally {
      const gone = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await gone;
    }
  });
});
