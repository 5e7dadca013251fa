/**
 * What the CLI accepts, written once: the flags, and per command its synopsis, what it does, the flags
 * it takes and the words its arguments may be. `--help`, `kdflow help COMMAND`, the flag checks and
 * `kdflow completion` are all read from here, so they cannot drift apart.
 */
import { EVENTS } from '../api/fields.ts';

export interface FlagSpec {
  short?: string;
  /** A placeholder for the value (FILE, N), or absent for a switch. */
  value?: string;
  /** The values it takes, when they are a fixed list (completion offers them). */
  choices?: readonly string[];
  /** It may be given more than once; its value is then the list, in order. */
  multiple?: true;
  help: string;
}

export const FLAGS = {
  namespace: { short: 'n', value: 'NS', help: 'the namespace (default "default"); a DNS-1123 label' },
  file: {
    short: 'f',
    value: 'FILE',
    multiple: true,
    help: 'a manifest: JSON or YAML, one or more documents, UTF-8; repeat -f for more files',
  },
  output: { short: 'o', value: 'FORMAT', choices: ['table', 'json', 'yaml'], help: 'table (default), json or yaml' },
  for: { value: 'STATE', choices: ['configured', 'deleted'], help: 'the state to wait for' },
  timeout: { value: 'DURATION', help: 'how long to wait, such as 90s, 5m (default 120s)' },
  event: {
    value: 'EVENT',
    choices: EVENTS,
    help: 'whose output to show (default configure)',
  },
  tail: { value: 'N', help: 'show the last N lines of each file (default 100)' },
  limit: { value: 'N', help: 'history: the newest N script runs (default 50)' },
  all: { help: 'logs: every line of each file; history: every retained script run' },
  watch: { short: 'w', help: 'after the table, one line for each row that changes, until Ctrl-C' },
  // -f is --file elsewhere: a command's own flag takes the short letter (shortsFor).
  follow: { short: 'f', help: 'after the files, what is written to them, until Ctrl-C' },
  listen: { value: 'HOST:PORT', help: 'codec-server: where to listen (default 127.0.0.1:8888)' },
  origin: { value: 'URL[,URL…]', help: "codec-server: the Web UI's origin (default http://127.0.0.1:8233)" },
  to: { value: 'VERSION', help: 'upgrade: the app version to go to (in the catalog)' },
  resume: { help: 'upgrade: go on with a paused upgrade from its failed member' },
  rollback: { help: 'upgrade: roll a paused upgrade back' },
  'max-unavailable': { value: 'N', help: 'upgrade: members replaced at once (default 1)' },
  'on-failure': {
    value: 'ACTION',
    choices: ['rollback', 'pause'],
    help: 'upgrade: on the first failure roll back (default) or pause',
  },
  version: { value: 'V', help: 'app get/delete: one version of the app (spec.version; default: the current one)' },
  role: { value: 'ROLE', help: "restart, action: only this role's members" },
  param: { short: 'p', value: 'KEY=VALUE', multiple: true, help: 'action: a parameter (again for each one)' },
  'no-wait': { help: 'action: return once the action is queued, with its id' },
  'skip-hooks': { help: "delete: do not run the app's preTerminate hook" },
  help: { short: 'h', help: 'show this help' },
} as const satisfies Record<string, FlagSpec>;

export type FlagName = keyof typeof FLAGS;

/**
 * Which flag a short letter means for `command`: its own flag or a global one when one of them has
 * that letter (-f is --follow for logs), else the first flag in FLAGS that has it (-f is --file).
 */
export function shortsFor(command: string | undefined): Map<string, FlagName> {
  const names = Object.keys(FLAGS) as FlagName[];
  const own = [...(command ? (COMMAND_SPECS.get(command)?.flags ?? []) : []), ...GLOBAL_FLAGS];
  const shorts = new Map<string, FlagName>();
  for (const name of [...own, ...names]) {
    const short = (FLAGS[name] as FlagSpec).short;
    if (short && !shorts.has(short)) shorts.set(short, name);
  }
  return shorts;
}

