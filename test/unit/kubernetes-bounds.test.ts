/**
 * runtimes/kubernetes/bounds.ts: an API server that takes a request (or an exec's websocket upgrade)
 * and never answers, as one left half-open by an orderly stop does, fails the runtime's call with a
 * retryable ApiTimeout naming the call, within the call's own bound; a call still waiting past the
 * slow threshold is named in a log line. The server here is a real socket that accepts and stays silent.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../runtimes/errors.ts';
import { KubernetesRuntime } from '../../runtimes/kubernetes/runtime.ts';
import type { MemberTarget } from '../../runtimes/runtime.ts';

const member: MemberTarget = { namespace: 'ns', cluster: 'c', name: 'c-r-0', role: 'r', ordinal: 0, fqdn: '' };
const BOUNDS = { callTimeoutMs: 300, streamIdleMs: 300, slowCallMs: 100 };

let server: Server | undefined;
const held: Socket[] = [];
const requests: string[] = [];

afterEach(async () => {
  for (const socket of held.splice(0)) socket.destroy();
  requests.length = 0;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/**
 * An "API server" that reads each request and never answers it. With `openUpgrades`, it completes
 * an exec's websocket handshake first and then says nothing (not even a pong).
 */
async function silentApiServer(openUpgrades = false): Promise<KubeConfig> {
  server = createServer((req) => {
    requests.push(`${req.method} ${req.url}`);
    held.push(req.socket);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    requests.push(`UPGRADE ${req.url}`);
    held.push(socket);
    if (!openUpgrades) return;
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    const protocol = String(req.headers['sec-websocket-protocol']).split(',')[0]?.trim();
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`,
    );
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'silent', server: `http://127.0.0.1:${address.port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'silent', cluster: 'silent', user: 'u' }],
    currentContext: 'silent',
  });
  return kc;
}

function capturingLogger(): { logger: pino.Logger; lines: () => { msg: string; call?: string }[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, stream), lines: () => out.map((l) => JSON.parse(l)) };
}

async function failure(promise: Promise<unknown>): Promise<RuntimeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RuntimeError);
  return error as RuntimeError;
}

// Without the bounds these calls wait forever: a short test limit makes that a failure, not a 3-minute wait.
describe('KubernetesRuntime against an API server that never answers', { timeout: 30_000 }, () => {
  it('an API request fails with a retryable ApiTimeout naming the call, and the wait is logged by name', async () => {
    const kc = await silentApiServer();
    const log = capturingLogger();
    const runtime = new KubernetesRuntime(kc, { bounds: BOUNDS, logger: log.logger });
    const error = await failure(runtime.listMembers('ns', 'c'));
    expect(error.type).toBe('ApiTimeout');
    expect(error.permanent).toBe(false);
    expect(error.message).toMatch(/^listing (pods|PVCs) of ns\/c: no answer from the API server within 0\.3s/);
    expect(requests.some((r) => r.startsWith('GET /api/v1/namespaces/ns/pods?'))).toBe(true);
    expect(log.lines().map((l) => l.call)).toContain('listing pods of ns/c');
  });

  it('a read of one object, as ensureMember and removeMember make, fails the same way', async () => {
    const kc = await silentApiServer();
    const runtime = new KubernetesRuntime(kc, { bounds: BOUNDS, logger: capturingLogger().logger });
    const error = await failure(runtime.oomKilledSince(member, 0));
    expect(error.type).toBe('ApiTimeout');
    expect(error.message).toMatch(/^reading pod c-r-0: no answer/);
  });

  it('an exec whose websocket upgrade is never answered fails with an ApiTimeout naming the exec', async () => {
    const kc = await silentApiServer();
    const runtime = new KubernetesRuntime(kc, { bounds: BOUNDS, logger: capturingLogger().logger });
    const error = await failure(runtime.exec(member, ['configure', '--x']));
    expect(error.type).toBe('ApiTimeout');
    expect(error.permanent).toBe(false);
    expect(error.message).toMatch(/^exec configure in ns\/c-r-0: no answer from the API server within 0\.3s/);
    expect(requests.some((r) => r.startsWith('UPGRADE /api/v1/namespaces/ns/pods/c-r-0/exec?'))).toBe(true);
  });

  it('an exec stream that opened and then goes silent (no data, no pong) fails with an ApiTimeout', async () => {
    const kc = await silentApiServer(true);
    const runtime = new KubernetesRuntime(kc, { bounds: BOUNDS, logger: capturingLogger().logger });
    const error = await failure(runtime.writeFiles(member, [{ path: '/etc/x', mode: 0o600, content: 'x' }]));
    expect(error.type).toBe('ApiTimeout');
    expect(error.message).toMatch(/^exec writeFile in ns\/c-r-0: no data and no pong on the exec stream within 0\.3s/);
  });
});
