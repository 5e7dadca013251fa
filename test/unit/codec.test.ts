import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.ts';
import {
  CodecKeyError,
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  FAILURE_CONVERTER_PATH,
  KEY_ID_METADATA,
  PayloadDecryptError,
  kdflowDataConverter,
  loadCodecKeys,
  parseKeys,
  type CodecKey,
} from '../../lib/codec.ts';
import { startCodecServer, type CodecServer } from '../../lib/codec-server.ts';
import { failureConverter } from '../../lib/codec-failures.ts';

const newKey = (id: string): CodecKey => ({ id, key: randomBytes(32) });
const entry = (k: CodecKey) => `${k.id}:${k.key.toString('base64')}`;
const SECRET = 'password=hunter2';
const plain = (): Payload => defaultPayloadConverter.toPayload({ env: [{ name: 'DB', value: SECRET }] });
const bytesOf = (payloads: Payload[]) =>
  Buffer.concat(payloads.flatMap((p) => [...Object.values(p.metadata ?? {}), p.data ?? new Uint8Array()]));
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');

describe('EncryptionCodec', () => {
  const k1 = newKey('k1');
  const k2 = newKey('k2');

  it('round-trips a payload, metadata included, and stores neither its text nor its encoding', async () => {
    const codec = new EncryptionCodec([k1]);
    const [encoded] = await codec.encode([plain()]);
    expect(text(encoded?.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(encoded?.metadata?.[KEY_ID_METADATA])).toBe('k1');
    const stored = bytesOf([encoded as Payload]);
    expect(stored.includes('hunter2')).toBe(false);
    expect(stored.includes('json/plain')).toBe(false);
    const [decoded] = await codec.decode([encoded as Payload]);
    expect(defaultPayloadConverter.fromPayload(decoded as Payload)).toEqual({ env: [{ name: 'DB', value: SECRET }] });
    // A fresh IV each time: the same payload never encrypts to the same bytes.
    const [again] = await codec.encode([plain()]);
    expect(Buffer.from(again?.data ?? []).equals(Buffer.from(encoded?.data ?? []))).toBe(false);
  });

  it('rotates: new payloads use the first key, old ones decode with any key listed', async () => {
    const [old] = await new EncryptionCodec([k1]).encode([plain()]);
    const rotated = new EncryptionCodec([k2, k1]);
    const [fresh] = await rotated.encode([plain()]);
    expect(text(fresh?.metadata?.[KEY_ID_METADATA])).toBe('k2');
    const decoded = await rotated.decode([old as Payload, fresh as Payload]);
    for (const payload of decoded) expect(defaultPayloadConverter.fromPayload(payload)).toHaveProperty('env');
  });

  it('refuses a payload whose key id it does not have, naming the id and the ids it has', async () => {
    const [encoded] = await new EncryptionCodec([k1]).encode([plain()]);
    await expect(new EncryptionCodec([k2]).decode([encoded as Payload])).rejects.toThrowError(
      new PayloadDecryptError(
        'a payload is encrypted with key id "k1", which is not among the configured keys (k2); add that key below the current one',
      ),
    );
    await expect(new EncryptionCodec([]).decode([encoded as Payload])).rejects.toThrowError(
      /a payload is encrypted \(key id "k1"\) and no key is configured: set KDFLOW_CODEC_KEY_FILE or KDFLOW_CODEC_KEYS/,
    );
  });

  it('refuses tampered ciphertext, a moved key id and a different key under the same id (the auth tag)', async () => {
    const codec = new EncryptionCodec([k1, k2]);
    const [encoded] = (await codec.encode([plain()])) as [Payload];
    const refused = /a payload encrypted with key "k\d" failed authentication: it was altered/;
    for (const index of [0, 20, (encoded.data?.length ?? 0) - 1]) {
      const data = Buffer.from(encoded.data ?? []);
      data[index] = (data[index] ?? 0) ^ 1;
      await expect(codec.decode([{ ...encoded, data }])).rejects.toThrowError(refused);
    }
    // The key id is authenticated too: relabelled as k2's, it fails.
    const relabelled = { ...encoded, metadata: { ...encoded.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } };
    await expect(codec.decode([relabelled])).rejects.toThrowError(refused);
    await expect(new EncryptionCodec([{ id: 'k1', key: randomBytes(32) }]).decode([encoded])).rejects.toThrowError(
      refused,
    );
    await expect(codec.decode([{ ...encoded, data: Buffer.alloc(10) }])).rejects.toThrowError(/is truncated/);
  });

  it('without keys encodes nothing and passes unencrypted payloads through', async () => {
    const codec = new EncryptionCodec([]);
    const payload = plain();
    expect(await codec.encode([payload])).toEqual([payload]);
    expect(await codec.decode([payload])).toEqual([payload]);
    expect(kdflowDataConverter(codec)).toEqual({ payloadCodecs: [codec] });
    expect(kdflowDataConverter(new EncryptionCodec([k1]))).toMatchObject({
      failureConverterPath: FAILURE_CONVERTER_PATH,
    });
  });

  it("puts a failure's message and stack into a payload the codec encrypts", async () => {
    const failure = failureConverter.errorToFailure(new Error(`script said ${SECRET}`), defaultPayloadConverter);
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace).toBe('');
    const [encrypted] = await new EncryptionCodec([k1]).encode([failure.encodedAttributes as Payload]);
    expect(bytesOf([encrypted as Payload]).includes('hunter2')).toBe(false);
    const [decoded] = await new EncryptionCodec([k1]).decode([encrypted as Payload]);
    const back = failureConverter.failureToError({ ...failure, encodedAttributes: decoded }, defaultPayloadConverter);
    expect(back.message).toBe(`script said ${SECRET}`);
  });
});

