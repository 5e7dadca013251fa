import type { ClusterStatus } from '../api/index.ts';
import type { Member } from '../workflows/model.ts';
import { topologyKey } from '../workflows/plan.ts';

/** The planner's view of a settled cluster, rebuilt from its status, for `kdflow plan`. */
export function membersFromStatus(status: ClusterStatus | undefined): Member[] {
  if (!status) return [];
  const members: Member[] = status.roles.flatMap((r) =>
    r.members
      .filter((m) => m.state !== 'create pending')
      .map((m) => ({
        name: m.name,
        role: r.id,
        ordinal: m.ordinal,
        fqdn: m.fqdn,
        state: m.state,
        created: true,
        ready: m.ready,
        configmeta: '',
        packageInstalled: true,
        batch: 0,
        announced: true,
        delnodesSent: false,
        failedNotifies: [],
        retryNotifies: [],
        events: [],
      })),
  );
  const topology = topologyKey(members);
  return members.map((m) => ({ ...m, configmeta: topology }));
}
