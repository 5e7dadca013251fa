/**
 * A tiny tar writer for hostile archives. Real tar tools refuse (or quietly fix) most of what an
 * attacker would put in a config package, so the headers are written by hand: absolute names,
 * `..`, links out, devices, lying sizes.
 */
import { createWriteStream } from 'node:fs';
import { gzipSync, createGzip } from 'node:zlib';
import { once } from 'node:events';

export interface TarEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'chardev';
  mode?: number;
  content?: string | Uint8Array;
  linkname?: string;
}

const TYPE_FLAG = { file: '0', hardlink: '1', symlink: '2', chardev: '3', dir: '5' } as const;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** One 512-byte ustar header. */
export function tarHeader(entry: TarEntry, size: number): Buffer {
  const header = Buffer.alloc(512);
  const put = (text: string, offset: number, width: number) =>
    header.write(text.slice(0, width), offset, width, 'utf8');
  let name = entry.name;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  put(name, 0, 100);
  put(octal(entry.mode ?? (entry.type === 'dir' ? 0o755 : 0o644), 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(0, 12), 136, 12);
  put('        ', 148, 8);
  put(TYPE_FLAG[entry.type], 156, 1);
  put(entry.linkname ?? '', 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put(prefix, 345, 155);
  let sum = 0;
  for (const byte of header) sum += byte;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return header;
}

const pad = (size: number) => Buffer.alloc((512 - (size % 512)) % 512);

export function tarBytes(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const body = entry.type === 'file' ? Buffer.from(entry.content ?? '') : Buffer.alloc(0);
    parts.push(tarHeader(entry, body.length), body, pad(body.length));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function tgz(entries: TarEntry[]): Buffer {
  return gzipSync(tarBytes(entries));
}

/** A gzip of a tar holding one file of `size` zero bytes, streamed so it never sits in memory. */
export async function writeZeroBomb(file: string, size: number, lead: TarEntry[]): Promise<void> {
  const gzip = createGzip({ level: 9 });
  const out = createWriteStream(file);
  gzip.pipe(out);
  const write = async (chunk: Buffer) => {
    if (!gzip.write(chunk)) await once(gzip, 'drain');
  };
  await write(tarBytes(lead).subarray(0, -1024));
  await write(tarHeader({ name: 'appconfig/zeros', type: 'file' }, size));
  const block = Buffer.alloc(1024 * 1024);
  for (let left = size; left > 0; left -= block.length)
    await write(left >= block.length ? block : block.subarray(0, left));
  await write(pad(size));
  await write(Buffer.alloc(1024));
  gzip.end();
  await once(out, 'finish');
}
