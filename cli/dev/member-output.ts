/**
 * `kdflow dev`'s view of the members: every member's script output (`/opt/guestconfig/<event>.stdout`
 * and `.stderr` in its directory on the local runtime) as it is written, a line at a time, each line
 * behind its member's name in the member's own colour. Members come and go with the cluster (a save
 * re-creates them, a grow adds some): the cluster's directory is looked at again on every round, and
 * a file written again from its start (another file, or a shorter one) is shown again from its start.
 */
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** Often enough that a script's first line is on the terminal a blink after it is written. */
const EVERY_MS = 50;
/** One round reads at most this much of a file: a script printing without pause cannot starve the others. */
const CHUNK_BYTES = 256 * 1024;
/** Member directories are DNS labels; anything else there (`.x.member` records) is not a member. */
const MEMBER_DIR = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A lifecycle event's files, or a custom action's (`action-compact.stdout`, docs/adr/0050). */
const OUTPUT_FILE = /^([a-z]+|action-[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\.(stdout|stderr)$/;
const COLOURS = [36, 33, 35, 32, 34, 91, 96, 93, 95, 92];

interface FileCursor {
  ino: number;
  offset: number;
  /** The end of the last line not yet ended by a newline. */
  partial: string;
}

export interface MemberOutputOptions {
  /** The cluster's directory: `$KDFLOW_HOME/members/<namespace>/<cluster>`. */
  clusterDir: string;
  line: (text: string) => void;
  colour: boolean;
}

export class MemberOutput {
  private readonly options: MemberOutputOptions;
  private readonly cursors = new Map<string, FileCursor>();
  private readonly colours = new Map<string, number>();
  private width = 0;
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  /** Called with each member whose output was shown in a round. */
  onOutput?: (member: string) => void;

  constructor(options: MemberOutputOptions) {
    this.options = options;
  }

  start(): void {
    const tick = () => {
      this.round = this.readRound().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, EVERY_MS);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.round;
  }

  /** Whatever is there now, read at once (before a summary, so that it follows the output it sums up). */
  async flush(): Promise<void> {
    await this.round;
    await this.readRound();
  }

  /** The prefix of a member's lines: its name, padded to the longest seen, in its colour. */
  prefix(member: string): string {
    this.width = Math.max(this.width, member.length);
    if (!this.colours.has(member)) this.colours.set(member, COLOURS[this.colours.size % COLOURS.length] ?? 36);
    const label = member.padEnd(this.width);
    return this.options.colour ? `\x1b[${this.colours.get(member)}m${label} │\x1b[0m ` : `${label} │ `;
  }

  private async readRound(): Promise<void> {
    const members = (await readdir(this.options.clusterDir).catch(() => [] as string[])).filter((m) =>
      MEMBER_DIR.test(m),
    );
    for (const member of members.sort()) {
      const dir = path.join(this.options.clusterDir, member, 'opt', 'guestconfig');
      const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => OUTPUT_FILE.test(f));
      for (const file of files.sort()) await this.readFile(member, path.join(dir, file), file.endsWith('.stderr'));
    }
  }

  private async readFile(member: string, file: string, stderr: boolean): Promise<void> {
    const info = await stat(file).catch(() => undefined);
    if (!info) return;
    let cursor = this.cursors.get(file);
    if (!cursor || cursor.ino !== info.ino || info.size < cursor.offset) {
      // A new run's file: from its start.
      cursor = { ino: info.ino, offset: 0, partial: '' };
      this.cursors.set(file, cursor);
    }
    if (info.size === cursor.offset) return;
    const handle = await open(file, 'r').catch(() => undefined);
    if (!handle) return;
    try {
      const length = Math.min(info.size - cursor.offset, CHUNK_BYTES);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, cursor.offset);
      cursor.offset += bytesRead;
      const text = cursor.partial + buffer.subarray(0, bytesRead).toString('utf8');
      const lines = text.split('\n');
      cursor.partial = lines.pop() ?? '';
      if (lines.length === 0) return;
      const prefix = this.prefix(member);
      for (const line of lines) this.options.line(`${prefix}${stderr ? this.mark('stderr: ') : ''}${line}`);
      this.onOutput?.(member);
    } finally {
      await handle.close();
    }
  }

  /** Lines still waiting for their newline: shown as they are once the run is over. */
  endPartials(): void {
    for (const [file, cursor] of this.cursors) {
      if (!cursor.partial) continue;
      const member = path.basename(path.dirname(path.dirname(path.dirname(file))));
      this.options.line(`${this.prefix(member)}${cursor.partial}`);
      cursor.partial = '';
    }
  }

  private mark(text: string): string {
    return this.options.colour ? `\x1b[2m${text}\x1b[0m` : text;
  }
}
