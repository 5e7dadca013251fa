/**
 * The quick profile of the containment parts of `npm run chaos` (testing/chaos/): daemons a
 * startscript leaves (and timed-out attempts' children), a runner killed mid-configure, and
 * members that die under a cluster (keep-alive killed, directory removed). The full run has more
 * rounds, and kills the worker together with the runner too.
 */
import { describe, it } from 'vitest';
import { quickChaos } from './support.ts';

describe('chaos (quick): every process a member starts ends with it', () => {
  it('leaves no daemon after delete, never runs two configures at once, and notices dead members', async () => {
    await quickChaos(['daemons', 'runner-kill', 'dead-member']);
  }, 600_000);
});
