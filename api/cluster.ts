import { z } from 'zod';
import { API_VERSION, Metadata, Resources, RoleId, dnsLabel, oversize, unreservedString } from './common.ts';

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
});
export type ClusterRole = z.infer<typeof ClusterRole>;

export const KdClusterSpec = z
  .strictObject({
    app: dnsLabel('app'),
    roles: z.array(ClusterRole),
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
    const big = oversize(spec, 'the cluster spec');
    if (big) ctx.addIssue({ code: 'custom', path: big.path, message: big.message });
  });
export type KdClusterSpec = z.infer<typeof KdClusterSpec>;

export const KdCluster = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('KdCluster'),
  metadata: Metadata,
  spec: KdClusterSpec,
});
export type KdCluster = z.infer<typeof KdCluster>;
