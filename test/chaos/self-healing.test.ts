/**
 * The quick profile of the chaos part member-kill (testing/chaos/member-kill.ts, docs/adr/0049):
 * member containers killed at random under a configured cluster come back configured with no command.
 */
import { describe, it } from 'vitest';
import { quickChaos } from './support.ts';

describe('chaos (quick): members killed at random heal themselves', () => {
  it('brings each killed member back configured, with nobody else configured again or notified', async () => {
    await quickChaos(['member-kill']);
  }, 600_000);
});
