/**
 * Loaded once per worker, before any workflow, into the reusable V8 context's shared module cache
 * (the worker's `preloadModules`): the whole workflow code, so every cached workflow shares one copy
 * of its modules instead of evaluating them again (docs/adr/0013). That is safe because none of them
 * keeps per-workflow state at module level: the workflow's state lives in the `clusterWorkflow` call,
 * and the SDK's API finds the running workflow through the context's globals, which it switches for
 * each workflow. The SDK freezes shared modules, so a module that changed its own objects later would
 * fail loudly, not leak. zod is not here and not in the bundle: its schemas change on first use
 * (tried and measured, docs/adr/0013); the workflow checks its input with api/light-check.ts.
 */
export * from './index.ts';
