/**
 * The quick profile of `npm run chaos -- --runtime kubernetes` (testing/chaos/): on the Kubernetes
 * harness, a grow with the worker killed (kill -9) in its middle, one with the kube-apiserver
 * restarted, and one with a member's pod deleted by hand (then `kdflow retry`, what a user does
 * today). Each must converge with every member configured, no member created twice (pod uids), no
 * run id run twice, and nothing left behind. The full run has four phases and more rounds.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SEED, KUBE_PARTS, runChaos } from '../../testing/chaos/suite.ts';

const skip = process.env.KDFLOW_SKIP_K8S === '1';

describe.skipIf(skip)('chaos on Kubernetes (quick): worker kill, apiserver restart, pod deletion', () => {
  it('converges after each, with every member once and every script run once', async () => {
    const report = await runChaos({
      seed: DEFAULT_SEED,
      profile: 'quick',
      runtime: 'kubernetes',
      log: (line) => (line.includes('FAIL') || line.includes(' passed')) && console.log(line),
    });
    expect(report.runtime).toBe('kubernetes');
    expect(report.parts.map((p) => p.name)).toEqual([...KUBE_PARTS]);
    for (const part of report.parts) {
      expect(part.trials, part.name).toBe(1);
      expect(part.failures, part.name).toEqual([]);
    }
    // The pod deletion was put right by `kdflow retry`, or needed none (the pod was a leaving member's).
    const deletion = report.parts.find((p) => p.name === 'pod-delete')?.results[0];
    expect(String(deletion?.details?.retry)).toMatch(/^kdflow retry|^not needed$/);
  }, 900_000);
});
