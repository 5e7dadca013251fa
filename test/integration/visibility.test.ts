import { defaultPayloadConverter } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { workflowMetadataQuery } from '@temporalio/workflow';
import { describe, expect, it } from 'vitest';
import { deleteSignal, resizeSignal, searchAttributes } from '../../api/index.ts';
import { settled, startCluster, testApp, waitForStatus, writePackage } from '../support/cluster.ts';
import { useHarness } from '../../testing/harness.ts';

const h = useHarness();

async function attributes(handle: WorkflowHandle) {
  const sa = (await handle.describe()).typedSearchAttributes;
  return {
    cluster: sa.get(searchAttributes.cluster),
    namespace: sa.get(searchAttributes.namespace),
    app: sa.get(searchAttributes.app),
    phase: sa.get(searchAttributes.phase),
    members: sa.get(searchAttributes.members),
  };
}

/** Visibility is eventually consistent: poll the query until it finds exactly these workflow ids. */
async function found(query: string, expected: string[]): Promise<string[]> {
  let ids: string[] = [];
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    ids = [];
    for await (const w of h.env.client.workflow.list({ query })) ids.push(w.workflowId);
    ids.sort();
    if (JSON.stringify(ids) === JSON.stringify([...expected].sort())) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return ids;
}

const summaries = async (handle: WorkflowHandle) =>
  ((await handle.fetchHistory()).events ?? [])
    .filter((e) => e.activityTaskScheduledEventAttributes && e.userMetadata?.summary)
    .map((e) => defaultPayloadConverter.fromPayload<string>(e.userMetadata?.summary as never));

describe('the Web UI finds and reads a cluster', () => {
  it('keeps search attributes, summaries and current details in step with the cluster', async () => {
    const app = testApp(
      await writePackage(
        h.home,
        `[[ "$1" == --configure && "$(basename "$KDFLOW_MEMBER_ROOT")" == seen-bad-worker-1 ]] && { echo "disk not found" >&2; exit 3; }`,
      ),
    );
    const good = await startCluster(h, 'seen-good', app, { controller: 1, worker: 1 });
    const bad = await startCluster(h, 'seen-bad', app, { controller: 1, worker: 2 });
    expect(await good.describe().then((d) => d.staticSummary())).toBe('testapp/default/seen-good — 2 roles');

    await waitForStatus(good, settled(1));
    await waitForStatus(bad, settled(1));
    expect(await attributes(good)).toEqual({
      cluster: 'seen-good',
      namespace: 'default',
      app: 'testapp',
      phase: 'configured',
      members: 2,
    });
    expect(await attributes(bad)).toMatchObject({ cluster: 'seen-bad', phase: 'config error', members: 3 });
    expect(await found('KdPhase = "config error"', [bad.workflowId])).toEqual([bad.workflowId]);
    expect(await found('KdApp = "testapp" AND KdMembers >= 2', [good.workflowId, bad.workflowId])).toHaveLength(2);

    // Grow through the signal (the shim's way): the count follows, and every activity says what it does.
    await good.signal(resizeSignal, { roles: { worker: 3 } });
    await waitForStatus(good, settled(2));
    expect(await attributes(good)).toMatchObject({ phase: 'configured', members: 4 });
    expect(await found('KdCluster = "seen-good" AND KdMembers = 4', [good.workflowId])).toEqual([good.workflowId]);
    const said = await summaries(good);
    expect(said).toContain('configure seen-good-worker-2');
    expect(said).toContain('addnodes on seen-good-controller-0 (+worker 1-2)');
    // Planner v3: the launch also brings the older members' configmeta up to date, and says so.
    expect(said).toContain(
      'launch seen-good-worker-1, seen-good-worker-2 (create, ready, configmeta, package); configmeta to seen-good-controller-0, seen-good-worker-0',
    );
    expect(said.some((s) => s.startsWith('write configmeta.json'))).toBe(false);
    const events = (await good.fetchHistory()).events ?? [];
    const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes);
    expect(said).toHaveLength(scheduled.length);
    // The count goes out with the phase: one upsert as the grow starts (updating), one as it ends.
    const grow = events.slice(events.findIndex((e) => e.workflowExecutionSignaledEventAttributes));
    expect(grow.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes)).toHaveLength(2);

    // The current details are a Markdown table of members and states.
    const details = (await bad.query(workflowMetadataQuery)).currentDetails ?? '';
    expect(details).toContain('**default/seen-bad** (app testapp 1): **config error**');
    expect(details).toContain('| member | role | state | last event |');
    expect(details).toMatch(
      /\| seen-bad-worker-1 \| worker \| config error — configure on seen-bad-worker-1 exited with 3.* \| configure failed \(exit 3\) \|/,
    );
    expect(details).toContain('| seen-bad-worker-0 | worker | configured | configure ok |');

    for (const handle of [good, bad]) {
      await handle.signal(deleteSignal);
      await handle.result();
      expect(await attributes(handle)).toMatchObject({ phase: 'deleted', members: 0 });
    }
    expect((await summaries(bad)).at(-1)).toBe('tear down seen-bad (3 known members)');
    expect(await found('KdPhase = "deleted" AND KdApp = "testapp"', [good.workflowId, bad.workflowId])).toHaveLength(2);
  });
});
