import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PLANNER_VERSION, SUPPORTED_PLANNER_VERSIONS } from '../../workflows/planners.ts';
import { replayDir } from '../support/cluster.ts';
import { WORKFLOW_SOURCES } from '../../worker/worker.ts';

// The bundle the worker runs, with the workflow code preloaded and shared (workflows/preload.ts).
const bundle = bundleWorkflowCode({
  workflowsPath: WORKFLOW_SOURCES.workflowsPath,
  preloadModules: WORKFLOW_SOURCES.preloadModules,
});

/**
 * Histories recorded from real runs, kept per planner version (docs/adr/0014), must replay on today's
 * workflow code for every version it still supports: a change that breaks determinism fails here.
 */
describe.each(SUPPORTED_PLANNER_VERSIONS)('replay of recorded cluster histories, planner v%i', async (version) => {
  const dir = replayDir(version);
  const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.json')).sort();
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(version === PLANNER_VERSION ? 4 : 1);
  });
  it.each(files)('%s replays without nondeterminism', async (file) => {
    const history = historyFromJSON(JSON.parse(await readFile(path.join(dir, file), 'utf8')));
    await expect(
      Worker.runReplayHistory({ workflowBundle: { code: (await bundle).code } }, history, file),
    ).resolves.toBeUndefined();
  });
});
