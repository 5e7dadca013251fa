/**
 * The status query answers one page of members (docs/adr/0013); this reads every page and joins them,
 * for the callers that want every member (`kdflow get NAME`, tests, chaos). Counts need only page one.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { STATUS_PAGE_MAX } from '../api/fields.ts';
import { statusQuery } from '../api/messages.ts';
import type { ClusterStatus } from '../api/status.ts';

export async function fullStatus(handle: Pick<WorkflowHandle, 'query'>): Promise<ClusterStatus> {
  const first = await handle.query(statusQuery, { offset: 0, limit: STATUS_PAGE_MAX });
  const roles = new Map(first.roles.map((r) => [r.id, { ...r, members: [...r.members] }]));
  for (let offset = first.page.offset + first.page.limit; offset < first.page.total; offset += STATUS_PAGE_MAX) {
    const page = await handle.query(statusQuery, { offset, limit: STATUS_PAGE_MAX });
    for (const role of page.roles) roles.get(role.id)?.members.push(...role.members);
  }
  return {
    ...first,
    roles: [...roles.values()],
    page: { offset: 0, limit: first.page.total, total: first.page.total },
  };
}
