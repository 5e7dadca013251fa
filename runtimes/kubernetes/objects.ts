/**
 * The Kubernetes objects of a member, as pure functions of its spec: one Pod per member (ADR 0007),
 * a PVC when its role has storage, a Service per role endpoint, and one headless Service per cluster
 * that gives members their FQDNs and owns everything else, so nothing is orphaned.
 */
import type {
  V1OwnerReference,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Service,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { blockDevicePaths } from '../../api/configmeta.ts';
import { dnsName } from '../../api/names.ts';
import type { MemberSpec, MemberTarget } from '../runtime.ts';

export const LABELS = {
  cluster: 'kdflow.dev/cluster',
  role: 'kdflow.dev/role',
  member: 'kdflow.dev/member',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;
export const CONTAINER = 'app';
/** The rolling operation's replacement a pod was created for (docs/adr/0037). */
export const REPLACEMENT_ANNOTATION = 'kdflow.dev/replacement';
const DATA_VOLUME = 'data';

export function memberLabels(member: Pick<MemberTarget, 'cluster' | 'role' | 'name'>): Record<string, string> {
  return {
    [LABELS.managedBy]: 'kdflow',
    [LABELS.cluster]: member.cluster,
    [LABELS.role]: member.role,
    [LABELS.member]: member.name,
  };
}

export function clusterSelector(cluster: string): string {
  return `${LABELS.cluster}=${cluster}`;
}

/**
 * Whose an existing object is, when it is not this cluster's (with `member`: this member's; without:
 * the cluster's headless Service, which has no member label). Undefined when it is ours. Member names
 * of two clusters can collide (ADR 0018), so an object is never taken as ours by its name alone.
 */
export function foreignOwner(
  labels: Record<string, string> | undefined,
  cluster: string,
  member?: string,
): string | undefined {
  const owner = labels?.[LABELS.cluster];
  const ownerMember = labels?.[LABELS.member];
  if (owner === cluster && ownerMember === member) return undefined;
  if (!owner) return 'no kdflow cluster (it has no kdflow.dev/cluster label)';
  return ownerMember ? `cluster "${owner}" (member ${ownerMember})` : `cluster "${owner}"`;
}

export const pvcName = (member: string) => `${member}-data`;
export const memberServiceName = (member: string, serviceId: string) => `${member}-${serviceId}`;

/** The owner every member object points at: the cluster's headless Service. */
export function ownerRef(anchor: V1Service): V1OwnerReference {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    name: anchor.metadata?.name ?? '',
    uid: anchor.metadata?.uid ?? '',
    blockOwnerDeletion: true,
  };
}

/** The headless Service is named after the cluster's DNS-safe form (`ubuntu18.04` → `ubuntu18-04`). */
export const headlessServiceName = (cluster: string): string => dnsName(cluster);

export function headlessService(namespace: string, cluster: string): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: headlessServiceName(cluster),
      namespace,
      labels: { [LABELS.managedBy]: 'kdflow', [LABELS.cluster]: cluster },
    },
    spec: {
      clusterIP: 'None',
      selector: { [LABELS.cluster]: cluster },
      // Scripts resolve each other's FQDNs before every member is Ready: configure runs on a ready
      // member, but addnodes names members that may still be starting.
      publishNotReadyAddresses: true,
    },
  };
}