/** Taken by every command. */
export const GLOBAL_FLAGS: readonly FlagName[] = ['namespace', 'help'];

export interface CommandSpec {
  /** One line per form, without the leading "kdflow". */
  synopsis: string[];
  summary: string;
  /** More lines for `--help`. */
  details?: string[];
  flags: readonly FlagName[];
  /** The most positional arguments it takes; undefined when unbounded. */
  maxArgs?: number;
  /** The words its first argument may be (completion offers them). */
  words?: readonly string[];
  /** Whether the first argument names a file (completion offers files). */
  fileArg?: boolean;
}

export const COMMAND_SPECS: ReadonlyMap<string, CommandSpec> = new Map<string, CommandSpec>([
  [
    'app',
    {
      synopsis: [
        'app apply|validate -f FILE',
        'app list [NAME]',
        'app get NAME [--version V] [-o yaml|json]',
        'app delete NAME --version V',
      ],
      summary: 'add (or check) an app version in the shared catalog: KdApp or KubeDirectorApp',
      details: [
        'JSON or YAML. The catalog is in Temporal, one per namespace: every CLI, worker and shim sees it.',
        "apply adds the manifest's spec.version and makes it current (new clusters get it); another spec under a version that is there is refused.",
        'http(s) packages without configPackage.sha256 are fetched once and pinned to their digest.',
        'app list shows every version, * marking the current one; delete refuses a version a running cluster uses, naming the clusters.',
      ],
      flags: ['file', 'version', 'output'],
      maxArgs: 2,
      words: ['apply', 'validate', 'list', 'get', 'delete'],
    },
  ],
  [
    'apply',
    {
      synopsis: ['apply -f FILE'],
      summary: "create a cluster, or change it to the file's spec",
      details: ['Apps in the same file are applied first. Says created, changed (generation N) or unchanged.'],
      flags: ['file'],
      maxArgs: 0,
    },
  ],
  [
    'plan',
    {
      synopsis: ['plan -f FILE'],
      summary: 'print the steps a change would run (dry run)',
      flags: ['file'],
      maxArgs: 0,
    },
  ],
  [
    'resize',
    { synopsis: ['resize NAME ROLE=N [ROLE=N…]'], summary: 'change the member count of one or more roles', flags: [] },
  ],
  [
    'delete',
    {
      synopsis: ['delete NAME [--skip-hooks]'],
      summary: 'tear a cluster down',
      details: [
        'kdflow wait NAME --for deleted waits until it is gone.',
        "The app's preTerminate hook runs first, bounded by its timeout and attempts; the teardown goes on",
        'whatever it did, its result in the final status. --skip-hooks skips it.',
      ],
      flags: ['skip-hooks'],
      maxArgs: 1,
    },
  ],
  [
    'get',
    {
      synopsis: ['get [NAME] [-o table|json|yaml] [-w]'],
      summary: "list the namespace's clusters, or show one cluster's members",
      details: [
        "The list shows each cluster's app, app version, phase, configured/total members, generation and age.",
        '-w keeps watching: a line for each cluster (or member) that changes; a deleted cluster ends it.',
      ],
      flags: ['output', 'watch'],
      maxArgs: 1,
    },
  ],
  [
    'wait',
    {
      synopsis: ['wait NAME --for configured|deleted [--timeout 120s]'],
      summary: 'wait until a cluster is configured or deleted',
      details: ['Exits 5 when the cluster settles in config error, or the time runs out.'],
      flags: ['for', 'timeout'],
      maxArgs: 1,
    },
  ],
  [
    'history',
    {
      synopsis: ['history NAME [--limit N | --all] [-o table|json|yaml]'],
      summary: "script runs from Temporal's history, across continue-as-new: member, argv, exit code, time",
      flags: ['output', 'limit', 'all'],
      maxArgs: 1,
    },
  ],
  [
    'logs',
    {
      synopsis: ['logs NAME MEMBER [--event EVENT] [--tail N | --all] [-f]'],
      summary: "a member's script output: <event>.stdout, .stderr and .status",
      details: [
        'Reads the files as they are, streaming, however large; on the local runtime they are',
        '$KDFLOW_HOME/members/<namespace>/<cluster>/<member>/opt/guestconfig/<event>.*',
        '-f keeps following the files, as tail -f does, until Ctrl-C.',
      ],
      flags: ['event', 'tail', 'all', 'follow'],
      maxArgs: 2,
    },
  ],
  [
    'action',
    {
      synopsis: ['action NAME ACTION [--role ROLE] [MEMBER…] [-p KEY=VALUE…] [--no-wait]'],
      summary: "run one of the app's custom actions on the cluster's members, as one tracked operation",
      details: [
        "Runs startscript --action ACTION --param KEY=VALUE… on the members of the action's roles (or of",
        '--role, or the MEMBERs named); parameters are checked against their declared types before anything',
        "runs. Waits and prints each member's result (exit 1 if any failed) unless --no-wait; the output is",
        'in kdflow logs NAME MEMBER --event action-ACTION and kdflow history NAME.',
      ],
      flags: ['role', 'param', 'no-wait'],
    },
  ],
  [
    'retry',
    {
      synopsis: ['retry NAME [MEMBER]'],
      summary: 'run failed events again, for one member or every failed one',
      details: ['Dead members are created again. A MEMBER the cluster does not have is not found (exit 4).'],
      flags: [],
      maxArgs: 2,
    },
  ],
  [
    'upgrade',
    {
      synopsis: [
        'upgrade NAME --to VERSION [--max-unavailable N] [--on-failure rollback|pause]',
        'upgrade NAME --resume|--rollback',
      ],
      summary: 'roll the cluster to another app version, member by member; roll back on failure',
      details: [
        'Roles in app order, then ordinal. Per member: the new package (a new pod on Kubernetes, same',
        'name and volume), then startscript --upgrade --from OLD --to NEW. On the first failure the',
        'failed member is restored, then the upgraded ones roll back, newest first (--rollback --from NEW',
        '--to OLD). --on-failure pause waits for --resume or --rollback instead.',
      ],
      flags: ['to', 'max-unavailable', 'on-failure', 'resume', 'rollback'],
      maxArgs: 1,
    },
  ],
  [
    'restart',
    {
      synopsis: ['restart NAME [--role ROLE] [MEMBER…]'],
      summary: 'restart members one at a time (then startscript --restart where the role lists it)',
      details: ['A member whose configure status persisted stays configured; otherwise configure runs again.'],
      flags: ['role'],
    },
  ],
  [
    'cancel',
    {
      synopsis: ['cancel NAME'],
      summary: 'stop the operation in flight and go back to the last converged spec where that can be undone',
      details: [
        'An upgrade or reconfigure rolls back; a grow removes its new members (--delnodes to the others);',
        'a first create deletes the cluster; a shrink whose members are being removed completes.',
      ],
      flags: [],
      maxArgs: 1,
    },
  ],
  [
    'dev',
    {
      synopsis: ['dev -f APP_FILE -f CLUSTER_FILE'],
      summary: "the app author's loop: on every save, the cluster again on fresh members, their output here",
      details: [
        'Watches the manifests and the config package (a directory); every save deletes the cluster and',
        "creates it again, as a first start would see it, and streams every member's output, then one line",
        'per script run. Keys: + grow, - shrink (r picks the role), Enter re-run, q or Ctrl-C quit.',
        'Uses the running engine (npm start), or runs one itself. Quitting deletes the cluster. Local runtime only.',
      ],
      flags: ['file'],
      maxArgs: 0,
    },
  ],
  [
    'shim',
    {
      synopsis: ['shim'],
      summary: 'run the CRD shim: KdApp/KdCluster objects drive the workflows',
      details: ['Uses the usual kubeconfig; runs until Ctrl-C or SIGTERM.'],
      flags: [],
      maxArgs: 0,
    },
  ],
  [
    'codec-server',
    {
      synopsis: ['codec-server [--listen HOST:PORT] [--origin URL]'],
      summary: 'decrypt payloads for the Web UI and the Temporal CLI (POST /encode, /decode)',
      details: [
        'Keys from KDFLOW_CODEC_KEY_FILE or KDFLOW_CODEC_KEYS; KDFLOW_CODEC_SERVER_TOKEN requires',
        'Authorization: Bearer TOKEN. Point the Web UI at it: temporal server start-dev --ui-codec-endpoint URL,',
        "or the UI's codec server setting. Runs until Ctrl-C or SIGTERM.",
      ],
      flags: ['listen', 'origin'],
      maxArgs: 0,
    },
  ],
  ['help', { synopsis: ['help [COMMAND]'], summary: 'this help, or the help of one command', flags: [], maxArgs: 1 }],
  [
    'completion',
    {
      synopsis: ['completion bash|zsh'],
      summary: 'print a shell completion script for commands and flags',
      details: [
        'bash: source <(kdflow completion bash)',
        'zsh:  kdflow completion zsh > "${fpath[1]}/_kdflow" (then restart zsh)',
      ],
      flags: [],
      maxArgs: 1,
      words: ['bash', 'zsh'],
    },
  ],
]);

