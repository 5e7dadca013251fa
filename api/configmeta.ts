/**
 * /etc/guestconfig/configmeta.json in KubeDirector's shape (pkg/catalog/configmeta.go and types.go in
 * bluek8s/kubedirector), key by key and in its key order, so that existing startscripts and configcli
 * (`ccli --get distros.<distro>.1.roles.R.fqdns`) read it unchanged. What differs is said in
 * docs/adr/0025: `flavor.storage` holds the role's storage size when it has one, and `authToken` is
 * empty. Maps are written with sorted keys, as Go's encoder does.
 */
import type { KdAppSpec } from './app.ts';
import type { ClusterRole, KdClusterSpec } from './cluster.ts';
import { clusterDomain, memberName } from './names.ts';
import { fromRanges, type OrdinalRange } from './ranges.ts';

export interface TopologyMember {
  name: string;
  fqdn: string;
  ordinal: number;
  nodeId: number;
}

export interface TopologyRole {
  id: string;
  /** Live members by ordinal: O(roles) bytes for the usual contiguous ordinals, whatever the size. */
  ordinals: OrdinalRange[];
  /** Their node ids, in the order the ordinals expand to (runs, not sorted). Absent: numbered in order. */
  nodeIds?: OrdinalRange[];
}

export interface Topology {
  namespace: string;
  cluster: string;
  /** A stable plain id for the cluster (the first run id of its workflow), as KubeDirector's CR UID. */
  clusterId: string;
  app: Pick<KdAppSpec, 'distroID' | 'version' | 'services' | 'config' | 'label' | 'configSchemaVersion'>;
  /** The cluster's role settings configmeta shows: resources and storage (the flavor) and secret keys. */
  settings?: Pick<ClusterRole, 'id' | 'resources' | 'storage' | 'secretKeys' | 'blockStorage'>[];
  roles: TopologyRole[];
  /** The objects the cluster connects to, by name: the activity that writes configmeta reads them (docs/adr/0044). */
  connections?: KdClusterSpec['connections'];
}

