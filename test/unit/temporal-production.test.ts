/**
 * temporal/production.yaml as the server itself renders it (`server render-config`) with the
 * environment of each runner, and the set-up's checks that speak to an operator.
 */
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  SERVER_CONFIG_DIR,
  ensureTemporalServer,
  findPostgres,
  serverPorts,
  startTemporalServer,
  type ServerBinaries,
} from '../../lib/temporal-production.ts';

let binaries: ServerBinaries;
beforeAll(() => {
  binaries = ensureTemporalServer();
}, 1_800_000);

interface Rendered {
  services: Record<string, { rpc: { grpcPort: number; membershipPort: number; httpPort?: number; bindOnIP: string } }>;
  persistence: { datastores: Record<string, { sql: { connectAddr: string; user: string; password: string } }> };
}

function render(env: Record<string, string>): Rendered {
  const result = spawnSync(binaries.server, ['--config', SERVER_CONFIG_DIR, '--env', 'production', 'render-config'], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
  expect(result.status, result.stderr).toBe(0);
  return parse(result.stdout) as Rendered;
}

describe('temporal/production.yaml', () => {
  it('renders the stock port layout at 7233 on 127.0.0.1 by default, and moves as a block with TEMPORAL_PORT', () => {
    const ports = (r: Rendered) =>
      ['frontend', 'history', 'matching', 'worker'].flatMap((s) => [
        r.services[s]?.rpc.grpcPort,
        r.services[s]?.rpc.membershipPort,
      ]);
    const stock = render({});
    expect(ports(stock)).toEqual([7233, 6933, 7234, 6934, 7235, 6935, 7239, 6939]);
    expect(stock.services.frontend?.rpc.httpPort).toBe(7243);
    expect(Object.values(stock.services).map((s) => s.rpc.bindOnIP)).toEqual(Array(4).fill('127.0.0.1'));
    const moved = render({ TEMPORAL_PORT: '21000' });
    expect([...ports(moved), moved.services.frontend?.rpc.httpPort].sort()).toEqual(serverPorts(21000).sort());
  });

  it("takes PostgreSQL's address, role and password from the environment (as the compose file sets them)", () => {
    const rendered = render({
      POSTGRES_SEEDS: 'postgresql',
      DB_PORT: '5432',
      POSTGRES_USER: 'temporal',
      POSTGRES_PWD: 's3cret',
    });
    for (const store of Object.values(rendered.persistence.datastores))
      // The server masks a password it renders.
      expect(store.sql).toMatchObject({ connectAddr: 'postgresql:5432', user: 'temporal', password: '******' });
  });
});

describe('the set-up says what is wrong', () => {
  it('names a KDFLOW_POSTGRES_BIN without pg_ctl', () => {
    expect(() => findPostgres({ KDFLOW_POSTGRES_BIN: '/nonexistent' })).toThrow(
      'KDFLOW_POSTGRES_BIN=/nonexistent has no pg_ctl; it must name the directory holding initdb and pg_ctl',
    );
  });

  it('refuses a frontend port whose membership ports PostgreSQL cannot store', async () => {
    await expect(
      startTemporalServer({
        binaries,
        db: { host: '127.0.0.1', port: 1, password: '' },
        port: 40_000,
        logFile: '/dev/null',
      }),
    ).rejects.toThrow("the server's frontend port: got 40000; expected 1324 to 33061");
  });
});
