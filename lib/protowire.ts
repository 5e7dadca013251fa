/**
 * The protobuf wire format, as far as the CLI's lean Temporal client needs it (docs/adr/0032): build
 * a message from numbered fields, and read one back as numbered fields. No schema and no reflection:
 * the client names the handful of field numbers it uses, from temporalio/api's .proto files.
 */

type Part = Uint8Array;

function varint(value: number | bigint): Part {
  let v = BigInt(value);
  if (v < 0n) v += 1n << 64n;
  const bytes: number[] = [];
  while (v > 0x7fn) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Uint8Array.from(bytes);
}

const tag = (field: number, wireType: number) => varint((field << 3) | wireType);

/** A message: the concatenation of its fields (absent ones are undefined and left out). */
export function message(...fields: (Part | undefined)[]): Part {
  return Buffer.concat(fields.filter((f): f is Part => f !== undefined));
}

export function bytesField(field: number, value: Uint8Array): Part {
  return message(tag(field, 2), varint(value.length), value);
}

export function stringField(field: number, value: string | undefined): Part | undefined {
  return value ? bytesField(field, Buffer.from(value, 'utf8')) : undefined;
}

export function messageField(field: number, ...fields: (Part | undefined)[]): Part {
  return bytesField(field, message(...fields));
}

export function varintField(field: number, value: number): Part | undefined {
  return value ? message(tag(field, 0), varint(value)) : undefined;
}

/** A read message: each field number's values in wire order (varints as bigint, length-delimited as bytes). */
export class Fields {
  private readonly values = new Map<number, (bigint | Uint8Array)[]>();

  constructor(buf: Uint8Array) {
    let pos = 0;
    const readVarint = (): bigint => {
      let result = 0n;
      for (let shift = 0n; ; shift += 7n) {
        if (pos >= buf.length) throw new Error('truncated protobuf varint');
        const byte = buf[pos++] as number;
        result |= BigInt(byte & 0x7f) << shift;
        if (byte < 0x80) return result;
      }
    };
    while (pos < buf.length) {
      const key = Number(readVarint());
      const [field, wireType] = [key >>> 3, key & 7];
      let value: bigint | Uint8Array;
      if (wireType === 0) value = readVarint();
      else if (wireType === 2) {
        const length = Number(readVarint());
        if (pos + length > buf.length) throw new Error('truncated protobuf field');
        value = buf.subarray(pos, pos + length);
        pos += length;
      } else if (wireType === 1 || wireType === 5) {
        const width = wireType === 1 ? 8 : 4;
        value = buf.subarray(pos, pos + width);
        pos += width;
      } else throw new Error(`unsupported protobuf wire type ${wireType}`);
      const list = this.values.get(field);
      if (list) list.push(value);
      else this.values.set(field, [value]);
    }
  }

  /** The last value of a field, as protobuf merges a repeated singular field. */
  private last(field: number): bigint | Uint8Array | undefined {
    return this.values.get(field)?.at(-1);
  }

  number(field: number): number {
    const v = this.last(field);
    return typeof v === 'bigint' ? Number(BigInt.asIntN(64, v)) : 0;
  }

  bool(field: number): boolean {
    return this.number(field) !== 0;
  }

  bytes(field: number): Uint8Array | undefined {
    const v = this.last(field);
    return v instanceof Uint8Array ? v : undefined;
  }

  string(field: number): string {
    const v = this.bytes(field);
    return v ? Buffer.from(v).toString('utf8') : '';
  }

  message(field: number): Fields | undefined {
    const v = this.bytes(field);
    return v ? new Fields(v) : undefined;
  }

  messages(field: number): Fields[] {
    return (this.values.get(field) ?? []).filter((v) => v instanceof Uint8Array).map((v) => new Fields(v));
  }

  has(field: number): boolean {
    return this.values.has(field);
  }
}

/** google.protobuf.Timestamp (seconds = 1, nanos = 2) as a Date. */
export function timestampOf(fields: Fields | undefined): Date | undefined {
  if (!fields) return undefined;
  return new Date(fields.number(1) * 1000 + Math.floor(fields.number(2) / 1e6));
}
