/**
 * The field rules of the api's shapes as plain data: enums, name patterns, limits and their
 * messages. zod-free, so the workflow sandbox can use them (docs/adr/0013): the zod schemas
 * (common.ts, app.ts, cluster.ts, status.ts) and the workflow's light check (light-check.ts) both
 * read them from here, so a pattern or a limit is written once.
 */

/**
 * The lifecycle events a startscript receives: KubeDirector's three, then kdflow's rolling
 * operations (docs/adr/0037) and cluster hooks (docs/adr/0053), which a role gets only when its
 * eventList names them. Appended only: packed state indexes events by position.
 */
export const EVENTS = [
  'configure',
  'addnodes',
  'delnodes',
  'upgrade',
  'rollback',
  'reconfigure',
  'restart',
  'postprovision',
  'preterminate',
] as const;

/** A role without an eventList gets KubeDirector's events: its scripts were not written for kdflow's. */
export const DEFAULT_EVENTS = ['configure', 'addnodes', 'delnodes'] as const;
/** Every argument a startscript is run with: the eventList's events, and --reconnect, which KubeDirector sends whatever the eventList says (docs/adr/0044). */
export const SCRIPT_EVENTS = [...EVENTS, 'reconnect'] as const;

/** KubeDirector's member states, kept verbatim so its users read them without a glossary. */
export const MEMBER_STATES = [
  'create pending',
  'creating',
  'configured',
  'config error',
  'delete pending',
  'deleting',
] as const;

/** `config error` is a settled cluster with at least one member in config error. */
export const CLUSTER_PHASES = ['creating', 'configured', 'updating', 'config error', 'deleting', 'deleted'] as const;

export const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer'] as const;

/** The total member cap KubeDirector enforces; kdflow keeps it. */
export const MAX_MEMBERS = 1000;

/** What a role's member count must be, and what is said when it is not. */
export const MEMBERS_RULES = {
  int: 'members must be a whole number',
  min: [0, 'members must not be negative'],
  max: [MAX_MEMBERS, `members must be at most ${MAX_MEMBERS}`],
} as const;

/** Members per status answer: at 1,000 members the whole status would pass the SDK's 512 KiB warning. */
export const STATUS_PAGE_DEFAULT = 100;
export const STATUS_PAGE_MAX = 200;

/**
 * Names kdflow keys maps by must never reach Object.prototype. kdflow's own lookups are
 * prototype-free (Map, Object.create(null), Object.hasOwn); refusing `__proto__` outright also keeps
 * it out of any plain object a name reaches later (JSON, env, labels). The patterns below already
 * exclude it; this check says why, and holds if a pattern is ever widened. `constructor` and
 * `prototype` stay valid: Kubernetes and KubeDirector accept them, and refusing them now could fail
 * the specs of clusters that already run.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['__proto__']);
export const reservedMessage = (what: string) => `${what} must not be "__proto__" (a name reserved by JavaScript)`;

/** A pattern and what it says when a value does not match. */
export interface Pattern {
  regex: RegExp;
  message: string;
}

// RFC 1123 label: what Kubernetes accepts as a Pod, Service or namespace name.
export const DNS_LABEL_MAX = 63;
export const dnsLabelPattern = (what: string): Pattern => ({
  regex: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
  message: `${what} must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)`,
});

/**
 * Role ids as KubeDirector accepts them (`vanilla_centos`, `LoadBalancer`, `RESTServer`, `a.b`): kept
 * as given in specs, configmeta and argv; member names use their DNS-safe form (api/names.ts).
 */
export const ROLE_ID_MAX = 63;
export const ROLE_ID_PATTERN: Pattern = {
  regex: /^[A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])?$/,
  message: "role id must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
};

/**
 * A cluster's name: a DNS-1123 subdomain as Kubernetes allows for objects (`ubuntu18.04`), at most 63
 * characters because its DNS-safe form names the headless Service and starts every member name.
 */
export const CLUSTER_NAME_MAX = 63;
export const clusterNamePattern = (what: string): Pattern => ({
  regex: /^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/,
  message: `${what} must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)`,
});

// A Kubernetes resource quantity such as 500m, 2, 4Gi or 1e3.
export const QUANTITY_PATTERN: Pattern = {
  regex: /^(\d+(\.\d+)?|\.\d+)(e\d+|[KMGTPE]i|[mkMGTPE])?$/,
  message: 'must be a Kubernetes quantity such as 500m, 2 or 4Gi',
};

export const ENV_NAME_PATTERN: Pattern = {
  regex: /^[A-Za-z_][A-Za-z0-9_]*$/,
  message: 'env name must be a shell-style identifier (letters, digits, _)',
};
export const ENV_VALUE_MAX = 32_768;

export const STORAGE_SIZE_PATTERN: Pattern = {
  regex: /^\d+(\.\d+)?([KMGTPE]i?)?$/,
  message: 'storage.size must be a quantity such as 10Gi',
};

