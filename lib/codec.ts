/**
 * Payload encryption (docs/adr/0035-encrypted-payloads.md): every payload the client, worker and shim
 * send to Temporal (specs, env values, activity inputs and results, status, script output, failure
 * messages) is AES-256-GCM ciphertext there, with the id of the key in the payload's metadata. Keys
 * come from a file (KDFLOW_CODEC_KEY_FILE, owner-only) or the environment (KDFLOW_CODEC_KEYS); the
 * first key encrypts, every key listed decrypts, which is how keys rotate. Without a key kdflow sends
 * payloads as before, and says so where an encrypted one arrives.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fstatSync, openSync, readFileSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';

export const KEY_FILE_ENV = 'KDFLOW_CODEC_KEY_FILE';
export const KEYS_ENV = 'KDFLOW_CODEC_KEYS';
/** The metadata Temporal's codec samples use, so other tools recognise an encrypted payload. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const HOW_TO_MAKE = 'make one with: echo "ID:$(openssl rand -base64 32)"';
const Payloads = proto.temporal.api.common.v1.Payload;

/** A key setting that cannot be used: names the variable or file, the entry, and what is accepted. Never the key. */
export class CodecKeyError extends Error {
  override readonly name = 'CodecKeyError';
}

/** A payload that cannot be decrypted: an unknown key id, or ciphertext that fails authentication. */
export class PayloadDecryptError extends Error {
  override readonly name = 'PayloadDecryptError';
}

export interface CodecKey {
  id: string;
  key: Buffer;
}

/** Where the keys came from, for messages and the worker's start line (never the keys themselves). */
export interface CodecKeys {
  keys: CodecKey[];
  source: string;
}

/**
 * `ID:BASE64` entries, the first the current key. In a file one per line (`#` starts a comment);
 * in the variable separated by commas or white space. Each key is 32 bytes (AES-256), base64.
 */
