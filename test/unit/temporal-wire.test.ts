import type { Payload, PayloadCodec } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { PayloadDecodeError, decodeValues, encodeValues, payloadsMessage, readPayloads } from '../../lib/payloads.ts';
import { Fields, message, messageField, stringField, timestampOf, varintField } from '../../lib/protowire.ts';

/** A codec that marks what it wrapped, so that the order of encoding and decoding shows. */
function marking(mark: string): PayloadCodec {
  const wrap = (p: Payload): Payload => ({
    metadata: { encoding: Buffer.from(`binary/${mark}`) },
    data: Buffer.from(JSON.stringify({ inner: Buffer.from(payloadsMessage([p])).toString('base64') })),
  });
  const unwrap = (p: Payload): Payload => {
    const encoding = Buffer.from(p.metadata?.encoding ?? []).toString();
    if (encoding !== `binary/${mark}`) throw new Error(`${mark} asked to decode ${encoding}`);
    const { inner } = JSON.parse(Buffer.from(p.data ?? []).toString()) as { inner: string };
    return readPayloads(new Fields(Buffer.from(inner, 'base64')))[0] as Payload;
  };
  return {
    encode: async (payloads) => payloads.map(wrap),
    decode: async (payloads) => payloads.map(unwrap),
  };
}

describe('the lean client wire format', () => {
  it('reads back the fields it wrote: strings, nested messages, varints past 32 bits, repeated fields', () => {
    const bytes = message(
      stringField(1, 'kdcluster:default/demo'),
      messageField(2, stringField(1, 'wf'), stringField(2, 'run')),
      varintField(3, 2 ** 40 + 7),
      messageField(4, varintField(1, 1_700_000_000), varintField(2, 250_000_000)),
      messageField(5, stringField(1, 'a')),
      messageField(5, stringField(1, 'b')),
      stringField(6, 'first'),
      stringField(6, 'last'),
    );
    const fields = new Fields(bytes);
    expect(fields.string(1)).toBe('kdcluster:default/demo');
    expect([fields.message(2)?.string(1), fields.message(2)?.string(2)]).toEqual(['wf', 'run']);
    expect(fields.number(3)).toBe(2 ** 40 + 7);
    expect(timestampOf(fields.message(4))?.toISOString()).toBe('2023-11-14T22:13:20.250Z');
    expect(fields.messages(5).map((m) => m.string(1))).toEqual(['a', 'b']);
    // A singular field given twice: the last one counts, as protobuf merges.
    expect(fields.string(6)).toBe('last');
    expect(fields.has(9)).toBe(false);
    expect(() => new Fields(Uint8Array.from([0x0a, 0x05, 0x61]))).toThrow(/truncated/);
  });

  it('converts values as the default data converter does, through codecs in order', async () => {
    const values = [{ roles: { worker: 3 } }, undefined, 'text', [1, 2]];
    expect(await decodeValues(await encodeValues(values, []), [])).toEqual(values);
    const codecs = [marking('first'), marking('second')];
    const encoded = await encodeValues(values, codecs);
    // The last codec wraps last, so it is the outermost; decoding unwraps it first.
    expect(Buffer.from(encoded[0]?.metadata?.encoding ?? []).toString()).toBe('binary/second');
    expect(await decodeValues(encoded, codecs)).toEqual(values);
    // Without the codec, a clear refusal rather than a wrong value.
    await expect(decodeValues(encoded, [])).rejects.toThrow(PayloadDecodeError);
    await expect(decodeValues(encoded, [])).rejects.toThrow(/binary\/second.*payload codec/);
  });
});
