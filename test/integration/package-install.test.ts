/**
 * The installPackage activity end to end on the local runtime: a real HTTP server, real files, real
 * tar. Heartbeats are observed with @temporalio/testing's MockActivityEnvironment; the server trickles
 * the next chunk only after the activity has reported the previous one, so nothing depends on timing.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createActivities, type BatchResult } from '../../activities/index.ts';
import { inPodCommand } from '../../runtimes/kubernetes/in-pod.ts';
import { LocalRuntime } from '../../runtimes/local.ts';
import type { MemberTarget } from '../../runtimes/runtime.ts';
import { tgz } from '../../testing/chaos/tarball.ts';

const quiet = pino({ level: 'silent' });
const member: MemberTarget = {
  namespace: 'pk',
  cluster: 'c',
  name: 'c-r-0',
  role: 'r',
  ordinal: 0,
  fqdn: 'c-r-0.c.pk.svc.cluster.local',
};

async function setup(packageOptions: { idleTimeoutMs: number; progressIntervalMs: number }) {
  const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-pkg-act-'));
  const runtime = new LocalRuntime(home);
  return { home, runtime, activities: createActivities({ runtime, home, logger: quiet, packageOptions }) };
}

/** A package whose random payload does not compress, so its bytes arrive in many chunks. */
function payloadPackage(): Buffer {
  return tgz([
    { name: 'appconfig/', type: 'dir' },
    { name: 'appconfig/startscript', type: 'file', mode: 0o755, content: '#!/bin/sh\necho ok\n' },
    { name: 'appconfig/payload', type: 'file', content: randomBytes(96 * 1024) },
  ]);
}

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/pkg.tgz`;
}

interface Beat {
  phase?: string;
  bytes?: number;
  member?: string;
  url?: string;
}

describe('installPackage: slow and broken fetches', () => {
  it('heartbeats the bytes fetched and unpacked, so a slow download is not a heartbeat timeout', async () => {
    const { activities, runtime } = await setup({ idleTimeoutMs: 60_000, progressIntervalMs: 60_000 });
    const body = payloadPackage();
    const chunk = 8 * 1024;
    let sent = 0;
    let response: http.ServerResponse | undefined;
    const sendNext = () => {
      const next = body.subarray(sent, sent + chunk);
      sent += next.length;
      if (sent >= body.length) response?.end(next);
      else response?.write(next);
    };
    const url = await serve((_req, res) => {
      response = res;
      res.writeHead(200, { 'content-length': String(body.length) });
      sendNext();
    });
    const env = new MockActivityEnvironment();
    const beats: Beat[] = [];
    env.on('heartbeat', (detail: Beat) => {
      beats.push(detail);
      // The next chunk goes out only once this one has been reported: a trickle without a clock.
      if (detail?.phase === 'fetch' && detail.bytes === sent && sent < body.length) sendNext();
    });
    const result = (await env.run(activities.installPackage, { packageURL: url, members: [member] })) as BatchResult;
    expect(result.failed).toEqual({});
    const fetched = beats.filter((b) => b.phase === 'fetch').map((b) => b.bytes ?? -1);
    expect(fetched.length).toBeGreaterThanOrEqual(body.length / chunk);
    expect(fetched).toEqual([...fetched].sort((a, b) => a - b));
    expect(new Set(fetched).size).toBeGreaterThanOrEqual(body.length / chunk);
    expect(fetched.at(-1)).toBe(body.length);
    expect(beats.find((b) => b.phase === 'fetch')?.url).toBe(url);
    const unpacked = beats.filter((b) => b.phase === 'unpack' && b.member === member.name).map((b) => b.bytes ?? -1);
    expect(unpacked.length).toBeGreaterThan(0);
    expect(unpacked.at(-1)).toBeGreaterThan(0);
    expect((await stat(path.join(runtime.memberRoot(member), 'opt/guestconfig/appconfig/payload'))).size).toBe(
      96 * 1024,
    );
  });

  it('gives up on a server that stops sending, naming the URL, the bytes received and the idle time', async () => {
    const { activities } = await setup({ idleTimeoutMs: 300, progressIntervalMs: 60_000 });
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100000' });
      res.write(Buffer.alloc(1000));
    });
    const env = new MockActivityEnvironment();
    let received = 0;
    env.on('heartbeat', (detail: Beat) => {
      if (detail?.phase === 'fetch') received = detail.bytes ?? 0;
    });
    const error = await env.run(activities.installPackage, { packageURL: url, members: [member] }).then(
      () => new Error('accepted'),
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain(url);
    // Normally 1000; on a starved machine the idle timer may fire first. Either way the message agrees with what arrived.
    expect(error.message).toContain(`stalled: no data for 0.3 s after ${received} bytes`);
    expect([0, 1000]).toContain(received);
  });

  it('gives up on a server that never answers', async () => {
    const { activities } = await setup({ idleTimeoutMs: 300, progressIntervalMs: 60_000 });
    const url = await serve(() => {});
    const error = await new MockActivityEnvironment()
      .run(activities.installPackage, { packageURL: url, members: [member] })
      .then(
        () => new Error('accepted'),
        (e: unknown) => e as Error,
      );
    expect(error.message).toContain(url);
    expect(error.message).toMatch(/stalled: no data for 0\.3 s after 0 bytes/);
  });

  it('says "connection refused" when nothing listens', async () => {
    const { activities } = await setup({ idleTimeoutMs: 5_000, progressIntervalMs: 60_000 });
    const url = await serve(() => {});
    const closing = servers.pop() as http.Server;
    await new Promise((resolve) => closing.close(resolve));
    const error = await new MockActivityEnvironment()
      .run(activities.installPackage, { packageURL: url, members: [member] })
      .then(
        () => new Error('accepted'),
        (e: unknown) => e as Error,
      );
    expect(error.message).toContain(`connection refused to ${url}`);
    expect(error.message).not.toMatch(/fetch failed/);
  });
});

describe('installPackage: setuid, setgid and sticky bits', () => {
  const special = () =>
    tgz([
      { name: 'appconfig/', type: 'dir', mode: 0o1777 },
      { name: 'appconfig/startscript', type: 'file', mode: 0o4755, content: '#!/bin/sh\necho ok\n' },
      { name: 'appconfig/setgid', type: 'file', mode: 0o2755, content: 'x' },
      { name: 'appconfig/both', type: 'file', mode: 0o6711, content: 'x' },
    ]);
  const modeOf = async (file: string) => (await stat(file)).mode & 0o7777;

  it('are stripped on the local runtime', async () => {
    const { activities, runtime, home } = await setup({ idleTimeoutMs: 5_000, progressIntervalMs: 60_000 });
    const file = path.join(home, 'special.tgz');
    await writeFile(file, special());
    const result = (await new MockActivityEnvironment().run(activities.installPackage, {
      packageURL: `file://${file}`,
      members: [member],
    })) as BatchResult;
    expect(result.failed).toEqual({});
    const dir = path.join(runtime.memberRoot(member), 'opt/guestconfig/appconfig');
    expect(await modeOf(path.join(dir, 'startscript'))).toBe(0o755);
    expect(await modeOf(path.join(dir, 'setgid'))).toBe(0o755);
    expect((await modeOf(path.join(dir, 'both'))) & 0o7000).toBe(0);
    expect((await modeOf(dir)) & 0o7000).toBe(0);
  });

  it('are stripped by the in-pod unpack of the Kubernetes runtime (run here with sh and tar under a root prefix)', async () => {
    const prefix = await mkdtemp(path.join(os.tmpdir(), 'kdflow-inpod-'));
    const bytes = special();
    const [command, ...args] = inPodCommand('installPackage', 'ns/pod-0', [bytes.length]);
    execFileSync(command as string, args, {
      input: bytes,
      env: { PATH: process.env.PATH, KDFLOW_ROOT_PREFIX: prefix },
    });
    const dir = path.join(prefix, 'ns/pod-0/opt/guestconfig/appconfig');
    for (const name of ['startscript', 'setgid', 'both']) expect((await modeOf(path.join(dir, name))) & 0o7000).toBe(0);
    expect((await modeOf(path.join(dir, 'startscript'))) & 0o111).not.toBe(0);
    expect((await modeOf(dir)) & 0o7000).toBe(0);
  });
});
