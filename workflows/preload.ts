/**
 * Loaded once per worker, before any workflow, into the reusable V8 context's shared module cache
 * (the worker's `preloadModules`). Without it every cached workflow evaluates zod again: about
 * 0.5 MiB of heap and 10 ms per workflow, which a thousand idle clusters feel (docs/adr/0012).
 * zod lists itself as free of side effects, so naming it directly would be tree-shaken away;
 * using it here keeps it, and fills its one lazy module-level cache before the shared modules
 * are frozen. The api schemas stay per workflow: they cannot be shared, because the SDK deep-freezes
 * shared modules and zod 4 changes a schema on its first parse (it memoizes by replacing its own
 * `_zod.parse`, resets `lastIndex` on its RegExps and installs lazy internals), which a frozen schema
 * refuses with a TypeError inside the workflow task. Tried and measured: docs/adr/0013.
 */
import { z } from 'zod';

export const zodPreloaded = z.object({ preload: z.array(z.string()) }).safeParse({ preload: ['zod'] }).success;
