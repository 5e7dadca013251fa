/**
 * The codec server that `kdflow codec-server` runs (docs/adr/0035-encrypted-payloads.md): Temporal's
 * codec server protocol, `POST /encode` and `POST /decode` (also under `/NAMESPACE/…`, as the
 * Temporal CLI's `--codec-endpoint` calls it), each taking and giving `{"payloads": [...]}` in
 * proto3 JSON (bytes as base64). The Web UI calls it from the browser, so it answers CORS for the
 * UI origins it is given and no others; an optional bearer token guards the rest. Whoever can call
 * /decode can read every payload: keep it on loopback or behind the token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload } from '@temporalio/common';
import type { Logger } from 'pino';
import type { EncryptionCodec } from './codec.ts';

/** Temporal's blob limit is 2 MiB a payload; a page of history holds many. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;
const ROUTE = /^(?:\/[^/]+)?\/(encode|decode)\/?$/;

export interface CodecServerOptions {
  codec: EncryptionCodec;
  host: string;
  port: number;
  /** Browser origins allowed to call it (the Web UI's), exactly as the browser sends them. */
  origins: readonly string[];
  /** When set, every call needs `Authorization: Bearer TOKEN`. */
  token?: string;
  logger: Logger;
}

export interface CodecServer {
  url: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

type JsonPayload = { metadata?: Record<string, string>; data?: string };

function fromJson(value: unknown, index: number): Payload {
  const where = `payloads[${index}]`;
  if (typeof value !== 'object' || value === null) throw new HttpError(400, `${where}: expected an object`);
  const { metadata = {}, data = '' } = value as JsonPayload;
  if (typeof metadata !== 'object' || metadata === null)
    throw new HttpError(400, `${where}.metadata: expected an object of base64 strings`);
  if (typeof data !== 'string') throw new HttpError(400, `${where}.data: expected a base64 string`);
  const decoded: Record<string, Uint8Array> = Object.create(null) as Record<string, Uint8Array>;
  for (const [key, text] of Object.entries(metadata)) {
    if (typeof text !== 'string') throw new HttpError(400, `${where}.metadata.${key}: expected a base64 string`);
    decoded[key] = Buffer.from(text, 'base64');
  }
  return { metadata: decoded, data: Buffer.from(data, 'base64') };
}

function toJson(payload: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [key, bytes] of Object.entries(payload.metadata ?? {}))
    metadata[key] = Buffer.from(bytes ?? new Uint8Array()).toString('base64');
  return { metadata, data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64') };
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not JSON; expected {"payloads": [...]}');
  }
}

const digest = (text: string) => createHash('sha256').update(text).digest();

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const expected = options.token ? digest(`Bearer ${options.token}`) : undefined;
  const allowed = new Set(options.origins);
  const log = options.logger;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const origin = req.headers.origin;
    // A browser page of any other origin gets nothing, not even an error it could read.
    if (origin !== undefined && !allowed.has(origin)) throw new HttpError(403, `origin ${origin} is not allowed`);
    if (origin !== undefined) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    const route = ROUTE.exec(new URL(req.url ?? '/', 'http://codec').pathname);
    if (!route) throw new HttpError(404, 'not found; the codec server answers POST /encode and POST /decode');
    if (req.method === 'OPTIONS') {
      // The preflight carries no credentials: it is answered before the token is checked.
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Access-Control-Max-Age', '600');
      res.writeHead(204).end();
      return;
    }
    if (req.method !== 'POST') throw new HttpError(405, `${req.method} is not allowed; use POST`);
    if (expected) {
      const given = digest(req.headers.authorization ?? '');
      if (!timingSafeEqual(given, expected)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        throw new HttpError(401, 'a bearer token is required (Authorization: Bearer TOKEN)');
      }
    }
    const body = await readBody(req);
    if (typeof body !== 'object' || body === null) throw new HttpError(400, 'expected {"payloads": [...]}');
    // proto3 JSON leaves an empty list out: `{}` is no payloads.
    const list = (body as { payloads?: unknown }).payloads ?? [];
    if (!Array.isArray(list)) throw new HttpError(400, 'payloads: expected a list');
    const payloads = list.map(fromJson);
    const out = route[1] === 'encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ payloads: out.map(toJson) }));
    log.debug({ route: route[1], payloads: payloads.length, namespace: req.headers['x-namespace'] }, 'codec call');
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 400;
      const message = (error as Error).message;
      log.warn({ status, path: req.url, origin: req.headers.origin, error: message }, 'codec call refused');
      if (!res.headersSent) res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(`${message}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
