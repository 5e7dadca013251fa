import { z } from 'zod';
import { EventName, Metadata, Quantity, RoleId, dnsLabel, manifest } from './common.ts';
import { parseCardinality } from './cardinality.ts';
import {
  ACTION_MODES,
  ACTION_PARAM_NAME,
  ACTION_PARAM_TYPES,
  ACTION_TIMEOUT,
  APP_KNOBS,
  CONFIGURE_ATTEMPTS,
  CARDINALITY_MESSAGE,
  CONFIG_SCHEMA_VERSION_MIN,
  HOOK_ATTEMPTS,
  HOOK_TIMEOUT,
  PERSIST_DIR_DOTDOT,
  PERSIST_DIR_PATTERN,
  RETRY_KNOBS,
  SERVICE_PORT,
  SHA256_PATTERN,
  persistDirClimbs,
} from './fields.ts';
import { MAX_UNAVAILABLE, ON_FAILURE } from './rolling.ts';
import { appSpecIssues } from './rules.ts';

/** `null` says "this role has no config package", as in KubeDirector. */
export const ConfigPackage = z
  .strictObject({
    packageURL: z.string().min(1, 'packageURL must not be empty'),
    /** The archive's SHA-256: an install of other bytes is refused (kdflow's; KubeDirector has none). */
    sha256: z.string().regex(SHA256_PATTERN.regex, SHA256_PATTERN.message).optional(),
    useNewSetupLayout: z.boolean().optional(),
  })
  .nullable();
export type ConfigPackage = z.infer<typeof ConfigPackage>;

const PersistDir = z
  .string()
  .regex(PERSIST_DIR_PATTERN.regex, PERSIST_DIR_PATTERN.message)
  .refine((dir) => !persistDirClimbs(dir), PERSIST_DIR_DOTDOT);

export const Cardinality = z.string().refine((c) => parseCardinality(c) !== undefined, CARDINALITY_MESSAGE);

export const AppRole = z.strictObject({
  id: RoleId,
  cardinality: Cardinality,
  imageRepoTag: z.string().min(1).optional(),
  configPackage: ConfigPackage.optional(),
  persistDirs: z.array(PersistDir).optional(),
  eventList: z.array(EventName).optional(),
  // A flat resource list, as in KubeDirector: { cpu: "2", memory: "4Gi" }.
  minResources: z.record(z.string(), Quantity).optional(),
  // A quantity, as KubeDirector's validator parses it; checked against a new cluster's storage (docs/adr/0045).
  minStorage: z.strictObject({ size: Quantity, ephemeralModeSupported: z.boolean().optional() }).optional(),
  // KubeDirector fields kdflow accepts and ignores, with a warning (api/kubedirector-fields.ts).
  containerSpec: z.looseObject({}).optional(),
  maxLogSizeDump: z.number().int().min(0).optional(),
});
export type AppRole = z.infer<typeof AppRole>;

export const AppService = z.strictObject({
  id: dnsLabel('service id'),
  label: z.strictObject({ name: z.string().min(1), description: z.string().optional() }),
  endpoint: z
    .strictObject({
      urlScheme: z.string().optional(),
      port: z.number().int().min(SERVICE_PORT.min).max(SERVICE_PORT.max),
      path: z.string().optional(),
      isDashboard: z.boolean().optional(),
      hasAuthToken: z.boolean().optional(),
    })
    .optional(),
  // KubeDirector's name for it: copied into configmeta's service entries.
  exported_service: z.string().optional(),
});
export type AppService = z.infer<typeof AppService>;

/** A typed parameter of a custom action (docs/adr/0050); values travel as strings, checked by type. */
export const ActionParam = z.strictObject({
  name: z.string().regex(ACTION_PARAM_NAME.regex, ACTION_PARAM_NAME.message),
  type: z.enum(ACTION_PARAM_TYPES),
  /** For `enum`: the accepted values. */
  values: z.array(z.string()).optional(),
  required: z.boolean().optional(),
  /** Used when the parameter is not given; checked against the type like a given value. */
  default: z.string().optional(),
  description: z.string().optional(),
});
export type ActionParam = z.infer<typeof ActionParam>;

/** A named custom action: `startscript --action NAME --param k=v…` on its roles' members (docs/adr/0050). */
export const AppAction = z.strictObject({
  name: dnsLabel('action name'),
  description: z.string().optional(),
  /** The roles it runs on; absent: every role with a config package. */
  roles: z.array(RoleId).optional(),
  /** parallel (up to maxParallel at once) or serial (one member after another, stopping at the first failure). */
  mode: z.enum(ACTION_MODES).optional(),
  /** Absent: the app's scriptTimeoutSeconds. */
  timeoutSeconds: z.number().int().min(ACTION_TIMEOUT.min).max(ACTION_TIMEOUT.max).optional(),
  params: z.array(ActionParam).optional(),
});
export type AppAction = z.infer<typeof AppAction>;

/**
 * How the app wants to be upgraded (docs/adr/0037): the version an upgrade goes to says it. Roles in
 * `roleOrder` go first, in that order, the others after them in the app's role order; `kdflow upgrade`'s
 * --max-unavailable and --on-failure override the other two.
 */
