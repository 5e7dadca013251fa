/** The worker's sticky-cache cap: KDFLOW_MAX_CACHED_WORKFLOWS (worker/worker.ts). */
import { describe, expect, it } from 'vitest';
import { maxCachedWorkflowsSetting } from '../../worker/worker.ts';

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
