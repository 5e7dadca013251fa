/**
 * The quick profile of the input parts of `npm run chaos` (testing/chaos/): a signal flood, faulty
 * scripts, the bad-spec corpus through the CLI and straight to the workflow, hostile config
 * packages, and the security checks.
 */
import { describe, it } from 'vitest';
import { quickChaos } from './support.ts';

describe('chaos (quick): floods, faults, bad input, hostile packages, security', () => {
  it('refuses or survives each, as documented', async () => {
    await quickChaos(['signal-flood', 'script-faults', 'bad-input', 'hostile-packages', 'security']);
  }, 600_000);
});