export const ENVIRONMENT =
  'env: TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE, KDFLOW_HOME (~/.kdflow), KDFLOW_RUNTIME (local)';
const EXIT_CODES =
  'exit: 0 done, 1 invalid input or refused change, 2 usage, 3 Temporal unreachable or other failure, 4 not found, 5 wait failed';

export function flagLabel(name: FlagName): string {
  const flag: FlagSpec = FLAGS[name];
  return `${flag.short ? `-${flag.short}, ` : ''}--${name}${flag.value ? ` ${flag.value}` : ''}`;
}

function flagLines(names: readonly FlagName[]): string[] {
  const width = Math.max(...names.map((n) => flagLabel(n).length));
  return names.map((n) => `  ${flagLabel(n).padEnd(width)}   ${FLAGS[n].help}`);
}

/** `kdflow --help`: every command, one line each. No trailing newline: the writer adds one. */
export function mainHelp(): string {
  const rows = [...COMMAND_SPECS].flatMap(([, spec]) =>
    spec.synopsis.map((s, i) => [`kdflow ${s}`, i === 0 ? spec.summary : '']),
  );
  // A synopsis too long for the column puts its summary on the next line, in the column.
  const width = 40;
  const lines = rows.flatMap(([s, summary]) => {
    const synopsis = s as string;
    if (!summary) return [`  ${synopsis}`];
    return synopsis.length <= width
      ? [`  ${synopsis.padEnd(width)}  ${summary}`]
      : [`  ${synopsis}`, `  ${''.padEnd(width)}  ${summary}`];
  });
  return [
    'kdflow — stateful app clusters on Temporal',
    '',
    ...lines,
    '',
    ...flagLines(GLOBAL_FLAGS),
    '',
    `  ${ENVIRONMENT}`,
    `  ${EXIT_CODES}`,
    '',
    'kdflow COMMAND --help (or kdflow help COMMAND) shows one command.',
  ].join('\n');
}

/** `kdflow COMMAND --help`. No trailing newline: the writer adds one. */
export function commandHelp(spec: CommandSpec): string {
  return [
    ...spec.synopsis.map((s, i) => `${i === 0 ? 'usage: ' : '       '}kdflow ${s}`),
    '',
    spec.summary,
    ...(spec.details ?? []),
    '',
    'flags:',
    ...flagLines([...spec.flags, ...GLOBAL_FLAGS]),
    '',
    `  ${ENVIRONMENT}`,
    'See kdflow --help for every command.',
  ].join('\n');
}
