import { z } from 'zod';
import { ClusterName, Metadata, Resources, RoleId, dnsLabel, manifest, unreservedString } from './common.ts';
import {
  APP_CATALOGS,
  BLOCK_DEVICES_RULES,
  FILE_MODE_RULES,
  INJECTION_URL_PATTERN,
  OWNER_PATTERN,
  guestPathDotDot,
  guestPathPattern,
  persistDirClimbs,
  ENV_NAME_PATTERN,
  ENV_VALUE_MAX,
  MEMBERS_RULES,
  NAMING_SCHEMES,
  SERVICE_TYPES,
  STORAGE_SIZE_PATTERN,
} from './fields.ts';
import { clusterSpecIssues } from './rules.ts';

const EnvVar = z.strictObject({
  name: unreservedString('env name').regex(ENV_NAME_PATTERN.regex, ENV_NAME_PATTERN.message),
  value: z.string().max(ENV_VALUE_MAX, 'env value must be at most 32 KiB'),
});
export type EnvVar = z.infer<typeof EnvVar>;

export const ServiceType = z.enum(SERVICE_TYPES);

const GuestPath = (what: string) =>
  z
    .string()
    .regex(guestPathPattern(what).regex, guestPathPattern(what).message)
    .refine((p) => !persistDirClimbs(p), guestPathDotDot(what));
const FileMode = z
  .number()
  .int(FILE_MODE_RULES.int)
  .min(...FILE_MODE_RULES.min)
  .max(...FILE_MODE_RULES.max);

/** KubeDirector's KDSecret: a Secret of the namespace mounted in every member of the role (docs/adr/0045). */
export const MemberSecret = z.strictObject({
  name: ClusterName('secret name'),
  defaultMode: FileMode.optional(),
  mountPath: GuestPath('secret mountPath'),
  readOnly: z.boolean().optional(),
});
export type MemberSecret = z.infer<typeof MemberSecret>;

/** A file fetched into every member of the role before --configure (docs/adr/0045). */
export const FileInjection = z.strictObject({
  srcURL: z.string().regex(INJECTION_URL_PATTERN.regex, INJECTION_URL_PATTERN.message),
  destDir: GuestPath('destDir'),
  permissions: z
    .strictObject({
      fileMode: FileMode.optional(),
      fileOwner: z.string().regex(OWNER_PATTERN.regex, OWNER_PATTERN.message).optional(),
      fileGroup: z.string().regex(OWNER_PATTERN.regex, OWNER_PATTERN.message).optional(),
    })
    .optional(),
});
export type FileInjection = z.infer<typeof FileInjection>;

/** Raw block devices for every member of the role: Kubernetes only (docs/adr/0045). */
export const BlockStorage = z.strictObject({
  storageClassName: z.string().min(1).optional(),
  pathPrefix: GuestPath('blockStorage pathPrefix'),
  size: z.string().regex(STORAGE_SIZE_PATTERN.regex, STORAGE_SIZE_PATTERN.message).optional(),
  numDevices: z
    .number()
    .int(BLOCK_DEVICES_RULES.int)
    .min(...BLOCK_DEVICES_RULES.min)
    .max(...BLOCK_DEVICES_RULES.max),
});
export type BlockStorage = z.infer<typeof BlockStorage>;

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
  podAnnotations: z.record(z.string(), z.string()).nullable().optional(),
  serviceLabels: z.record(z.string(), z.string()).nullable().optional(),
  serviceAnnotations: z.record(z.string(), z.string()).nullable().optional(),
  affinity: z.looseObject({}).optional(),
  // KubeDirector fields kdflow does not apply yet: warned or refused by name (api/kubedirector-fields.ts).
  sharedMemory: z.string().optional(),
  serviceAccountName: z.string().optional(),
  fileInjections: z.array(FileInjection).optional(),
  secret: MemberSecret.nullable().optional(),
  blockStorage: BlockStorage.nullable().optional(),
  volumeProjections: z.array(z.looseObject({})).optional(),
});
export type ClusterRole = z.infer<typeof ClusterRole>;

export const KdClusterSpec = z
  .strictObject({
    app: dnsLabel('app'),
    roles: z.array(ClusterRole),
    /** Member names are always `<cluster>-<role>-<ordinal>`, KubeDirector's CrNameRole; UID is accepted with a warning. */
    namingScheme: z.enum(NAMING_SCHEMES).optional(),
    // KubeDirector fields kdflow does not apply yet: warned or refused by name (api/kubedirector-fields.ts).
    appCatalog: z.enum(APP_CATALOGS).optional(),
    connections: z
      .strictObject({
        // Names become object lookups and, on the local runtime, file names: checked as cluster names are.
        clusters: z.array(ClusterName('connected cluster')).optional(),
        configmaps: z.array(ClusterName('connected configmap')).optional(),
        secrets: z.array(ClusterName('connected secret')).optional(),
      })
      .optional(),
    /** The secret of roles without their own `secret` (docs/adr/0045). */
    defaultSecret: MemberSecret.nullable().optional(),
    /**
     * The app version the cluster runs (docs/adr/0037): absent, a new cluster gets the catalog's
     * current version and a live one keeps its own; a change starts a rolling upgrade to it.
     */
    appVersion: z.string().min(1, 'appVersion must not be empty').optional(),
  })
  .superRefine((spec, ctx) => {
    for (const issue of clusterSpecIssues(spec)) ctx.addIssue({ code: 'custom', ...issue });
  });
export type KdClusterSpec = z.infer<typeof KdClusterSpec>;

/** A cluster's name may be dotted (`ubuntu18.04`), as KubeDirector's are. */
export const ClusterMetadata = Metadata.extend({ name: ClusterName('metadata.name') });

export const KdCluster = manifest('KdCluster', ClusterMetadata, KdClusterSpec);
export type KdCluster = z.infer<typeof KdCluster>;
