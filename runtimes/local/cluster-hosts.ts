/**
 * A cluster's `.hosts` (docs/adr/0046): every member's /etc/hosts line, `ADDRESS FQDN SHORTNAME`,
 * in one file a script run reads whole.
 *
 * Members are launched and removed in parallel lanes (a launch, a shrink, a teardown), so the edits
 * of one cluster's file go one at a time in this process: an append never lands on a file a rewrite
 * is about to replace, and two rewrites never share a temporary file or undo each other's removals
 * (two at once once made a teardown fail on every attempt, and a delete never ended). Removals that
 * queue up while a rewrite runs are done by the next one together, so a teardown of N members
 * rewrites the file far fewer than N times.
 */
import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';

export class ClusterHosts {
  /** The last edit of each cluster's file in this process; the next one starts after it. */
  private readonly edits = new Map<string, Promise<void>>();
  /** Addresses whose lines are still to be removed, per file. */
  private readonly dropping = new Map<string, Set<string>>();

  /** Adds `ADDRESS REST`, or nothing when `onlyIfMissing` and the line is there (a worker lost after its claim). */
  add(file: string, line: string, onlyIfMissing = false): Promise<void> {
    return this.edit(file, async () => {
      if (onlyIfMissing) {
        const listed = await readFile(file, 'utf8').catch(() => '');
        if (listed.startsWith(line) || listed.includes(`\n${line}`)) return;
      }
      await appendFile(file, line, { mode: 0o600 });
    });
  }

  /** Removes the line of `address`: the file is written whole beside it, then renamed over it. */
  drop(file: string, address: string): Promise<void> {
    let queued = this.dropping.get(file);
    if (!queued) this.dropping.set(file, (queued = new Set()));
    queued.add(address);
    return this.edit(file, async () => {
      const batch = this.dropping.get(file);
      // An earlier rewrite took this address with its own.
      if (!batch?.has(address)) return;
      this.dropping.delete(file);
      try {
        const listed = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return undefined;
          throw error;
        });
        // No file, no line: the cluster's directory is gone already.
        if (listed === undefined) return;
        const left = listed.split('\n').filter((l) => l !== '' && !batch.has(l.slice(0, l.indexOf(' '))));
        const next = `${file}.${process.pid}.tmp`;
        await writeFile(next, left.map((l) => `${l}\n`).join(''), { mode: 0o600 });
        await rename(next, file);
      } catch (error) {
        // Back in the queue: a waiter whose address was in this batch must not take it as done.
        const again = this.dropping.get(file) ?? new Set<string>();
        for (const a of batch) again.add(a);
        this.dropping.set(file, again);
        throw error;
      }
    });
  }

  private edit(file: string, change: () => Promise<void>): Promise<void> {
    const done = (this.edits.get(file) ?? Promise.resolve()).then(change);
    const settled = done.catch(() => undefined);
    this.edits.set(file, settled);
    void settled.then(() => {
      if (this.edits.get(file) === settled) this.edits.delete(file);
    });
    return done;
  }
}
