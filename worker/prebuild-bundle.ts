/**
 * `node worker/prebuild-bundle.ts`: builds the workflow bundle into the cache (KDFLOW_BUNDLE_CACHE,
 * else ~/.cache/kdflow/bundles), so that a worker image starts without bundling (worker/Dockerfile).
 */
import { logger } from '../lib/logger.ts';
import { loadWorkflowBundle } from './bundle-cache.ts';
import { WORKFLOW_SOURCES, bundleCacheDir } from './worker.ts';

const cacheDir = bundleCacheDir();
if (!cacheDir) {
  process.stderr.write('prebuild-bundle: KDFLOW_BUNDLE_CACHE=off leaves nothing to prebuild\n');
  process.exit(2);
}
const bundle = await loadWorkflowBundle(WORKFLOW_SOURCES, { cacheDir, logger });
if (!bundle.file) {
  process.stderr.write(
    `prebuild-bundle: the bundle was built but could not be cached in ${cacheDir} (see the log above)\n`,
  );
  process.exit(1);
}
process.stdout.write(`${bundle.file} (${bundle.from === 'cache' ? 'already cached' : `built in ${bundle.ms} ms`})\n`);
