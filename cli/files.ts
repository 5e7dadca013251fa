import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError } from '../api/index.ts';
import type { Manifest } from '../api/manifest.ts';
import { parseManifests } from '../api/manifest.ts';
import { resolvePackageURLs } from '../lib/app-catalog.ts';
import { UsageError } from './errors.ts';

/** Read every -f FILE, in order, into validated manifests; apps get their package URLs made absolute. */
export async function readManifests(files: string[] | undefined): Promise<Manifest[]> {
  if (!files || files.length === 0) throw new UsageError('-f FILE is required');
  const manifests: Manifest[] = [];
  // All files are read and checked before any is applied: a bad second file leaves nothing half-done.
  for (const file of files) manifests.push(...(await readManifestFile(file)));
  return manifests;
}

/** One file into validated manifests, each tagged with the file it came from. */
export async function readManifestFile(file: string): Promise<Manifest[]> {
  const bytes = await readFile(file).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(
      `cannot read ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.code === 'EISDIR' ? 'it is a directory' : error.message}`,
    );
  });
  const dir = path.dirname(path.resolve(file));
  return parseManifests(decodeManifest(bytes, file), file).map((m) =>
    m.kind === 'KdApp' ? { ...m, value: resolvePackageURLs(m.value, dir) } : m,
  );
}

// Byte order marks, longest first: UTF-32 LE starts with the UTF-16 LE mark.
const MARKS: [number[], string][] = [
  [[0x00, 0x00, 0xfe, 0xff], 'UTF-32 (big-endian, with a byte order mark)'],
  [[0xff, 0xfe, 0x00, 0x00], 'UTF-32 (little-endian, with a byte order mark)'],
  [[0xfe, 0xff], 'UTF-16 (big-endian, with a byte order mark)'],
  [[0xff, 0xfe], 'UTF-16 (little-endian, with a byte order mark)'],
];

/**
 * The text of a manifest, which must be UTF-8 (as YAML and JSON files are; a UTF-8 byte order mark
 * is dropped). Anything else is named, rather than decoded into garbage the schema then calls
 * "not an object": Windows editors and PowerShell's `>` write UTF-16.
 */
export function decodeManifest(bytes: Uint8Array, source: string): string {
  const refuse = (what: string) => {
    throw new ValidationError(
      [{ path: '', message: `the file is ${what}; manifests must be UTF-8: save it as UTF-8` }],
      source,
    );
  };
  const mark = MARKS.find(([prefix]) => prefix.every((b, i) => bytes[i] === b));
  if (mark) refuse(mark[1]);
  // Without a mark, UTF-16 shows as a zero byte beside every ASCII character.
  const head = bytes.subarray(0, 512);
  const zeros = head.filter((b) => b === 0).length;
  if (head.length >= 4 && zeros >= head.length / 4)
    refuse(
      head[0] === 0
        ? 'UTF-16 or UTF-32 (big-endian, zero bytes between the characters)'
        : 'UTF-16 or UTF-32 (little-endian, zero bytes between the characters)',
    );
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const where =
      at < 0
        ? ''
        : ` (byte 0x${(bytes[at] ?? 0).toString(16).padStart(2, '0')} at offset ${at}; Latin-1 or Windows-1252 perhaps)`;
    return refuse(`not UTF-8${where}`);
  }
}

/** The offset of the first byte that starts no well-formed UTF-8 sequence (lead and continuation bytes only), or -1. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const lead = bytes[i] as number;
    const follow =
      lead < 0x80
        ? 0
        : lead >= 0xc2 && lead <= 0xdf
          ? 1
          : lead >= 0xe0 && lead <= 0xef
            ? 2
            : lead >= 0xf0 && lead <= 0xf4
              ? 3
              : -1;
    if (follow < 0) return i;
    for (let k = 1; k <= follow; k++) if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += follow + 1;
  }
  return -1;
}