describe('key settings', () => {
  const k1 = newKey('2026-12');
  const k0 = newKey('2026-06');
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-codec-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads ID:BASE64 entries, the first the current key, from the variable or an owner-only file', async () => {
    expect(parseKeys(`${entry(k1)}, ${entry(k0)}`, 'KDFLOW_CODEC_KEYS').map((k) => k.id)).toEqual([
      '2026-12',
      '2026-06',
    ]);
    const file = path.join(dir, 'keys');
    await writeFile(file, `# current first\n${entry(k1)}\n\n${entry(k0)}  # old, decode only\n`, { mode: 0o600 });
    const loaded = loadCodecKeys({ KDFLOW_CODEC_KEY_FILE: file });
    expect(loaded?.keys).toEqual([k1, k0]);
    await chmod(file, 0o400);
    expect(loadCodecKeys({ KDFLOW_CODEC_KEY_FILE: file })?.keys).toHaveLength(2);
    expect(loadCodecKeys({})).toBeUndefined();
  });

  it('refuses a key file others can read, naming the mode and the fix', async () => {
    const file = path.join(dir, 'open-keys');
    await writeFile(file, `${entry(k1)}\n`, { mode: 0o644 });
    await chmod(file, 0o644);
    expect(() => loadCodecKeys({ KDFLOW_CODEC_KEY_FILE: file })).toThrowError(
      new CodecKeyError(
        `KDFLOW_CODEC_KEY_FILE=${file}: mode 0644 lets others read it; a key file must be readable by its owner only: chmod 600 ${file}`,
      ),
    );
    expect(() => loadCodecKeys({ KDFLOW_CODEC_KEY_FILE: path.join(dir, 'missing') })).toThrowError(
      /KDFLOW_CODEC_KEY_FILE=.*missing: cannot open it \(ENOENT\)/,
    );
  });

  it('refuses bad entries by where they are and what is accepted, never echoing a key', () => {
    const short = randomBytes(16).toString('base64');
    const cases: [string, RegExp][] = [
      ['', /KDFLOW_CODEC_KEYS holds no key; expected lines of ID:BASE64/],
      [short, /an entry is not ID:BASE64 with an id of 1 to 64 letters/],
      [`k1:${short}`, /KDFLOW_CODEC_KEYS: key "k1" is 16 bytes; expected 32 \(AES-256\), base64 \(make one with/],
      ['k1:not*base64!', /key "k1" is not base64/],
      [`${entry(k1)},${entry({ ...k0, id: k1.id })}`, /key id "2026-12" is listed twice/],
      [`bad id:${k1.key.toString('base64')}`, /an entry is not ID:BASE64/],
    ];
    for (const [value, message] of cases) {
      let error: Error | undefined;
      try {
        parseKeys(value, 'KDFLOW_CODEC_KEYS');
      } catch (e) {
        error = e as Error;
      }
      expect(error, value).toBeInstanceOf(CodecKeyError);
      expect(error?.message, value).toMatch(message);
      expect(error?.message, value).not.toContain(short);
      expect(error?.message, value).not.toContain(k1.key.toString('base64'));
    }
    expect(() => parseKeys(`k1:${short}\nk2:${short}`, 'FILE')).toThrowError(/^FILE line 1: key "k1" is 16 bytes/);
    expect(() => loadCodecKeys({ KDFLOW_CODEC_KEYS: entry(k1), KDFLOW_CODEC_KEY_FILE: '/x' })).toThrowError(
      'set KDFLOW_CODEC_KEY_FILE or KDFLOW_CODEC_KEYS, not both',
    );
  });
});

