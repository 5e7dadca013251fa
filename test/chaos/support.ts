import { expect } from 'vitest';
import { partLine, type ChaosReport } from '../../scripts/chaos/report.ts';
import { DEFAULT_SEED, runChaos, type PartName } from '../../scripts/chaos/suite.ts';

/** The quick profile of `npm run chaos` for some parts: prints each part's trials, passes and figures, and fails on any failed trial. */
export async function quickChaos(parts: PartName[]): Promise<ChaosReport> {
  const report = await runChaos({ seed: DEFAULT_SEED, profile: 'quick', parts, log: (line) => line.includes('FAIL') && console.log(line) });
  for (const part of report.parts) {
    const { notes: _notes, ...figures } = part.figures;
    console.log(`${partLine(part)}\n  ${JSON.stringify(figures)}`);
  }
  expect(report.parts.map((p) => p.name)).toEqual(parts);
  for (const part of report.parts) {
    expect(part.trials).toBeGreaterThan(0);
    expect(part.failures, part.name).toEqual([]);
  }
  return report;
}
