/**
 * Whether a string is stored anywhere in a server's bytes (a SQLite file, a pg_dump): as text, hex or
 * base64, the forms a database or a dump may keep a value in. Used by the encrypted-payload checks
 * (docs/adr/0035-encrypted-payloads.md) on the dev server and on PostgreSQL.
 */
import { expect } from 'vitest';

/** The string as text (UTF-8 and UTF-16), hex (either case) and base64 at each of the three byte alignments. */
export function forms(text: string): string[] {
  const raw = Buffer.from(text);
  const base64 = [0, 1, 2].map((shift) => {
    const encoded = Buffer.concat([Buffer.alloc(shift), raw]).toString('base64');
    // Only the characters made from the string's own bits.
    return encoded.slice(Math.ceil((8 * shift) / 6), Math.floor((8 * (shift + raw.length)) / 6));
  });
  return [
    text,
    Buffer.from(text, 'utf16le').toString('latin1'),
    raw.toString('hex'),
    raw.toString('hex').toUpperCase(),
    ...base64,
  ];
}

/** True where any form of the string is in the bytes: the control that a scan finds what is there. */
export function foundIn(bytes: Buffer, text: string): boolean {
  return forms(text).some((form) => bytes.includes(Buffer.from(form, 'latin1')));
}

/** Fails naming the form found. */
export function expectAbsent(bytes: Buffer, text: string): void {
  for (const form of forms(text)) expect(bytes.includes(Buffer.from(form, 'latin1')), `${text} as ${form}`).toBe(false);
}
