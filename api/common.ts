import { z } from 'zod';
import { DNS_LABEL } from './names.ts';

/** The group and version of kdflow's own kinds (also the CRD group). */
export const API_GROUP = 'kdflow.dev';
export const API_VERSION = `${API_GROUP}/v1beta1`;

/** The lifecycle events a startscript receives, in KubeDirector's words. */
export const EVENTS = ['configure', 'addnodes', 'delnodes'] as const;
export const EventName = z.enum(EVENTS);
export type EventName = z.infer<typeof EventName>;

/**
 * Names kdflow keys maps by must never reach Object.prototype. kdflow's own lookups are
 * prototype-free (Map, Object.create(null), Object.hasOwn); refusing `__proto__` outright also keeps
 * it out of any plain object a name reaches later (JSON, env, labels). The patterns below already
 * exclude it; this check says why, and holds if a pattern is ever widened. `constructor` and
 * `prototype` stay valid: Kubernetes and KubeDirector accept them, and refusing them now could fail
 * the specs of clusters that already run.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['__proto__']);
/** Checked first, and alone: a reserved name gets one issue that says why. */
export const unreservedString = (what: string) =>
  z.string().refine((name) => !RESERVED_NAMES.has(name), {
    abort: true,
    message: `${what} must not be "__proto__" (a name reserved by JavaScript)`,
  });

export const dnsLabel = (what: string) =>
  unreservedString(what)
    .min(1, `${what} must not be empty`)
    .max(63, `${what} must be at most 63 characters`)
    .regex(
      DNS_LABEL,
      `${what} must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)`,
    );

/** Role ids may hold '_' as KubeDirector's do (vanilla_centos); member names map it to '-'. */
export const RoleId = unreservedString('role id')
  .min(1, 'role id must not be empty')
  .max(40, 'role id must be at most 40 characters')
  .regex(
    /^[a-z0-9]([-_a-z0-9]*[a-z0-9])?$/,
    "role id must be lowercase letters, digits, '-' or '_', starting and ending with a letter or digit",
  );

// A Kubernetes resource quantity such as 500m, 2, 4Gi or 1e3.
export const Quantity = z
  .union([z.string(), z.number()])
  .transform(String)
  .pipe(
    z
      .string()
      .regex(
        /^(\d+(\.\d+)?|\.\d+)(e\d+|[KMGTPE]i|[mkMGTPE])?$/,
        'must be a Kubernetes quantity such as 500m, 2 or 4Gi',
      ),
  );

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

/**
 * A spec travels in Temporal payloads (a warning at 512 KiB, refused at 2 MiB) and lives in workflow
 * state, so a huge one fails late and obscurely. 256 KiB is far more than any real app or cluster needs.
 */
export const MAX_SPEC_BYTES = 256 * 1024;

/** The issue for a spec over MAX_SPEC_BYTES, placed at its largest string, the likely culprit. */
export function oversize(value: unknown, what: string): { path: (string | number)[]; message: string } | undefined {
  // Characters of the JSON, close to its bytes; no Buffer here, as the workflow sandbox has none.
  const bytes = (JSON.stringify(value) ?? '').length;
  if (bytes <= MAX_SPEC_BYTES) return undefined;
  let largest: { path: (string | number)[]; size: number } = { path: [], size: -1 };
  const walk = (v: unknown, at: (string | number)[]): void => {
    if (typeof v === 'string') {
      if (v.length > largest.size) largest = { path: at, size: v.length };
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...at, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
  };
  walk(value, []);
  const kib = (n: number) => Math.ceil(n / 1024);
  return {
    path: largest.path,
    message: `${what} is ${kib(bytes)} KiB, more than the ${kib(MAX_SPEC_BYTES)} KiB allowed (this field holds ${kib(largest.size)} KiB)`,
  };
}
