/**
 * /etc/guestconfig/configmeta.json, in KubeDirector's layout so that existing startscripts (and
 * helpers such as `ccli --get node.role_id`) read it unchanged.
 */
import type { KdAppSpec } from './app.ts';
import { memberFqdn, memberName } from './names.ts';
import { fromRanges, type OrdinalRange } from './ranges.ts';

export interface TopologyMember {
  name: string;
  fqdn: string;
  ordinal: number;
}

export interface Topology {
  namespace: string;
  cluster: string;
  /** A stable id for the cluster (the workflow id). */
  clusterId: string;
  app: Pick<KdAppSpec, 'distroID' | 'version' | 'services' | 'config' | 'label'>;
  /** Live members by ordinal: O(roles) bytes for the usual contiguous ordinals, whatever the size. */
  roles: { id: string; ordinals: OrdinalRange[] }[];
}

// Expanded once per topology: an activity writes the same topology to every member.
const expanded = new WeakMap<Topology, { id: string; members: TopologyMember[] }[]>();

function expand(topology: Topology): { id: string; members: TopologyMember[] }[] {
  const known = expanded.get(topology);
  if (known) return known;
  const roles = topology.roles.map((r) => ({
    id: r.id,
    members: fromRanges(r.ordinals).map((ordinal) => {
      const name = memberName(topology.cluster, r.id, ordinal);
      return { name, ordinal, fqdn: memberFqdn(name, topology.cluster, topology.namespace) };
    }),
  }));
  expanded.set(topology, roles);
  return roles;
}

export function buildConfigmeta(topology: Topology, member: string): Record<string, unknown> {
  const roleMembers = expand(topology);
  const self = roleMembers.flatMap((r) => r.members.map((m) => ({ role: r.id, ...m }))).find((m) => m.name === member);
  if (!self) throw new Error(`member ${member} is not in the topology of ${topology.cluster}`);
  const domain = `${topology.cluster}.${topology.namespace}.svc.cluster.local`;
  const roleServices = new Map((topology.app.config?.roleServices ?? []).map((rs) => [rs.roleID, rs.serviceIDs]));
  // Keyed by role and service ids: objects without a prototype, so no id can reach Object.prototype.
  const roles: Record<string, unknown> = Object.create(null);
  for (const role of roleMembers) {
    const services: Record<string, unknown> = Object.create(null);
    for (const serviceId of roleServices.get(role.id) ?? []) {
      const service = topology.app.services?.find((s) => s.id === serviceId);
      if (!service) continue;
      const endpoint = service.endpoint;
      services[serviceId] = {
        id: serviceId,
        name: service.label.name,
        qualifiers: [],
        global_id: `1_${role.id}_${serviceId}`,
        hostnames: role.members.map((m) => m.fqdn),
        fqdns: role.members.map((m) => m.fqdn),
        exported_service: '',
        endpoints: endpoint
          ? role.members.map(
              (m) => `${endpoint.urlScheme ?? 'http'}://${m.fqdn}:${endpoint.port}${endpoint.path ?? ''}`,
            )
          : [],
      };
    }
    roles[role.id] = {
      node_ids: role.members.map((m) => String(m.ordinal)),
      hostnames: role.members.map((m) => m.fqdn),
      fqdns: role.members.map((m) => m.fqdn),
      fqdn_mappings: Object.fromEntries(role.members.map((m) => [m.fqdn, String(m.ordinal)])),
      services,
    };
  }
  return {
    version: '7',
    services: {},
    nodegroups: {
      '1': {
        distro_id: topology.app.distroID,
        catalog_entry_version: topology.app.version,
        config_metadata: {},
        roles,
      },
    },
    distros: { [topology.app.distroID]: { '1': { roles: topology.roles.map((r) => r.id) } } },
    cluster: { name: topology.cluster, id: topology.clusterId, isolated: false, config_metadata: {} },
    node: {
      role_id: self.role,
      nodegroup_id: '1',
      id: String(self.ordinal),
      hostname: self.fqdn,
      fqdn: self.fqdn,
      domain,
      distro_id: topology.app.distroID,
      depends_on: {},
      block_device_paths: [],
    },
    connections: {},
  };
}
