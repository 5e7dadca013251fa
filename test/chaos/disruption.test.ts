/**
 * The quick profile of the disruption parts of `npm run chaos` (testing/chaos/): the worker killed
 * with -9 in the middle of a create, a grow, a shrink and a delete, and the Temporal server stopped
 * and started again on its SQLite file in the middle of the same. The full run has 52 and 20 trials.
 */
import { describe, it } from 'vitest';
import { quickChaos } from './support.ts';

describe('chaos (quick): worker crash and server restart', () => {
  it('converges after each, with every member once and every script run once', async () => {
    await quickChaos(['worker-crash', 'server-restart']);
  }, 600_000);
});
