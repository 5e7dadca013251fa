/**
 * Temporal payloads as the default data converter writes them (`json/plain`, `binary/null`), for the
 * CLI's lean client (docs/adr/0032). A payload codec (such as an encrypting one) plugs in as the SDK's
 * own `PayloadCodec`: encoding runs the codecs in order after conversion, decoding in reverse before it.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import { Fields, bytesField, message, messageField, stringField } from './protowire.ts';

const ENCODING = 'encoding';
const utf8 = (text: string) => Buffer.from(text, 'utf8');

export class PayloadDecodeError extends Error {
  override readonly name = 'PayloadDecodeError';
}

export function toPayload(value: unknown): Payload {
  if (value === undefined) return { metadata: { [ENCODING]: utf8('binary/null') }, data: new Uint8Array() };
  return { metadata: { [ENCODING]: utf8('json/plain') }, data: utf8(JSON.stringify(value)) };
}

export function fromPayload(payload: Payload): unknown {
  const encoding = payload.metadata?.[ENCODING];
  const name = encoding ? Buffer.from(encoding).toString('utf8') : '(none)';
  if (name === 'binary/null') return undefined;
  if (name !== 'json/plain')
    throw new PayloadDecodeError(
      name === 'binary/encrypted'
        ? 'a payload is encrypted and no key is configured: set KDFLOW_CODEC_KEY_FILE or KDFLOW_CODEC_KEYS (docs/security.md)'
        : `cannot read a payload encoded as ${name} (this client reads json/plain; is a payload codec configured?)`,
    );
  return JSON.parse(Buffer.from(payload.data ?? new Uint8Array()).toString('utf8'));
}

export async function encodeValues(values: unknown[], codecs: readonly PayloadCodec[]): Promise<Payload[]> {
  let payloads = values.map(toPayload);
  for (const codec of codecs) payloads = await codec.encode(payloads);
  return payloads;
}

export async function decodeValues(payloads: Payload[], codecs: readonly PayloadCodec[]): Promise<unknown[]> {
  let decoded = payloads;
  for (const codec of [...codecs].reverse()) decoded = await codec.decode(decoded);
  return decoded.map(fromPayload);
}

/** temporal.api.common.v1.Payload: metadata = 1 (map<string, bytes>), data = 2. */
export function payloadMessage(payload: Payload): Uint8Array {
  const entries = Object.entries(payload.metadata ?? {}).map(([key, value]) =>
    messageField(1, stringField(1, key), bytesField(2, value)),
  );
  return message(...entries, bytesField(2, payload.data ?? new Uint8Array()));
}

export function readPayload(fields: Fields): Payload {
  const metadata: Record<string, Uint8Array> = Object.create(null) as Record<string, Uint8Array>;
  for (const entry of fields.messages(1)) metadata[entry.string(1)] = entry.bytes(2) ?? new Uint8Array();
  return { metadata, data: fields.bytes(2) ?? new Uint8Array() };
}

/** temporal.api.common.v1.Payloads: payloads = 1 (repeated). */
export function readPayloads(fields: Fields | undefined): Payload[] {
  return fields?.messages(1).map(readPayload) ?? [];
}

export function payloadsMessage(payloads: Payload[]): Uint8Array {
  return message(...payloads.map((p) => bytesField(1, payloadMessage(p))));
}
