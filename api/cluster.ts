import { z } from 'zod';
import { API_VERSION, Metadata, Resources, RoleId, dnsLabel, unreservedString } from './common.ts';
import { ENV_NAME_PATTERN, ENV_VALUE_MAX, MEMBERS_RULES, SERVICE_TYPES, STORAGE_SIZE_PATTERN } from './fields.ts';
import { clusterSpecIssues } from './rules.ts';

const EnvVar = z.strictObject({
  name: unreservedString('env name').regex(ENV_NAME_PATTERN.regex, ENV_NAME_PATTERN.message),
  value: z.string().max(ENV_VALUE_MAX, 'env value must be at most 32 KiB'),
});
export type EnvVar = z.infer<typeof EnvVar>;

export const ServiceType = z.enum(SERVICE_TYPES);

export const ClusterRole = z.strictObject({
  id: RoleId,
  // Absent means the N of the role's cardinality, as in KubeDirector.
  members: z
    .number()
    .int(MEMBERS_RULES.int)
    .min(...MEMBERS_RULES.min)
    .max(...MEMBERS_RULES.max)
    .optional(),
  resources: Resources.optional(),
  storage: z
    .strictObject({
      size: z.string().regex(STORAGE_SIZE_PATTERN.regex, STORAGE_SIZE_PATTERN.message),
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
    for (const issue of clusterSpecIssues(spec)) ctx.addIssue({ code: 'custom', ...issue });
  });
export type KdClusterSpec = z.infer<typeof KdClusterSpec>;

export const KdCluster = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('KdCluster'),
  metadata: Metadata,
  spec: KdClusterSpec,
});
export type KdCluster = z.infer<typeof KdCluster>;
