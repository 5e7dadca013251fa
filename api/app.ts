import { z } from 'zod';
import { API_VERSION, EventName, Metadata, Quantity, RoleId, dnsLabel } from './common.ts';
import { parseCardinality } from './cardinality.ts';
import {
  APP_KNOBS,
  CARDINALITY_MESSAGE,
  PERSIST_DIR_DOTDOT,
  PERSIST_DIR_PATTERN,
  RETRY_KNOBS,
  SERVICE_PORT,
  persistDirClimbs,
} from './fields.ts';
import { appSpecIssues } from './rules.ts';

/** `null` says "this role has no config package", as in KubeDirector. */
export const ConfigPackage = z
  .strictObject({
    packageURL: z.string().min(1, 'packageURL must not be empty'),
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
  minStorage: z.strictObject({ size: z.string(), ephemeralModeSupported: z.boolean().optional() }).optional(),
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
});
export type AppService = z.infer<typeof AppService>;

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
      })
      .optional(),
    // kdflow's own knobs; KubeDirector has none of these (its scripts never time out).
    scriptTimeoutSeconds: knob(APP_KNOBS.scriptTimeoutSeconds),
    maxParallel: knob(APP_KNOBS.maxParallel),
    retry: RetryKnobs.default({
      maximumAttempts: RETRY_KNOBS.maximumAttempts.default,
      initialIntervalSeconds: RETRY_KNOBS.initialIntervalSeconds.default,
      backoffCoefficient: RETRY_KNOBS.backoffCoefficient.default,
    }),
  })
  .superRefine((spec, ctx) => {
    for (const issue of appSpecIssues(spec)) ctx.addIssue({ code: 'custom', ...issue });
  });
export type KdAppSpec = z.infer<typeof KdAppSpec>;
export type KdAppSpecInput = z.input<typeof KdAppSpec>;

export const KdApp = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('KdApp'),
  metadata: Metadata,
  spec: KdAppSpec,
});
export type KdApp = z.infer<typeof KdApp>;