/** A config package pinned by its digest (docs/adr/0039): the SHA-256 of the archive's bytes, as `sha256sum` prints it. */
export const SHA256_PATTERN: Pattern = {
  regex: /^[0-9a-f]{64}$/,
  message: "sha256 must be the package archive's SHA-256 as 64 lowercase hex digits (sha256sum FILE)",
};

export const PERSIST_DIR_PATTERN: Pattern = { regex: /^\//, message: 'persist dir must be an absolute path' };
export const PERSIST_DIR_DOTDOT = "persist dir must not contain '..'";
export const persistDirClimbs = (dir: string) => dir.split('/').includes('..');

/** A path inside the member that kdflow writes or mounts at (file injections, secret mounts, block devices). */
export const guestPathPattern = (what: string): Pattern => ({
  // As persist dirs; the CRDs carry this pattern too, so it stays in what RE2 (the API server's) reads.
  regex: /^\//,
  message: `${what} must be an absolute path`,
});
export const guestPathDotDot = (what: string) => `${what} must not contain '..'`;
/** A file injection's source: fetched by the worker, as a config package is (http(s), or file:// under ADR 0029's rule). */
export const INJECTION_URL_PATTERN: Pattern = {
  regex: /^(https?|file):\/\/[^\s]+\/[^/\s]+$/,
  message: 'srcURL must be an http(s):// or file:// URL that ends with a file name',
};
/** Unix permission bits, as KubeDirector's fileMode and a Secret volume's defaultMode (decimal in JSON, 0-0777). */
export const FILE_MODE_RULES = {
  int: 'mode must be an integer',
  min: [0, 'mode must be at least 0'],
  max: [0o777, 'mode must be at most 511 (0777)'],
} as const;
/** A file's owner or group: a name or a number, as chown takes it (never a shell word). */
export const OWNER_PATTERN: Pattern = {
  regex: /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/,
  message: 'fileOwner and fileGroup must be a user or group name or number',
};
export const BLOCK_DEVICES_RULES = {
  int: 'numDevices must be an integer',
  min: [1, 'numDevices must be at least 1'],
  max: [16, 'numDevices must be at most 16'],
} as const;

export const CARDINALITY_MESSAGE = 'cardinality must be "N" or "N+" (for example "1", "2+", "0+")';

/** kdflow's own app knobs; KubeDirector has none of these (its scripts never time out). */
export const APP_KNOBS = {
  scriptTimeoutSeconds: { min: 1, max: 86_400, default: 600 },
  maxParallel: { min: 1, max: 1000, default: 16 },
} as const;
export const RETRY_KNOBS = {
  maximumAttempts: { min: 1, max: 20, default: 3, int: true },
  initialIntervalSeconds: { min: 0.1, max: 600, default: 1, int: false },
  backoffCoefficient: { min: 1, max: 10, default: 2, int: false },
} as const;
/** How many times a failed --configure runs (docs/adr/0027); absent means `retry.maximumAttempts`. */
export const CONFIGURE_ATTEMPTS = { min: 1, max: 20 } as const;
/** KubeDirector's member naming schemes; kdflow always names members as CrNameRole does. */
export const NAMING_SCHEMES = ['CrNameRole', 'UID'] as const;
export const APP_CATALOGS = ['local', 'system'] as const;
/** configmeta.json's `version`; KubeDirector requires at least 7. */
export const CONFIG_SCHEMA_VERSION_MIN = 7;
export const SERVICE_PORT = { min: 1, max: 65535 } as const;

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

/** Custom actions (docs/adr/0050): how they run, their parameters' types, and their limits. */
export const ACTION_MODES = ['parallel', 'serial'] as const;
export const ACTION_PARAM_TYPES = ['string', 'integer', 'number', 'boolean', 'enum'] as const;
export const ACTION_PARAM_NAME: Pattern = {
  regex: /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/,
  message: 'parameter name must start with a letter and hold letters, digits, "_", "." or "-" (at most 63 characters)',
};
/** A parameter value goes into one argv word: printable, one line, bounded. */
export const ACTION_PARAM_VALUE_MAX = 1024;
export const ACTION_TIMEOUT = { min: 1, max: 86_400 } as const;

/** Cluster hooks (docs/adr/0053): the app field's name, the event it runs, and its bounds. */
export const HOOKS = { postProvision: 'postprovision', preTerminate: 'preterminate' } as const;
export const HOOK_TIMEOUT = { min: 1, max: 86_400, default: 300 } as const;
/** Runs of a hook at most (its retries bounded): a preTerminate never holds a delete longer than attempts × timeout. */
export const HOOK_ATTEMPTS = { min: 1, max: 10, default: 1 } as const;
/** Actions a cluster keeps queued, and finished ones it remembers in status. */
export const ACTIONS_QUEUED_MAX = 16;
export const ACTIONS_KEPT = 5;
