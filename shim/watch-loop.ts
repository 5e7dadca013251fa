/**
 * A list-then-watch loop that does not go silent: it re-lists on 410 Gone and on any end of the
 * watch, reconnects with capped exponential backoff, and re-lists every `resyncMs` even when the
 * watch looks healthy (the client's informer is known to stop on errors and to go quiet).
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { CrObject } from './resources.ts';

export interface WatchLoopOptions {
  kc: KubeConfig;
  path: string;
  list: () => Promise<{ items: CrObject[]; resourceVersion?: string }>;
  onObject: (obj: CrObject, deleted: boolean) => void;
  /** After every full list, with every object it returned. */
  onList?: (objects: CrObject[]) => void;
  resyncMs: number;
  logger: Logger;
}

export function startWatchLoop(options: WatchLoopOptions): { stop(): void } {
  let stopped = false;
  let abort: AbortController | undefined;
  let backoffMs = 250;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const cycle = async () => {
    const listed = await options.list();
    for (const obj of listed.items) options.onObject(obj, false);
    options.onList?.(listed.items);
    options.logger.debug(
      { path: options.path, objects: listed.items.length, resourceVersion: listed.resourceVersion },
      'listed; watching',
    );
    backoffMs = 250;
    await new Promise<void>((resolve, reject) => {
      const resync = setTimeout(() => abort?.abort(), options.resyncMs);
      const end = (error?: unknown) => {
        clearTimeout(resync);
        // The client ends an idle watch after 30 s (TimeoutError): a normal end, not a failure.
        const quiet =
          error &&
          typeof error === 'object' &&
          'name' in error &&
          (error.name === 'AbortError' || error.name === 'TimeoutError');
        if (error && !quiet) reject(error);
        else resolve();
      };
      new Watch(options.kc)
        .watch(
          options.path,
          { resourceVersion: listed.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 25 },
          (type, obj: CrObject & { code?: number }) => {
            // An ERROR event (410 Gone, most often) ends this watch; the next cycle lists afresh.
            if (type === 'ERROR') return abort?.abort();
            if (type === 'BOOKMARK') return;
            options.logger.debug({ path: options.path, type, name: obj.metadata?.name }, 'watch event');
            options.onObject(obj, type === 'DELETED');
          },
          end,
        )
        .then((a) => (abort = a), end);
    });
  };

  void (async () => {
    while (!stopped) {
      try {
        await cycle();
      } catch (error) {
        options.logger.warn({ err: error, path: options.path, backoffMs }, 'watch failed; reconnecting');
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 30_000);
      }
    }
  })();
  return {
    stop() {
      stopped = true;
      abort?.abort();
    },
  };
}
