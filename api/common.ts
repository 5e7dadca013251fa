import { z } from 'zod';
import {
  CLUSTER_NAME_MAX,
  DNS_LABEL_MAX,
  EVENTS,
  SCRIPT_EVENTS,
  QUANTITY_PATTERN,
  RESERVED_NAMES,
  ROLE_ID_MAX,
  ROLE_ID_PATTERN,
  clusterNamePattern,
  dnsLabelPattern,
  reservedMessage,
  type Pattern,
} from './fields.ts';

/** The group and version of kdflow's own kinds (also the CRD group). */
export const API_GROUP = 'kdflow.dev';
export const API_VERSION = `${API_GROUP}/v1beta1`;

/** The lifecycle events a startscript receives, in KubeDirector's words. */
export const EventName = z.enum(EVENTS);
export type EventName = z.infer<typeof EventName>;
/** What a startscript run is for: an event, or --reconnect after a connected object changed (docs/adr/0044). */
export const ScriptEvent = z.enum(SCRIPT_EVENTS);
export type ScriptEvent = z.infer<typeof ScriptEvent>;

/** Checked first, and alone: a reserved name gets one issue that says why (fields.ts). */
export const unreservedString = (what: string) =>
  z.string().refine((name) => !RESERVED_NAMES.has(name), { abort: true, message: reservedMessage(what) });

/** A name rule: not reserved, not empty, at most `max` characters, matching `pattern`. */
const boundedName = (what: string, max: number, pattern: Pattern) =>
  unreservedString(what)
    .min(1, `${what} must not be empty`)
    .max(max, `${what} must be at most ${max} characters`)
    .regex(pattern.regex, pattern.message);

export const dnsLabel = (what: string) => boundedName(what, DNS_LABEL_MAX, dnsLabelPattern(what));

/**
 * Role ids as KubeDirector accepts them (`vanilla_centos`, `LoadBalancer`, `RESTServer`, `a.b`): kept
 * as given in specs, configmeta and argv; member names use their DNS-safe form (api/names.ts).
 */
export const RoleId = boundedName('role id', ROLE_ID_MAX, ROLE_ID_PATTERN);

/**
 * A cluster's name: a DNS-1123 subdomain as Kubernetes allows for objects (`ubuntu18.04`), at most 63
 * characters because its DNS-safe form names the headless Service and starts every member name.
 */
export const ClusterName = (what: string) => boundedName(what, CLUSTER_NAME_MAX, clusterNamePattern(what));

// A Kubernetes resource quantity such as 500m, 2, 4Gi or 1e3.
export const Quantity = z
  .union([z.string(), z.number()])
  .transform(String)
  .pipe(z.string().regex(QUANTITY_PATTERN.regex, QUANTITY_PATTERN.message));

export const Resources = z.strictObject({
  requests: z.record(z.string(), Quantity).optional(),
  limits: z.record(z.string(), Quantity).optional(),
});
export type Resources = z.infer<typeof Resources>;

export const Metadata = z.object({
  name: dnsLabel('metadata.name'),
  namespace: dnsLabel('metadata.namespace').optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type Metadata = z.infer<typeof Metadata>;

/** A kdflow manifest, as `kdflow apply` reads it: apiVersion, kind, metadata and spec, nothing else. */
export const manifest = <K extends string, M extends z.ZodType, S extends z.ZodType>(kind: K, metadata: M, spec: S) =>
  z.strictObject({ apiVersion: z.literal(API_VERSION), kind: z.literal(kind), metadata, spec });
