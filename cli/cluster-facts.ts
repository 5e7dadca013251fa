/**
 * What `kdflow get` shows beside a cluster's status: its app's version (the spec query) and its age,
 * from the start of the workflow's first run (continue-as-new starts new runs; `firstRunId` names the
 * first). A first run that Temporal no longer retains leaves the age unknown.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { specQuery } from '../api/messages.ts';
import type { ClusterFacts } from './render.ts';

export interface RunInfo {
  workflowId: string;
  runId: string;
  startTime: Date;
  firstRunId?: string | null;
}

export async function createdAt(client: Client, run: RunInfo): Promise<Date | undefined> {
  if (!run.firstRunId || run.firstRunId === run.runId) return run.startTime;
  try {
    return (await client.workflow.getHandle(run.workflowId, run.firstRunId).describe()).startTime;
  } catch {
    return undefined;
  }
}

export async function clusterFacts(
  client: Client,
  handle: Pick<WorkflowHandle, 'query'>,
  run: RunInfo,
): Promise<ClusterFacts> {
  const [view, created] = await Promise.all([handle.query(specQuery), createdAt(client, run)]);
  return { appVersion: view.app.version, ...(created ? { createdAt: created } : {}) };
}
