import { z } from 'zod';
import {
  API_VERSION,
  ClusterName,
  Metadata,
  Resources,
  RoleId,
  dnsLabel,
  oversize,
  unreservedString,
} from './common.ts';
import { kubeDirectorRefusals } from './kubedirector-fields.ts';

/** The total member cap KubeDirector enforces; kdflow keeps it. */
export const MAX_MEMBERS = 1000;

const EnvVar = z.strictObject({
  name: unreservedString('env name').regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    'env name must be a shell-style identifier (letters, digits, _)',
  ),
  value: z.string().max(32_768, 'env value must be at most 32 KiB'),
});
export type EnvVar = z.infer<typeof EnvVar>;

export const ServiceType = z.enum(['ClusterIP', 'NodePort', 'LoadBalancer']);

export const ClusterRole = z.strictObject({
  id: RoleId,
  // Absent means the N of the role's cardinality, as in KubeDirector.
  members: z
    .number()
    .int('members must be a whole number')
    .min(0, 'members must not be negative')
    .max(MAX_MEMBERS, `members must be at most ${MAX_MEMBERS}`)
    .optional(),
  resources: Resources.optional(),
  storage: z
    .strictObject({
      size: z.string().regex(/^\d+(\.\d+)?([KMGTPE]i?)?$/, 'storage.size must be a quantity such as 10Gi'),
      storageClass: z.string().min(1).optional(),
    })
    .optional(),
  env: z.array(EnvVar).optional(),
  podLabels: z.record(z.string(), z.string()).optional(),
  serviceType: ServiceType.optional(),
  /** Values for the role's scripts: configmeta's `roles.<role>.secret_keys` (KubeDirector's `value`; `encryptedValue` is refused). */
  secretKeys: z
    .array(
      z.strictObject({
        name: unreservedString('secret key name').min(1, 'secret key name must not be empty'),
        value: z.string().optional(),
        encryptedValue: z.string().optional(),
      }),
    )
    .optional(),
  // KubeDirector fields kdflow does not apply yet: warned or refused by name (api/kubedirector-fields.ts).
  podAnnotations: z.record(z.string(), z.string()).nullable().optional(),
  serviceLabels: z.record(z.string(), z.string()).nullable().optional(),
  serviceAnnotations: z.record(z.string(), z.string()).nullable().optional(),
  affinity: z.looseObject({}).optional(),
  sharedMemory: z.string().optional(),
  serviceAccountName: z.string().optional(),
  fileInjections: z.array(z.looseObject({})).optional(),
  secret: z.looseObject({}).nullable().optional(),
  blockStorage: z.looseObject({}).nullable().optional(),
  volumeProjections: z.array(z.looseObject({})).optional(),
});
export type ClusterRole = z.infer<typeof ClusterRole>;

export const KdClusterSpec = z
  .strictObject({
    app: dnsLabel('app'),
    roles: z.array(ClusterRole),
    /** Member names are always `<cluster>-<role>-<ordinal>`, KubeDirector's CrNameRole; UID is accepted with a warning. */
    namingScheme: z.enum(['CrNameRole', 'UID']).optional(),
    // KubeDirector fields kdflow does not apply yet: warned or refused by name (api/kubedirector-fields.ts).
    appCatalog: z.enum(['local', 'system']).optional(),
    connections: z
      .strictObject({
        clusters: z.array(z.string()).optional(),
        configmaps: z.array(z.string()).optional(),
        secrets: z.array(z.string()).optional(),
      })
      .optional(),
    defaultSecret: z.looseObject({}).nullable().optional(),
  })
  .superRefine((spec, ctx) => {
    const seen = new Set<string>();
    spec.roles.forEach((role, i) => {
      if (seen.has(role.id))
        ctx.addIssue({ code: 'custom', path: ['roles', i, 'id'], message: `duplicate role id "${role.id}"` });
      seen.add(role.id);
      const names = new Set<string>();
      role.env?.forEach((env, j) => {
        if (names.has(env.name))
          ctx.addIssue({
            code: 'custom',
            path: ['roles', i, 'env', j, 'name'],
            message: `duplicate env name "${env.name}"`,
          });
        names.add(env.name);
      });
    });
    for (const issue of kubeDirectorRefusals('cluster', spec))
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    const big = oversize(spec, 'the cluster spec');
    if (big) ctx.addIssue({ code: 'custom', path: big.path, message: big.message });
  });
export type KdClusterSpec = z.infer<typeof KdClusterSpec>;

/** A cluster's name may be dotted (`ubuntu18.04`), as KubeDirector's are. */
export const ClusterMetadata = Metadata.extend({ name: ClusterName('metadata.name') });

export const KdCluster = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('KdCluster'),
  metadata: ClusterMetadata,
  spec: KdClusterSpec,
});
export type KdCluster = z.infer<typeof KdCluster>;
