/**
 * `node worker/prebuild-bundle.ts`: builds the workflow bundles into the cache (KDFLOW_BUNDLE_CACHE,
 * else ~/.cache/kdflow/bundles), so that a worker image starts without bundling (worker/Dockerfile,
 * lib/image/build.ts). Both of them: the one a worker without a payload key runs, and the one with
 * encoded failures that a worker with a key runs (worker.ts, workflowSources).
 */
import { logger } from '../lib/logger.ts';
import { loadWorkflowBundle } from './bundle-cache.ts';
import { FAILURE_CONVERTER_PATH } from '../lib/codec.ts';
import { WORKFLOW_SOURCES, bundleCacheDir } from './worker.ts';

const cacheDir = bundleCacheDir();
if (!cacheDir) {
  process.stderr.write('prebuild-bundle: KDFLOW_BUNDLE_CACHE=off leaves nothing to prebuild\n');
  process.exit(2);
}
const variants = [
  { name: 'plain failures', sources: WORKFLOW_SOURCES },
  { name: 'encoded failures', sources: { ...WORKFLOW_SOURCES, failureConverterPath: FAILURE_CONVERTER_PATH } },
];
for (const { name, sources } of variants) {
  const bundle = await loadWorkflowBundle(sources, { cacheDir, logger });
  if (!bundle.file) {
    process.stderr.write(
      `prebuild-bundle: the bundle (${name}) was built but could not be cached in ${cacheDir} (see the log above)\n`,
    );
    process.exit(1);
  }
  process.stdout.write(
    `${bundle.file} (${name}; ${bundle.from === 'cache' ? 'already cached' : `built in ${bundle.ms} ms`})\n`,
  );
}
