import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPLAY_DIR } from '../support/cluster.ts';
import { WORKFLOWS_PATH } from '../../worker/worker.ts';

/** Histories recorded from real runs must replay on today's workflow code: a change that breaks determinism fails here. */
describe('replay of recorded cluster histories', async () => {
  const files = (await readdir(REPLAY_DIR)).filter((f) => f.endsWith('.json')).sort();
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(4);
  });
  it.each(files)('%s replays without nondeterminism', async (file) => {
    const history = historyFromJSON(JSON.parse(await readFile(path.join(REPLAY_DIR, file), 'utf8')));
    await expect(Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, history, file)).resolves.toBeUndefined();
  });
});