export const UpgradePolicy = z.strictObject({
  roleOrder: z.array(RoleId).optional(),
  onFailure: z.enum(ON_FAILURE).optional(),
  maxUnavailable: z.number().int().min(MAX_UNAVAILABLE.min).max(MAX_UNAVAILABLE.max).optional(),
});
export type UpgradePolicy = z.infer<typeof UpgradePolicy>;
/** A cluster hook (docs/adr/0053): `startscript --postprovision|--preterminate` on one member of `role`. */
export const AppHook = z.strictObject({
  role: RoleId,
  /** Each run's bound; absent: HOOK_TIMEOUT.default. */
  timeoutSeconds: z.number().int().min(HOOK_TIMEOUT.min).max(HOOK_TIMEOUT.max).optional(),
  /** Runs at most, the first included; absent: HOOK_ATTEMPTS.default. */
  attempts: z.number().int().min(HOOK_ATTEMPTS.min).max(HOOK_ATTEMPTS.max).optional(),
});
export type AppHook = z.infer<typeof AppHook>;

export const AppHooks = z.strictObject({
  /** Once, after the whole cluster is first configured. */
  postProvision: AppHook.optional(),
  /** Before teardown on delete; never holds it longer than its attempts' timeouts. */
  preTerminate: AppHook.optional(),
});
export type AppHooks = z.infer<typeof AppHooks>;

/**
 * The order roles are handled in (docs/adr/0053). `provision` and `terminate` are stages (roles
 * of a stage together; roles no stage names form the last); `grow` is the roles' turns in a resize.
 */
export const RoleOrder = z.strictObject({
  provision: z.array(z.array(RoleId)).optional(),
  terminate: z.array(z.array(RoleId)).optional(),
  grow: z.array(RoleId).optional(),
});
export type RoleOrder = z.infer<typeof RoleOrder>;

const knob = (k: { min: number; max: number; default: number; int?: boolean }) =>
  (k.int === false ? z.number() : z.number().int()).min(k.min).max(k.max).default(k.default);

export const RetryKnobs = z.strictObject({
  maximumAttempts: knob(RETRY_KNOBS.maximumAttempts),
  initialIntervalSeconds: knob(RETRY_KNOBS.initialIntervalSeconds),
  backoffCoefficient: knob(RETRY_KNOBS.backoffCoefficient),
});
export type RetryKnobs = z.infer<typeof RetryKnobs>;

export const KdAppSpec = z
  .strictObject({
    label: z.strictObject({
      name: z.string().min(1, 'label.name must not be empty'),
      description: z.string().optional(),
    }),
    distroID: z.string().min(1, 'distroID must not be empty'),
    version: z.string().min(1, 'version must not be empty'),
    /** configmeta.json's `version`; KubeDirector requires at least 7. */
    configSchemaVersion: z
      .number()
      .int()
      .min(CONFIG_SCHEMA_VERSION_MIN, `configSchemaVersion must be at least ${CONFIG_SCHEMA_VERSION_MIN}`)
      .optional(),
    defaultImageRepoTag: z.string().min(1).optional(),
    defaultConfigPackage: ConfigPackage.optional(),
    defaultPersistDirs: z.array(PersistDir).optional(),
    defaultEventList: z.array(EventName).optional(),
    systemdRequired: z.boolean().optional(),
    roles: z.array(AppRole).min(1, 'an app needs at least one role'),
    services: z.array(AppService).optional(),
    config: z
      .strictObject({
        roleServices: z.array(z.strictObject({ roleID: RoleId, serviceIDs: z.array(z.string()) })).optional(),
        selectedRoles: z.array(RoleId).optional(),
        /** Free-form settings for the app's scripts: configmeta's `config_metadata`. */
        configMeta: z.record(z.string(), z.string()).nullable().optional(),
      })
      .optional(),
    // KubeDirector fields kdflow accepts and ignores, with a warning (api/kubedirector-fields.ts).
    capabilities: z.array(z.string()).optional(),
    logoURL: z.string().optional(),
    defaultMaxLogSizeDump: z.number().int().min(0).optional(),
    // kdflow's own knobs; KubeDirector has none of these (its scripts never time out).
    scriptTimeoutSeconds: knob(APP_KNOBS.scriptTimeoutSeconds),
    maxParallel: knob(APP_KNOBS.maxParallel),
    retry: RetryKnobs.default({
      maximumAttempts: RETRY_KNOBS.maximumAttempts.default,
      initialIntervalSeconds: RETRY_KNOBS.initialIntervalSeconds.default,
      backoffCoefficient: RETRY_KNOBS.backoffCoefficient.default,
    }),
    /**
     * How many times a failed --configure runs; absent means `retry.maximumAttempts`. Apps converted
     * from a KubeDirectorApp get 1: KubeDirector runs configure once, and its scripts are not written
     * to run twice (docs/adr/0027).
     */
    configureAttempts: z.number().int().min(CONFIGURE_ATTEMPTS.min).max(CONFIGURE_ATTEMPTS.max).optional(),
    /** Custom actions (docs/adr/0050): `kdflow action CLUSTER NAME`. */
    actions: z.array(AppAction).optional(),
    /** How an upgrade to this version rolls (docs/adr/0037). */
    upgrade: UpgradePolicy.optional(),
    /** Cluster hooks (docs/adr/0053). */
    hooks: AppHooks.optional(),
    /** Role order for create, delete and resize (docs/adr/0053); absent: all roles together at create, app order after. */
    roleOrder: RoleOrder.optional(),
  })
  .superRefine((spec, ctx) => {
    for (const issue of appSpecIssues(spec)) ctx.addIssue({ code: 'custom', ...issue });
  });
export type KdAppSpec = z.infer<typeof KdAppSpec>;
export type KdAppSpecInput = z.input<typeof KdAppSpec>;

export const KdApp = manifest('KdApp', Metadata, KdAppSpec);
export type KdApp = z.infer<typeof KdApp>;