export function parseKeys(text: string, source: string): CodecKey[] {
  const entries = text
    .split(/\r?\n/)
    .map((line, index) => ({ line: index + 1, text: line.replace(/#.*/, '').trim() }))
    .flatMap(({ line, text: rest }) =>
      rest
        .split(/[\s,]+/)
        .filter(Boolean)
        .map((entry) => ({ line, entry })),
    );
  if (entries.length === 0)
    throw new CodecKeyError(`${source} holds no key; expected lines of ID:BASE64 (${HOW_TO_MAKE})`);
  const keys: CodecKey[] = [];
  for (const { line, entry } of entries) {
    const where = text.includes('\n') ? `${source} line ${line}` : source;
    const colon = entry.indexOf(':');
    const id = colon < 0 ? '' : entry.slice(0, colon);
    const encoded = colon < 0 ? '' : entry.slice(colon + 1);
    if (!KEY_ID.test(id))
      throw new CodecKeyError(
        `${where}: an entry is not ID:BASE64 with an id of 1 to 64 letters, digits, ".", "_" or "-" (${HOW_TO_MAKE})`,
      );
    const key = Buffer.from(encoded, 'base64');
    const canonical = (b: string) => b.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
    if (key.length === 0 || canonical(key.toString('base64')) !== canonical(encoded))
      throw new CodecKeyError(`${where}: key "${id}" is not base64 (${HOW_TO_MAKE})`);
    if (key.length !== KEY_BYTES)
      throw new CodecKeyError(
        `${where}: key "${id}" is ${key.length} bytes; expected ${KEY_BYTES} (AES-256), base64 (${HOW_TO_MAKE})`,
      );
    if (keys.some((k) => k.id === id)) throw new CodecKeyError(`${where}: key id "${id}" is listed twice`);
    keys.push({ id, key });
  }
  return keys;
}

/** Owner-only (0600 or 0400): a key anyone else on the machine can read is no secret. Read through one descriptor. */
export function readKeyFile(file: string): string {
  const where = `${KEY_FILE_ENV}=${file}`;
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new CodecKeyError(`${where}: cannot open it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new CodecKeyError(`${where}: not a regular file`);
    const mode = stat.mode & 0o777;
    if ((mode & 0o077) !== 0)
      throw new CodecKeyError(
        `${where}: mode ${mode.toString(8).padStart(4, '0')} lets others read it; a key file must be readable by its owner only: chmod 600 ${file}`,
      );
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** The configured keys, or undefined when neither variable is set (payloads stay unencrypted). */
export function loadCodecKeys(env: NodeJS.ProcessEnv = process.env): CodecKeys | undefined {
  const file = env[KEY_FILE_ENV];
  const inline = env[KEYS_ENV];
  if (file && inline) throw new CodecKeyError(`set ${KEY_FILE_ENV} or ${KEYS_ENV}, not both`);
  if (file) return { keys: parseKeys(readKeyFile(file), `${KEY_FILE_ENV}=${file}`), source: `${KEY_FILE_ENV}` };
  if (inline) return { keys: parseKeys(inline, KEYS_ENV), source: KEYS_ENV };
  return undefined;
}

const utf8 = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : '');

/**
 * AES-256-GCM over the whole serialized payload (its own metadata included), a fresh 96-bit IV each
 * time, the key id as additional data: `data` is IV ‖ ciphertext ‖ tag. With no keys it encodes
 * nothing and refuses encrypted payloads with a message saying how to configure a key.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly byId: ReadonlyMap<string, Buffer>;
  private readonly current: CodecKey | undefined;

  constructor(keys: readonly CodecKey[]) {
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
    this.current = keys[0];
  }

  get currentKeyId(): string | undefined {
    return this.current?.id;
  }

  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const current = this.current;
    if (!current) return payloads;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current.key, iv);
      cipher.setAAD(Buffer.from(current.id));
      const body = Buffer.concat([cipher.update(Payloads.encode(payload).finish()), cipher.final()]);
      return {
        metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: Buffer.from(current.id) },
        data: Buffer.concat([iv, body, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decodeOne(payload));
  }

  private decodeOne(payload: Payload): Payload {
    // Written before encryption was turned on, or never encrypted (search attributes): as it is.
    if (utf8(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
    const id = utf8(payload.metadata?.[KEY_ID_METADATA]);
    const key = this.byId.get(id);
    if (!key)
      throw new PayloadDecryptError(
        this.byId.size === 0
          ? `a payload is encrypted (key id "${id}") and no key is configured: set ${KEY_FILE_ENV} or ${KEYS_ENV} (docs/security.md)`
          : `a payload is encrypted with key id "${id}", which is not among the configured keys (${this.keyIds.join(', ')}); add that key below the current one`,
      );
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new PayloadDecryptError(`a payload encrypted with key "${id}" is truncated (${data.length} bytes)`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(id));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return Payloads.decode(plain);
    } catch {
      throw new PayloadDecryptError(
        `a payload encrypted with key "${id}" failed authentication: it was altered, or the key with that id is not the one that encrypted it`,
      );
    }
  }
}

/** The codec for the configured keys, or one with none (encodes nothing, explains encrypted payloads). */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): EncryptionCodec {
  return new EncryptionCodec(loadCodecKeys(env)?.keys ?? []);
}

/** Messages and stack traces of failures become an encoded payload, so the codec encrypts them too. */
export const FAILURE_CONVERTER_PATH = fileURLToPath(new URL('./codec-failures.ts', import.meta.url));

/**
 * For every Client (CLI, shim) and Worker. With a key, failures' messages and stack traces go into an
 * encrypted payload as well; without one, failures stay as they were.
 */
export function kdflowDataConverter(codec: EncryptionCodec): DataConverter {
  return {
    payloadCodecs: [codec],
    ...(codec.currentKeyId ? { failureConverterPath: FAILURE_CONVERTER_PATH } : {}),
  };
}

/** The data converter of a Client (CLI, shim, scripts), from the environment's keys. */
export function clientDataConverter(env: NodeJS.ProcessEnv = process.env): DataConverter {
  return kdflowDataConverter(codecFromEnv(env));
}
