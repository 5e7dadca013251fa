import { z } from 'zod';
import { API_VERSION, EventName, Metadata, Quantity, RoleId, dnsLabel, oversize } from './common.ts';
import { kubeDirectorRefusals } from './kubedirector-fields.ts';
import { dnsName } from './names.ts';
import { parseCardinality } from './cardinality.ts';

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
  .regex(/^\//, 'persist dir must be an absolute path')
  .refine((dir) => !dir.split('/').includes('..'), "persist dir must not contain '..'");

export const Cardinality = z
  .string()
  .refine((c) => parseCardinality(c) !== undefined, 'cardinality must be "N" or "N+" (for example "1", "2+", "0+")');

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
      port: z.number().int().min(1).max(65535),
      path: z.string().optional(),
      isDashboard: z.boolean().optional(),
      hasAuthToken: z.boolean().optional(),
    })
    .optional(),
  // KubeDirector's name for it: copied into configmeta's service entries.
  exported_service: z.string().optional(),
});
export type AppService = z.infer<typeof AppService>;

export const RetryKnobs = z.strictObject({
  maximumAttempts: z.number().int().min(1).max(20).default(3),
  initialIntervalSeconds: z.number().min(0.1).max(600).default(1),
  backoffCoefficient: z.number().min(1).max(10).default(2),
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
    configSchemaVersion: z.number().int().min(7, 'configSchemaVersion must be at least 7').optional(),
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
    scriptTimeoutSeconds: z.number().int().min(1).max(86_400).default(600),
    maxParallel: z.number().int().min(1).max(1000).default(16),
    retry: RetryKnobs.default({ maximumAttempts: 3, initialIntervalSeconds: 1, backoffCoefficient: 2 }),
    /**
     * How many times a failed --configure runs; absent means `retry.maximumAttempts`. Apps converted
     * from a KubeDirectorApp get 1: KubeDirector runs configure once, and its scripts are not written
     * to run twice (docs/adr/0027).
     */
    configureAttempts: z.number().int().min(1).max(20).optional(),
  })
  .superRefine((spec, ctx) => {
    const roleIds = new Set<string>();
    const memberRoleNames = new Map<string, string>();
    spec.roles.forEach((role, i) => {
      if (roleIds.has(role.id))
        ctx.addIssue({ code: 'custom', path: ['roles', i, 'id'], message: `duplicate role id "${role.id}"` });
      roleIds.add(role.id);
      // Member names use the DNS-safe form, so "a_b", "a.b", "A-b" and "a-b" would name the same pods.
      const asName = dnsName(role.id);
      const clash = memberRoleNames.get(asName);
      if (clash && clash !== role.id)
        ctx.addIssue({
          code: 'custom',
          path: ['roles', i, 'id'],
          message: `role id "${role.id}" gives the same member names (${asName}) as role "${clash}"; rename one of them`,
        });
      memberRoleNames.set(asName, role.id);
      if (!role.imageRepoTag && !spec.defaultImageRepoTag) {
        ctx.addIssue({
          code: 'custom',
          path: ['roles', i, 'imageRepoTag'],
          message: `role "${role.id}" has no imageRepoTag and the app has no defaultImageRepoTag`,
        });
      }
    });
    const serviceIds = new Set((spec.services ?? []).map((s) => s.id));
    (spec.services ?? []).forEach((s, i) => {
      if ((spec.services ?? []).findIndex((o) => o.id === s.id) !== i)
        ctx.addIssue({ code: 'custom', path: ['services', i, 'id'], message: `duplicate service id "${s.id}"` });
    });
    spec.config?.roleServices?.forEach((rs, i) => {
      if (!roleIds.has(rs.roleID))
        ctx.addIssue({
          code: 'custom',
          path: ['config', 'roleServices', i, 'roleID'],
          message: `unknown role "${rs.roleID}"`,
        });
      rs.serviceIDs.forEach((sid, j) => {
        if (!serviceIds.has(sid))
          ctx.addIssue({
            code: 'custom',
            path: ['config', 'roleServices', i, 'serviceIDs', j],
            message: `unknown service "${sid}"`,
          });
      });
    });
    spec.config?.selectedRoles?.forEach((r, i) => {
      if (!roleIds.has(r))
        ctx.addIssue({ code: 'custom', path: ['config', 'selectedRoles', i], message: `unknown role "${r}"` });
    });
    for (const issue of kubeDirectorRefusals('app', spec))
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    const big = oversize(spec, 'the app spec');
    if (big) ctx.addIssue({ code: 'custom', path: big.path, message: big.message });
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

/** A service endpoint a role's members expose, as the app declares it. */
export interface RoleService {
  id: string;
  port: number;
  urlScheme?: string;
}

/** The app's services with an endpoint that `config.roleServices` gives this role. */
export function roleServices(app: KdAppSpec, roleId: string): RoleService[] {
  const ids = new Set(
    (app.config?.roleServices ?? []).filter((rs) => rs.roleID === roleId).flatMap((rs) => rs.serviceIDs),
  );
  return (app.services ?? []).flatMap((s) =>
    ids.has(s.id) && s.endpoint
      ? [{ id: s.id, port: s.endpoint.port, ...(s.endpoint.urlScheme ? { urlScheme: s.endpoint.urlScheme } : {}) }]
      : [],
  );
}

/** The settings of one role after the app's defaults are applied. */
export interface EffectiveRole {
  id: AppRole['id'];
  cardinality: string;
  image: string;
  configPackage: ConfigPackage;
  persistDirs: string[];
  events: EventName[];
}

export function effectiveRole(app: KdAppSpec, roleId: string): EffectiveRole | undefined {
  const role = app.roles.find((r) => r.id === roleId);
  if (!role) return undefined;
  return {
    id: role.id,
    cardinality: role.cardinality,
    image: role.imageRepoTag ?? app.defaultImageRepoTag ?? '',
    configPackage: role.configPackage !== undefined ? role.configPackage : (app.defaultConfigPackage ?? null),
    persistDirs: role.persistDirs ?? app.defaultPersistDirs ?? [],
    // An absent eventList means every event.
    events: role.eventList ?? app.defaultEventList ?? [...EventName.options],
  };
}
