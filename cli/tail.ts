import type { FileHandle } from 'node:fs/promises';

const CHUNK = 64 * 1024;

export interface TailStart {
  /** The byte offset to show from. */
  start: number;
  /** Why earlier content is not shown: enough lines were found, or the byte cap was reached; false when all of it is. */
  cut: 'lines' | 'bytes' | false;
}

/**
 * Where the last `lines` lines of a file begin, reading backwards a chunk at a time: memory stays at
 * one chunk however large the file. A trailing newline ends the last line, it does not start a new
 * one. At most `maxBytes` are shown, so one endless line cannot become the whole file.
 */
export async function tailStart(file: FileHandle, size: number, lines: number, maxBytes: number): Promise<TailStart> {
  if (lines <= 0) return { start: size, cut: size > 0 ? 'lines' : false };
  const floor = Math.max(0, size - maxBytes);
  const buffer = Buffer.alloc(CHUNK);
  let end = size;
  let seen = 0;
  // The last byte is skipped when it is the final newline.
  let skipLast = true;
  while (end > floor) {
    const from = Math.max(floor, end - CHUNK);
    const { bytesRead } = await file.read(buffer, 0, end - from, from);
    for (let i = bytesRead - 1; i >= 0; i--) {
      if (buffer[i] !== 0x0a) {
        skipLast = false;
        continue;
      }
      if (skipLast) {
        skipLast = false;
        continue;
      }
      seen += 1;
      if (seen === lines) return { start: from + i + 1, cut: 'lines' };
    }
    end = from;
  }
  return { start: floor, cut: floor > 0 ? 'bytes' : false };
}
