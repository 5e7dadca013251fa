/**
 * `kdflow logs -f`: after the files, what is written to them, as `tail -f` does for several files (a
 * `==> file <==` line whenever the output switches file). A file that shrinks was written again by a
 * new run: it is shown again from its start, so said. Ctrl-C or SIGTERM ends it with exit 0.
 */
import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Readable } from 'node:stream';
import { listenForStop } from '../lib/stop.ts';
import type { Output } from './output.ts';

/** How often the files are looked at: a member's script output is for people, not for a program racing it. */
const EVERY_MS = 500;
/** On runtimes read through exec (a round trip to the member each time), less often. */
const GUEST_EVERY_MS = 2000;

async function untilStopped(everyMs: number, round: () => Promise<void>): Promise<void> {
  const stop = listenForStop();
  try {
    for (;;) {
      await sleep(everyMs, undefined, { signal: stop.signal }).catch(() => {});
      if (stop.signal.aborted) return;
      await round();
    }
  } finally {
    stop.dispose();
  }
}

/** Labels each switch of file, as tail -f does; `current` is the file shown last, whose output needs no label. */
function switcher(output: Output, current: string | undefined): (label: string, note?: string) => void {
  return (label, note) => {
    if (current === label && !note) return;
    current = label;
    output.line(`==> ${label}${note ? ` (${note})` : ''} <==`);
  };
}

interface Followed {
  label: string;
  file: string;
  /** How far it has been shown. */
  offset: number;
  /** Which file and when it was last written, to tell a rewrite of the same size from no change. */
  ino?: number;
  mtimeMs?: number;
}

export async function followFiles(output: Output, files: Followed[]): Promise<void> {
  const header = switcher(output, files.at(-1)?.label);
  for (const f of files) {
    const info = await stat(f.file).catch(() => undefined);
    f.ino = info?.ino;
    f.mtimeMs = info?.mtimeMs;
  }
  await untilStopped(EVERY_MS, async () => {
    for (const f of files) {
      const info = await stat(f.file).catch(() => undefined);
      if (!info || (info.ino === f.ino && info.mtimeMs === f.mtimeMs && info.size === f.offset)) continue;
      // Another file under the name, or the same one shorter or rewritten in place: a new run's output.
      const rewritten = info.ino !== f.ino || info.size < f.offset || (info.size === f.offset && f.offset > 0);
      f.ino = info.ino;
      f.mtimeMs = info.mtimeMs;
      const note = rewritten && f.offset > 0 ? 'written again from the start' : undefined;
      if (note) f.offset = 0;
      if (info.size === f.offset) continue;
      header(f.label, note);
      const handle = await open(f.file, 'r');
      try {
        await output.stream(handle.createReadStream({ start: f.offset, end: info.size - 1, autoClose: false }));
      } finally {
        await handle.close();
      }
      f.offset = info.size;
    }
  });
}

export async function followGuestFiles(
  output: Output,
  files: { label: string; text: string | undefined }[],
  read: (label: string) => Promise<string | undefined>,
): Promise<void> {
  const header = switcher(output, files.at(-1)?.label);
  await untilStopped(GUEST_EVERY_MS, async () => {
    for (const f of files) {
      const text = await read(f.label);
      if (text === undefined || text === f.text) continue;
      const grew = f.text !== undefined && text.startsWith(f.text);
      header(f.label, grew ? undefined : 'written again from the start');
      await output.stream(Readable.from([Buffer.from(grew ? text.slice((f.text ?? '').length) : text)]));
      f.text = text;
    }
  });
}
