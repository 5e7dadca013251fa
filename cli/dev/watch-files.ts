/**
 * What `kdflow dev` watches: the manifests and every config package on this machine (a directory,
 * watched with everything under it, or a file). An editor saves in bursts (a temporary file, a
 * rename, a chmod), so changes that come within a few milliseconds of each other make one save.
 * A file is watched through its directory: an editor that saves by renaming a new file over the old
 * one would leave a watch on the file itself looking at a file that is gone.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';

const SETTLE_MS = 30;

export interface WatchedPaths {
  files: string[];
  directories: string[];
}

export class SaveWatcher {
  private watchers: FSWatcher[] = [];
  private timer?: NodeJS.Timeout;
  private readonly onSave: (changed: string) => void;

  constructor(onSave: (changed: string) => void) {
    this.onSave = onSave;
  }

  /** Watch these paths from now on (instead of the ones before): paths that do not exist are skipped. */
  async watch(paths: string[]): Promise<WatchedPaths> {
    this.close();
    const watched: WatchedPaths = { files: [], directories: [] };
    const byDirectory = new Map<string, Set<string>>();
    for (const p of new Set(paths.map((p) => path.resolve(p)))) {
      const info = await stat(p).catch(() => undefined);
      if (info?.isDirectory()) {
        this.add(p, true, () => true);
        watched.directories.push(p);
      } else if (info) {
        const dir = path.dirname(p);
        if (!byDirectory.has(dir)) byDirectory.set(dir, new Set());
        byDirectory.get(dir)?.add(path.basename(p));
        watched.files.push(p);
      }
    }
    for (const [dir, names] of byDirectory) this.add(dir, false, (name) => names.has(name));
    return watched;
  }

  private add(dir: string, recursive: boolean, wanted: (name: string) => boolean): void {
    try {
      const watcher = watch(dir, { recursive, persistent: true }, (_event, name) => {
        if (name === null || !wanted(name.toString())) return;
        this.saved(path.join(dir, name.toString()));
      });
      // A watched directory removed under us ends its watch; the next save of a manifest watches again.
      watcher.on('error', () => watcher.close());
      this.watchers.push(watcher);
    } catch {
      // Gone between the stat and the watch: nothing to watch.
    }
  }

  private saved(file: string): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onSave(file), SETTLE_MS);
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
