/**
 * Loaded once per worker, before any workflow, into the reusable V8 context's shared module cache
 * (the worker's `preloadModules`): zod, the api contract and the workflow code itself are evaluated
 * once and shared by every cached workflow, instead of once per workflow (docs/adr/0013). A thousand
 * idle clusters then cost their state, not a thousand copies of the schemas.
 *
 * The SDK deep-freezes shared modules after this runs. zod fills some schema internals lazily, on
 * first use, by defining a property on the schema's internals object, which a frozen object refuses;
 * so every lazy internal reachable from the contract is read here, before the freeze.
 */
import { z } from 'zod';
import * as contract from '../api/contract.ts';
import * as workflows from './index.ts';

/** Reads every inherited getter of every object reachable from `root`, so zod's lazy internals exist before the freeze. */
export function warmLazyInternals(root: unknown): number {
  const seen = new Set<object>();
  const pending: unknown[] = [root];
  let read = 0;
  while (pending.length > 0) {
    const value = pending.pop();
    // Functions and prototypes are not walked: a lazy getter read on a prototype itself would
    // memoize (or delete) the accessor there, for every instance.
    if (value === null || typeof value !== 'object' || seen.has(value) || Object.hasOwn(value, 'constructor')) continue;
    seen.add(value);
    {
      for (let proto = Object.getPrototypeOf(value) as object | null; proto && proto !== Object.prototype && proto !== Array.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
        for (const key of Object.getOwnPropertyNames(proto)) {
          if (typeof Object.getOwnPropertyDescriptor(proto, key)?.get !== 'function') continue;
          try {
            pending.push((value as Record<string, unknown>)[key]);
            read += 1;
          } catch {
            // A getter that throws for this schema kind memoizes nothing; zod would throw the same way later.
          }
        }
      }
    }
    for (const key of Object.getOwnPropertyNames(value)) {
      try {
        pending.push((value as Record<string, unknown>)[key]);
      } catch {
        // As above.
      }
    }
  }
  return read;
}

export const preloaded = {
  zod: z.object({ preload: z.array(z.string()) }).safeParse({ preload: ['zod'] }).success,
  lazyInternals: warmLazyInternals(contract),
  workflows: Object.keys(workflows).length,
};
