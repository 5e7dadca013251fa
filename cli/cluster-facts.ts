/**
 * What `kdflow get` shows beside a cluster's status: its app's version (the spec query) and its age,
 * from the start of the workflow's first run (continue-as-new starts new runs; `firstRunId` names the
 * first). A first run that Temporal no longer retains leaves the age unknown.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { specQuery } from '../api/messages.ts';
import { persistDirNotes } from '../api/persist-dirs.ts';
import type { ClusterFacts } from './render.ts';

export interface RunInfo {
  workflowId: string;
  runId: string;
  startTime: Date;
  firstRunId?: string | null;
}

/** `startOf(runId)`: when that run of the workflow started (a describe). */
export async function createdAt(startOf: (runId: string) => Promise<Date>, run: RunInfo): Promise<Date | undefined> {
  if (!run.firstRunId || run.firstRunId === run.runId) return run.startTime;
  try {
    return await startOf(run.firstRunId);
  } catch {
    return undefined;
  }
}

export async function clusterFacts(cluster: {
  handle: Pick<WorkflowHandle, 'query'>;
  run: RunInfo;
  startOf: (runId: string) => Promise<Date>;
}): Promise<ClusterFacts> {
  const [view, created] = await Promise.all([cluster.handle.query(specQuery), createdAt(cluster.startOf, cluster.run)]);
  const notes = persistDirNotes(view.app);
  return {
    appVersion: view.app.version,
    ...(created ? { createdAt: created } : {}),
    ...(notes.length > 0 ? { notes } : {}),
  };
}