/** A connected ConfigMap or Secret as configmeta shows it (KubeDirector's shape; a Secret's values base64, as Go writes []byte). */
export interface ConnectedObject {
  metadata: { name: string };
  data: Record<string, string>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** configmeta's `connections`, read by an activity when it writes configmeta: other clusters, and objects by their type label. */
export interface ConnectedContent {
  clusters: Record<string, Topology>;
  configmaps: Record<string, ConnectedObject[]>;
  secrets: Record<string, ConnectedObject[]>;
}

type RefKeys = { bdvlibrefkey: string[] };

/** An object with sorted keys and no prototype, so no id can reach Object.prototype. */
function sortedMap<V>(entries: [string, V][]): Record<string, V> {
  const out: Record<string, V> = Object.create(null) as Record<string, V>;
  for (const [key, value] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[key] = value;
  return out;
}

// Expanded once per topology: an activity writes the same topology to every member.
const expanded = new WeakMap<Topology, { id: string; members: TopologyMember[] }[]>();

function expand(topology: Topology): { id: string; members: TopologyMember[] }[] {
  const known = expanded.get(topology);
  if (known) return known;
  let next = 1;
  const roles = topology.roles.map((r) => {
    const ordinals = fromRanges(r.ordinals);
    const ids = r.nodeIds ? fromRanges(r.nodeIds) : [];
    return {
      id: r.id,
      members: ordinals.map((ordinal, i) => {
        const name = memberName(topology.cluster, r.id, ordinal);
        const nodeId = ids[i] ?? next;
        next = Math.max(next, nodeId) + 1;
        return { name, ordinal, nodeId, fqdn: `${name}.${clusterDomain(topology.cluster, topology.namespace)}` };
      }),
    };
  });
  expanded.set(topology, roles);
  return roles;
}

const UNITS: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes quantity's value (500m → 0.5, 4Gi → 4294967296); 0 when absent or unreadable. */
export function quantityValue(quantity: string | undefined): number {
  const match = /^([0-9.]+)(?:e(\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE])?)$/.exec(quantity ?? '');
  if (!match) return 0;
  const number = Number(match[1]);
  return match[2] !== undefined ? number * 10 ** Number(match[2]) : number * (UNITS[match[3] ?? ''] ?? 1);
}

/** KubeDirector's block devices: `numDevices` of them, at `pathPrefix` + 0, 1, … (configmeta's node.block_device_paths). */
export function blockDevicePaths(blockStorage: ClusterRole['blockStorage']): string[] {
  return blockStorage
    ? Array.from({ length: blockStorage.numDevices }, (_, i) => `${blockStorage.pathPrefix}${i}`)
    : [];
}

/** KubeDirector's flavor: cores and memory (MB) from the limits (requests when there are none), rounded as its Value() does. */
function flavor(settings: Pick<ClusterRole, 'resources' | 'storage'> | undefined): Record<string, string> {
  const limits = settings?.resources?.limits ?? settings?.resources?.requests ?? {};
  const bytes = Math.ceil(quantityValue(limits.memory));
  return {
    storage: settings?.storage?.size ?? 'n/a',
    name: 'n/a',
    memory: String(Math.floor(bytes / 2 ** 20)),
    description: 'n/a',
    cores: String(Math.ceil(quantityValue(limits.cpu))),
  };
}

/**
 * Everything configmeta says about one cluster but the node: the member's own cluster at the top, or
 * a connected one under `connections.clusters.<name>`, whose references start with that path (`prefix`).
 */
function clusterMeta(topology: Topology, prefix: string[]): Record<string, unknown> {
  const ref = (...keys: string[]): RefKeys => ({ bdvlibrefkey: [...prefix, ...keys] });
  const roleMembers = expand(topology).filter((r) => r.members.length > 0);
  const { app } = topology;
  const active = new Set(roleMembers.map((r) => r.id));
  const roleServices = app.config?.roleServices ?? [];
  const settings = new Map((topology.settings ?? []).map((s) => [s.id, s]));

  const servicesOf = (role: { id: string; members: TopologyMember[] }) =>
    sortedMap(
      roleServices
        .filter((rs) => rs.roleID === role.id)
        .flatMap((rs) => rs.serviceIDs)
        .flatMap((serviceId): [string, unknown][] => {
          const service = app.services?.find((s) => s.id === serviceId);
          if (!service) return [];
          const port = service.endpoint?.port;
          return [
            [
              serviceId,
              {
                qualifiers: [],
                name: service.label.name,
                id: serviceId,
                hostnames: ref('nodegroups', '1', 'roles', role.id, 'hostnames'),
                global_id: `1_${role.id}_${serviceId}`,
                fqdns: ref('nodegroups', '1', 'roles', role.id, 'fqdns'),
                exported_service: service.exported_service ?? '',
                endpoints:
                  port === undefined || role.members.length === 0
                    ? null
                    : role.members.map((m) => `${service.endpoint?.urlScheme ?? ''}://${m.fqdn}:${port}`),
                authToken: '',
              },
            ],
          ];
        }),
    );

  const roles = sortedMap(
    roleMembers.map((role): [string, unknown] => {
      const fqdns = role.members.map((m) => m.fqdn);
      const secretKeys = (settings.get(role.id)?.secretKeys ?? []).flatMap((k): [string, string][] =>
        k.value === undefined ? [] : [[k.name, k.value]],
      );
      return [
        role.id,
        {
          services: servicesOf(role),
          node_ids: role.members.map((m) => String(m.nodeId)),
          hostnames: fqdns,
          fqdns,
          fqdn_mappings: sortedMap(role.members.map((m) => [m.fqdn, String(m.nodeId)])),
          flavor: flavor(settings.get(role.id)),
          // Go's omitempty: no key when the role has none.
          ...(secretKeys.length > 0 ? { secret_keys: sortedMap(secretKeys) } : {}),
        },
      ];
    }),
  );

  // Top-level references: service → nodegroup → role, for the services a live role exposes.
  const services = sortedMap(
    (app.services ?? []).flatMap((service): [string, unknown][] => {
      const withService = [
        ...new Set(roleServices.filter((rs) => rs.serviceIDs.includes(service.id)).map((rs) => rs.roleID)),
      ].filter((id) => active.has(id));
      if (withService.length === 0) return [];
      const byRole = sortedMap(
        withService.map((id): [string, RefKeys] => [id, ref('nodegroups', '1', 'roles', id, 'services', service.id)]),
      );
      return [[service.id, { '1': byRole }]];
    }),
  );

  return {
    version: String(app.configSchemaVersion ?? 7),
    services,
    nodegroups: {
      '1': {
        roles,
        distro_id: app.distroID,
        catalog_entry_version: app.version,
        // Go writes an absent map as null.
        config_metadata: app.config?.configMeta ? sortedMap(Object.entries(app.config.configMeta)) : null,
      },
    },
    distros: sortedMap([[app.distroID, { '1': ref('nodegroups', '1') }]]),
    cluster: {
      name: topology.cluster,
      isolated: false,
      id: topology.clusterId,
      config_metadata: { '1': ref('nodegroups', '1', 'config_metadata') },
    },
  };
}

const EMPTY_CONNECTIONS: ConnectedContent = { clusters: {}, configmaps: {}, secrets: {} };

export function buildConfigmeta(
  topology: Topology,
  member: string,
  connected: ConnectedContent = EMPTY_CONNECTIONS,
): Record<string, unknown> {
  const self = expand(topology)
    .flatMap((r) => r.members.map((m) => ({ role: r.id, ...m })))
    .find((m) => m.name === member);
  if (!self) throw new Error(`member ${member} is not in the topology of ${topology.cluster}`);
  const { app } = topology;
  const domain = clusterDomain(topology.cluster, topology.namespace);
  const devices = blockDevicePaths(topology.settings?.find((s) => s.id === self.role)?.blockStorage);
  return {
    ...clusterMeta(topology, []),
    node: {
      role_id: self.role,
      nodegroup_id: '1',
      id: String(self.nodeId),
      hostname: self.fqdn,
      fqdn: self.fqdn,
      domain,
      distro_id: app.distroID,
      depends_on: {},
      // Go's omitempty: no key without block devices.
      ...(devices.length > 0 ? { block_device_paths: devices } : {}),
    },
    connections: {
      clusters: sortedMap(
        Object.entries(connected.clusters).map(([name, other]): [string, unknown] => [
          name,
          clusterMeta(other, ['connections', 'clusters', name]),
        ]),
      ),
      configmaps: sortedMap(Object.entries(connected.configmaps)),
      secrets: sortedMap(Object.entries(connected.secrets)),
    },
  };
}

/** The file as members get it: readable by whatever user the startscript runs as, as KubeDirector's (0644). */
export function configmetaFile(
  topology: Topology,
  member: string,
  connected?: ConnectedContent,
): { content: string; mode: number } {
  return { content: `${JSON.stringify(buildConfigmeta(topology, member, connected), null, 2)}\n`, mode: 0o644 };
}
