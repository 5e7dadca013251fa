import { expect } from 'vitest';
import type { ChaosReport } from '../../testing/chaos/report.ts';
import { DEFAULT_SEED, runChaos, type PartName } from '../../testing/chaos/suite.ts';

/** The quick profile of `npm run chaos` for some parts: prints each part's trials, passes and figures, and fails on any failed trial. */
export async function quickChaos(parts: PartName[]): Promise<ChaosReport> {
  // Each part's line (trials, passes, convergence, figures) and any failed trial are printed as they come.
  const report = await runChaos({
    seed: DEFAULT_SEED,
    profile: 'quick',
    parts,
    log: (line) => (line.includes('FAIL') || line.includes(' passed')) && console.log(line),
  });
  expect(report.parts.map((p) => p.name)).toEqual(parts);
  for (const part of report.parts) {
    expect(part.trials).toBeGreaterThan(0);
    expect(part.failures, part.name).toEqual([]);
  }
  return report;
}
