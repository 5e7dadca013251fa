/**
 * State that scales (docs/adr/0013), on a real dev server and real processes: a cluster grows and
 * shrinks across continue-as-new and goes on; what the workflow carries and schedules is O(1) per
 * member; history is read from Temporal across runs; a hand-started workflow with only the required
 * fields runs on its parsed, defaulted input, and a bad one fails at once, naming what is wrong.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import {
  KdClusterSpec,
  clusterStartOptions,
  deleteSignal,
  memberFqdn,
  memberName,
  resizeUpdate,
  statusQuery,
} from '../../api/index.ts';
import { fullStatus } from '../../lib/cluster-status.ts';
import { scriptHistory } from '../../lib/script-history.ts';
import type { clusterWorkflow } from '../../workflows/cluster.ts';
import { eventsLog, settled, startCluster, testApp, waitForStatus, writePackage } from '../support/cluster.ts';
import { useHarness } from '../../testing/harness.ts';

const h = useHarness();

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

async function runsOf(workflowId: string): Promise<HistoryEvent[][]> {
  const runs: HistoryEvent[][] = [];
  for await (const wf of h.env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    runs.push((await h.env.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()).events ?? []);
  }
  return runs;
}

const inputBytes = (e: HistoryEvent) =>
  (e.activityTaskScheduledEventAttributes?.input?.payloads ?? []).reduce((n, p) => n + (p.data?.length ?? 0), 0);

describe('state that scales', () => {
  it('grows and shrinks across continue-as-new; script inputs and the carried state stay O(1) per member', async () => {
    const app = testApp(await writePackage(`${h.home}/scale`), { maxParallel: 16 });
    // A small history bound forces continue-as-new between the operations.
    const handle = await startCluster(h, 'sc', app, { controller: 1, worker: 10 }, 'default', {
      maxHistoryEvents: 150,
    });
    await waitForStatus(handle, settled(1));
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 40 } }] });
    await waitForStatus(handle, settled(2));
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 12 } }] });
    const status = await waitForStatus(handle, settled(3));
    expect(status.phase).toBe('configured');
    const full = await fullStatus(handle);
    expect(full.roles.find((r) => r.id === 'worker')?.members.map((m) => m.state)).toEqual(
      Array(12).fill('configured'),
    );

    const runs = await runsOf(handle.workflowId);
    expect(runs.length, 'continued as new at least once').toBeGreaterThan(1);

    // The controller heard --addnodes about worker 10..39 with every FQDN, formatted in the activity.
    const log = await eventsLog(h, 'sc', 'sc-controller-0');
    const joined = Array.from({ length: 30 }, (_, i) =>
      memberFqdn(memberName('sc', 'worker', 10 + i), 'sc', 'default'),
    ).join(',');
    expect(log).toContain(`--addnodes --nodegroup 1 --role worker --fqdns ${joined}`);
    const left = Array.from({ length: 28 }, (_, i) =>
      memberFqdn(memberName('sc', 'worker', 12 + i), 'sc', 'default'),
    ).join(',');
    expect(log).toContain(`--delnodes --nodegroup 1 --role worker --fqdns ${left}`);

    // Every runScript input is the same size whether a notify is about 30 members or about 1.
    const scripts = runs
      .flat()
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runScript');
    const sizes = scripts.map(inputBytes);
    expect(sizes.length).toBeGreaterThan(40);
    expect(
      Math.max(...sizes),
      `runScript inputs from ${Math.min(...sizes)} to ${Math.max(...sizes)} bytes`,
    ).toBeLessThan(1200);

    // The carried state: bytes per member, far under what argv lists per member used to cost.
    const started = runs.flatMap((events) =>
      events.filter((e) => e.workflowExecutionStartedEventAttributes?.continuedExecutionRunId),
    );
    expect(started.length).toBeGreaterThan(0);
    for (const e of started) {
      const bytes = (e.workflowExecutionStartedEventAttributes?.input?.payloads ?? []).reduce(
        (n, p) => n + (p.data?.length ?? 0),
        0,
      );
      expect(bytes, 'continue-as-new input').toBeLessThan(16 * 1024);
    }

    // History is Temporal's: every configure, including those from before continue-as-new.
    const history = await scriptHistory(handle.client, handle.workflowId);
    const configures = history.filter((e) => e.event === 'configure');
    expect(configures.length).toBe(41);
    expect(
      configures.every(
        (e) =>
          e.exitCode === 0 && e.argv.join(' ') === '--configure' && (e.stdoutTail ?? '').includes('ran --configure'),
      ),
    ).toBe(true);
    expect(history.find((e) => e.event === 'addnodes' && e.member === 'sc-controller-0')?.argv.at(-1)).toBe(joined);
    expect(await scriptHistory(handle.client, handle.workflowId, { limit: 3 })).toEqual(history.slice(-3));

    await handle.signal(deleteSignal);
    expect((await handle.result()).phase).toBe('deleted');
  });

  it('runs a hand-started workflow that gives only the required fields, on its parsed defaults', async () => {
    const pkg = await writePackage(`${h.home}/bare`);
    // No retry, maxParallel, scriptTimeoutSeconds, eventList or members: what zod defaults.
    const app = {
      label: { name: 'bare' },
      distroID: 'bare',
      version: '1',
      defaultImageRepoTag: 'x:1',
      defaultConfigPackage: { packageURL: pkg },
      roles: [{ id: 'node', cardinality: '2' }],
    };
    const spec = { app: 'bare', roles: [{ id: 'node' }] };
    const input = { namespace: 'default', name: 'bare', appName: 'bare', app, spec } as unknown as Parameters<
      typeof clusterWorkflow
    >[0];
    const typed = { ...input, spec: KdClusterSpec.parse(spec) };
    const handle = await h.env.client.workflow.start<typeof clusterWorkflow>('clusterWorkflow', {
      taskQueue: h.taskQueue,
      args: [input],
      ...clusterStartOptions(typed),
    });
    const status = await waitForStatus(handle, settled(1));
    expect(status.phase).toBe('configured');
    expect(status.roles[0]?.members.map((m) => [m.name, m.state, m.events.map((e) => e.event)])).toEqual([
      ['bare-node-0', 'configured', ['configure']],
      ['bare-node-1', 'configured', ['configure']],
    ]);
    expect(await eventsLog(h, 'bare', 'bare-node-1')).toEqual(['--configure']);
    const first = await handle.query(statusQuery, { offset: 1, limit: 1 });
    expect(first.page).toEqual({ offset: 1, limit: 1, total: 2 });
    expect(first.roles[0]?.members.map((m) => m.name)).toEqual(['bare-node-1']);
    await handle.signal(deleteSignal);
    await handle.result();
  });

  it('fails a hand-started workflow with a bad input at once, non-retryable, naming each field and value', async () => {
    const pkg = await writePackage(`${h.home}/wrong`);
    const app = {
      label: { name: 'wrong' },
      distroID: 'wrong',
      version: '1',
      defaultImageRepoTag: 'x:1',
      defaultConfigPackage: { packageURL: pkg },
      roles: [{ id: 'node', cardinality: '1' }],
      maxParallel: 0,
    };
    const spec = { app: 'wrong', roles: [{ id: 'node', env: [{ name: '1abc', value: 'x' }] }] };
    const input = { namespace: 'default', name: 'wrong', appName: 'wrong', app, spec } as unknown as Parameters<
      typeof clusterWorkflow
    >[0];
    const typed = { ...input, spec: KdClusterSpec.parse({ app: 'wrong', roles: [{ id: 'node' }] }) };
    const handle = await h.env.client.workflow.start<typeof clusterWorkflow>('clusterWorkflow', {
      taskQueue: h.taskQueue,
      args: [input],
      ...clusterStartOptions(typed),
    });
    const failure = await handle.result().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({ type: 'InvalidCluster', nonRetryable: true });
    expect(cause?.message).toBe(
      [
        'app.maxParallel: got 0; expected number to be >=1',
        'spec.roles[0].env[0].name: env name must be a shell-style identifier (letters, digits, _), got "1abc"',
      ].join('\n'),
    );
  });
});