describe('kdflow codec-server: the codec server protocol over HTTP', () => {
  const key = newKey('k1');
  const codec = new EncryptionCodec([key]);
  const UI = 'http://127.0.0.1:8233';
  let open: CodecServer;
  let guarded: CodecServer;
  beforeAll(async () => {
    const logger = pino({ level: 'silent' });
    open = await startCodecServer({ codec, host: '127.0.0.1', port: 0, origins: [UI], logger });
    guarded = await startCodecServer({ codec, host: '127.0.0.1', port: 0, origins: [UI], token: 's3cret', logger });
  });
  afterAll(async () => {
    await open?.close();
    await guarded?.close();
  });

  const json = (payloads: Payload[]) =>
    JSON.stringify({
      payloads: payloads.map((p) => ({
        metadata: Object.fromEntries(
          Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
        ),
        data: Buffer.from(p.data ?? []).toString('base64'),
      })),
    });
  const post = (url: string, body: string, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });

  it('encodes and decodes as the Web UI calls it, under / and /NAMESPACE/', async () => {
    const encoded = (await (await post(`${open.url}/default/encode`, json([plain()]))).json()) as {
      payloads: { metadata: Record<string, string>; data: string }[];
    };
    const first = encoded.payloads[0];
    expect(Buffer.from(first?.metadata.encoding ?? '', 'base64').toString()).toBe(ENCRYPTED_ENCODING);
    const response = await post(`${open.url}/decode`, JSON.stringify(encoded), {
      Origin: UI,
      'X-Namespace': 'default',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(UI);
    const decoded = (await response.json()) as { payloads: { data: string }[] };
    expect(Buffer.from(decoded.payloads[0]?.data ?? '', 'base64').toString()).toContain(SECRET);
  });

  it("answers the UI's preflight, and nothing to another origin", async () => {
    const preflight = await fetch(`${open.url}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: UI, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-namespace' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/);
    const other = await post(`${open.url}/decode`, json([]), { Origin: 'http://evil.example' });
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('with a token, refuses calls without it (the preflight still answers)', async () => {
    const [encrypted] = await codec.encode([plain()]);
    const body = json([encrypted as Payload]);
    expect((await post(`${guarded.url}/decode`, body)).status).toBe(401);
    expect((await post(`${guarded.url}/decode`, body, { Authorization: 'Bearer wrong' })).status).toBe(401);
    const preflight = await fetch(`${guarded.url}/decode`, { method: 'OPTIONS', headers: { Origin: UI } });
    expect(preflight.status).toBe(204);
    const ok = await post(`${guarded.url}/decode`, body, { Authorization: 'Bearer s3cret' });
    expect(ok.status).toBe(200);
  });

  it('says what is wrong with a bad call', async () => {
    expect((await fetch(`${open.url}/decode`)).status).toBe(405);
    // proto3 JSON leaves an empty list out, as the Temporal CLI sends it.
    const empty = await post(`${open.url}/decode`, '{}');
    expect([empty.status, await empty.json()]).toEqual([200, { payloads: [] }]);
    expect((await post(`${open.url}/elsewhere`, '{}')).status).toBe(404);
    const notJson = await post(`${open.url}/decode`, 'payloads');
    expect([notJson.status, await notJson.text()]).toEqual([
      400,
      'request body is not JSON; expected {"payloads": [...]}\n',
    ]);
    const [other] = await new EncryptionCodec([newKey('k9')]).encode([plain()]);
    const unknown = await post(`${open.url}/decode`, json([other as Payload]));
    expect([unknown.status, await unknown.text()]).toEqual([
      400,
      'a payload is encrypted with key id "k9", which is not among the configured keys (k1); add that key below the current one\n',
    ]);
  });

  it('refuses to start without keys, and a bad --listen or --origin, as usage errors', async () => {
    const errors: string[] = [];
    const saved = { file: process.env.KDFLOW_CODEC_KEY_FILE, keys: process.env.KDFLOW_CODEC_KEYS };
    delete process.env.KDFLOW_CODEC_KEY_FILE;
    delete process.env.KDFLOW_CODEC_KEYS;
    try {
      expect(
        await main(
          ['codec-server'],
          () => {},
          (l) => errors.push(l),
        ),
      ).toBe(2);
      expect(
        await main(
          ['codec-server', '--listen', '8888'],
          () => {},
          (l) => errors.push(l),
        ),
      ).toBe(2);
      expect(
        await main(
          ['codec-server', '--origin', 'http://x:1/ui'],
          () => {},
          (l) => errors.push(l),
        ),
      ).toBe(2);
    } finally {
      if (saved.file !== undefined) process.env.KDFLOW_CODEC_KEY_FILE = saved.file;
      if (saved.keys !== undefined) process.env.KDFLOW_CODEC_KEYS = saved.keys;
    }
    expect(errors).toEqual([
      'kdflow: kdflow codec-server needs the payload keys: set KDFLOW_CODEC_KEY_FILE or KDFLOW_CODEC_KEYS',
      'kdflow: --listen: got "8888"; expected HOST:PORT, such as 127.0.0.1:8888',
      'kdflow: --origin: got "http://x:1/ui"; expected the Web UI\'s origin as the browser sends it, such as http://127.0.0.1:8233 (no path, no trailing slash)',
    ]);
  });
});