/** Each persist dir is a subPath of the member's one volume, as KubeDirector mounts them. */
function persistMounts(persistDirs: string[]): V1VolumeMount[] {
  return persistDirs.map((dir) => ({
    name: DATA_VOLUME,
    mountPath: dir,
    subPath: dir.replace(/^\/+/, '').replace(/\//g, '_'),
  }));
}

export const blockPvcName = (member: string, device: number) => `${member}-block-${device}`;
const blockVolume = (device: number) => `block-${device}`;
const SECRET_VOLUME = 'secret';
/** KubeDirector's size for a block device that names none. */
const DEFAULT_BLOCK_SIZE = '1Gi';

export function memberPod(member: MemberSpec, owner: V1OwnerReference): V1Pod {
  const settings = member.settings;
  const secret = settings?.secret ?? undefined;
  const devices = blockDevicePaths(settings?.blockStorage);
  const volumes: V1Volume[] = [
    ...(settings?.storage ? [{ name: DATA_VOLUME, persistentVolumeClaim: { claimName: pvcName(member.name) } }] : []),
    ...(secret
      ? [
          {
            name: SECRET_VOLUME,
            secret: {
              secretName: secret.name,
              ...(secret.defaultMode !== undefined ? { defaultMode: secret.defaultMode } : {}),
            },
          },
        ]
      : []),
    ...devices.map((_, i) => ({
      name: blockVolume(i),
      persistentVolumeClaim: { claimName: blockPvcName(member.name, i) },
    })),
  ];
  const mounts: V1VolumeMount[] = [
    ...(settings?.storage ? persistMounts(member.persistDirs) : []),
    ...(secret ? [{ name: SECRET_VOLUME, mountPath: secret.mountPath, readOnly: secret.readOnly ?? false }] : []),
  ];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: member.name,
      namespace: member.namespace,
      labels: { ...(settings?.podLabels ?? {}), ...memberLabels(member) },
      ...((settings?.podAnnotations && Object.keys(settings.podAnnotations).length > 0) || member.replacement
        ? {
            annotations: {
              ...(settings?.podAnnotations ?? {}),
              ...(member.replacement ? { [REPLACEMENT_ANNOTATION]: member.replacement } : {}),
            },
          }
        : {}),
      ownerReferences: [owner],
    },
    spec: {
      hostname: member.name,
      subdomain: headlessServiceName(member.cluster),
      // The workflow owns a member's life: a dead pod is replaced by `kdflow retry`, never silently.
      restartPolicy: 'Always',
      automountServiceAccountToken: false,
      containers: [
        {
          name: CONTAINER,
          image: member.image,
          imagePullPolicy: 'IfNotPresent',
          env: (settings?.env ?? []).map(({ name, value }) => ({ name, value })),
          ...(settings?.resources
            ? {
                resources: {
                  ...(settings.resources.requests ? { requests: settings.resources.requests } : {}),
                  ...(settings.resources.limits ? { limits: settings.resources.limits } : {}),
                },
              }
            : {}),
          ports: (member.services ?? []).map((s) => ({ name: s.id.slice(0, 15), containerPort: s.port })),
          volumeMounts: mounts,
          ...(devices.length > 0
            ? { volumeDevices: devices.map((devicePath, i) => ({ name: blockVolume(i), devicePath })) }
            : {}),
        },
      ],
      volumes,
    },
  };
}

export function memberPvc(member: MemberSpec, owner: V1OwnerReference): V1PersistentVolumeClaim | undefined {
  const storage = member.settings?.storage;
  if (!storage) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: pvcName(member.name),
      namespace: member.namespace,
      labels: memberLabels(member),
      ownerReferences: [owner],
    },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: storage.size } },
      ...(storage.storageClass ? { storageClassName: storage.storageClass } : {}),
    },
  };
}

/** The member's raw block devices: one PVC in Block mode each, deleted with the member (docs/adr/0045). */
export function memberBlockPvcs(member: MemberSpec, owner: V1OwnerReference): V1PersistentVolumeClaim[] {
  const block = member.settings?.blockStorage;
  if (!block) return [];
  return blockDevicePaths(block).map((_, i) => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: blockPvcName(member.name, i),
      namespace: member.namespace,
      labels: memberLabels(member),
      ownerReferences: [owner],
    },
    spec: {
      accessModes: ['ReadWriteOnce'],
      volumeMode: 'Block',
      resources: { requests: { storage: block.size ?? DEFAULT_BLOCK_SIZE } },
      ...(block.storageClassName ? { storageClassName: block.storageClassName } : {}),
    },
  }));
}

/** One Service per endpoint of the member's role, of the cluster's serviceType; owned by the pod. */
export function memberServices(member: MemberSpec, podOwner: V1OwnerReference): V1Service[] {
  return (member.services ?? []).map((service) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: memberServiceName(member.name, service.id),
      namespace: member.namespace,
      labels: memberLabels(member),
      ownerReferences: [podOwner],
    },
    spec: {
      type: member.settings?.serviceType ?? 'ClusterIP',
      selector: { [LABELS.member]: member.name },
      ports: [{ name: service.id.slice(0, 15), port: service.port, targetPort: service.port }],
    },
  }));
}
