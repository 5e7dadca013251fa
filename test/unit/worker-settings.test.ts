/** The worker's sticky-cache cap (KDFLOW_MAX_CACHED_WORKFLOWS) and its workflow thread's young generation (worker/worker.ts). */
import { Worker as Thread } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  WORKFLOW_SEMI_SPACE_MIB,
  boundWorkflowYoungGeneration,
  maxCachedWorkflowsSetting,
} from '../../worker/worker.ts';

/** The new space of a thread made now, after it allocated enough short-lived objects to grow it as far as it may. */
async function threadNewSpaceMiB(): Promise<number> {
  const code = `const v8 = require('node:v8'); let keep = [];
for (let i = 0; i < 3e6; i++) { keep.push({ i }); if (keep.length > 50000) keep = []; }
const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
require('node:worker_threads').parentPort.postMessage(space.space_size / 1048576);`;
  const thread = new Thread(code, { eval: true });
  try {
    return await new Promise<number>((resolve, reject) => {
      thread.once('message', resolve);
      thread.once('error', reject);
    });
  } finally {
    await thread.terminate();
  }
}

describe('KDFLOW_MAX_CACHED_WORKFLOWS', () => {
  it('is the SDK default when unset, and a whole number of workflows when set', () => {
    expect(maxCachedWorkflowsSetting({})).toBeUndefined();
    expect(maxCachedWorkflowsSetting({ KDFLOW_MAX_CACHED_WORKFLOWS: '' })).toBeUndefined();
    expect(maxCachedWorkflowsSetting({ KDFLOW_MAX_CACHED_WORKFLOWS: '500' })).toBe(500);
  });

  it.each(['0', '-3', '1.5', 'many', '1e400'])(
    'refuses %j, naming the setting, the value and what it takes',
    (value) => {
      expect(() => maxCachedWorkflowsSetting({ KDFLOW_MAX_CACHED_WORKFLOWS: value })).toThrow(
        `KDFLOW_MAX_CACHED_WORKFLOWS: got ${JSON.stringify(value)}; expected a whole number of workflows, at least 1`,
      );
    },
  );
});

describe('the workflow thread young generation', () => {
  it('leaves a semi-space size the operator gave Node alone', () => {
    expect(boundWorkflowYoungGeneration(['--max-semi-space-size=8'], '')).toBe(false);
    expect(boundWorkflowYoungGeneration([], '--max-semi-space-size=8')).toBe(false);
  });

  it('bounds the young generation of a thread made after the worker set it up', async () => {
    expect(boundWorkflowYoungGeneration([], '')).toBe(true);
    // Two semi-spaces of at most WORKFLOW_SEMI_SPACE_MIB each (V8's default lets them grow to 16 MiB each).
    expect(await threadNewSpaceMiB()).toBeLessThanOrEqual(2 * WORKFLOW_SEMI_SPACE_MIB);
  });
});
