/**
 * Starting a custom action (docs/adr/0050) the one way every asker does (`kdflow action`, `kdflow
 * dev`'s key, the shim's KdAction): the request is checked with the workflow's own check against the
 * app and members the cluster has now, and only then sent as the `runAction` update.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { resolveAction, type ActionStarted, type ResolvedAction, type RunActionRequest } from '../api/actions.ts';
import { runActionUpdate, specQuery } from '../api/messages.ts';
import type { FieldIssue } from '../api/rules.ts';
import { fullStatus } from './cluster-status.ts';

export type StartedAction = ActionStarted & { resolved: ResolvedAction };

/** The started operation, or the issues (each naming the field, the value and what is accepted) with nothing sent. */
export async function startAction(
  handle: Pick<WorkflowHandle, 'query' | 'executeUpdate'>,
  request: RunActionRequest,
  updateId?: string,
): Promise<{ started: StartedAction } | { issues: FieldIssue[] }> {
  const [view, status] = await Promise.all([handle.query(specQuery), fullStatus(handle)]);
  const members = status.roles.flatMap((r) => r.members.map((m) => ({ name: m.name, role: r.id, state: m.state })));
  const checked = resolveAction(view.app, members, request);
  if (!('resolved' in checked)) return { issues: checked.issues };
  const started = await handle.executeUpdate(runActionUpdate, {
    args: [request],
    ...(updateId !== undefined ? { updateId } : {}),
  });
  return { started: { ...started, resolved: checked.resolved } };
}
