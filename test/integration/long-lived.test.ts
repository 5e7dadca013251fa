import { describe, expect, it } from 'vitest';
import { deleteSignal, resizeUpdate, statusQuery } from '../../api/index.ts';
import { memberStates, settled, startCluster, testApp, waitForStatus } from '../support/cluster.ts';
import { useHarness } from '../../testing/harness.ts';

const h = useHarness();

describe('a long-lived cluster', () => {
  it("continues as new with its state, keeping each run's history bounded over many resizes", async () => {
    // No config package: members come and go without scripts, so the test spends its time on history.
    const app = testApp('file:///unused', { defaultConfigPackage: null });
    const handle = await startCluster(h, 'longlived', app, { controller: 1, worker: 0 }, 'default', {
      maxHistoryEvents: 200,
    });
    await waitForStatus(handle, settled(1));
    const resizes = 40;
    for (let i = 1; i <= resizes; i++) {
      await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: i % 3 } }] });
      await waitForStatus(handle, settled(i + 1));
    }
    const status = await handle.query(statusQuery);
    expect(status.generation).toBe(resizes + 1);
    expect(memberStates(status)).toEqual({
      'longlived-controller-0': 'configured',
      'longlived-worker-0': 'configured',
    });
    // Walk every run of the chain: more than one run, none far past the bound.
    const client = h.env.client;
    const runs: number[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      runs.push(history.events?.length ?? 0);
    }
    expect(runs.length).toBeGreaterThan(2);
    expect(Math.max(...runs)).toBeLessThan(400);
    await handle.signal(deleteSignal);
    const final = await client.workflow.getHandle(handle.workflowId).result();
    expect(final.phase).toBe('deleted');
  });
});
