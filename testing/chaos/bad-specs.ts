/**
 * The bad-spec corpus: app and cluster manifests that break one rule each (wrong types, unknown
 * roles, cardinality, negative or huge counts, names that are not DNS labels, injection attempts in
 * names and env, unknown apps, malformed files), plus malformed signal payloads. Each case says
 * which field the refusal must name, and how the workflow is offered the same input.
 */
import { stringify } from 'yaml';
import type { KdAppSpec } from '../../api/index.ts';
import { APP_NAME, baseAppSpec } from './fixtures.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const TARGET = 'target';
export const GOOD_APP = APP_NAME;
const API = 'kdflow.dev/v1beta1';

export type WorkflowOffer =
  /** Sent as a change to the running target cluster (update, then signal). */
  | { via: 'change'; spec: unknown }
  /** Started as a new cluster workflow with this input, as `temporal workflow start` could. */
  | { via: 'start'; input: unknown };

export interface BadSpec {
  id: string;
  kind: 'app' | 'cluster' | 'file';
  /** The manifest file's text. */
  text: string;
  /** What the CLI's one-line error must name. */
  field: RegExp;
  workflow?: WorkflowOffer;
  /** What the workflow's refusal must name, when it differs from the CLI's path. */
  workflowField?: RegExp;
}

export interface BadPayload {
  id: string;
  signal: 'resize' | 'specChange' | 'retry';
  payload: unknown;
  /** What lastRejection must name; undefined when the payload is ignored without a rejection. */
  field?: RegExp;
}

export function baseClusterSpec(): Json {
  return {
    app: GOOD_APP,
    roles: [
      { id: 'controller', members: 1, env: [{ name: 'LOG_LEVEL', value: 'info' }] },
      { id: 'worker', members: 1 },
    ],
  };
}

const clone = <T>(v: T): T => structuredClone(v);

/** A cluster manifest with one thing broken. */
function cluster(
  id: string,
  field: RegExp,
  mutate: (doc: Json) => void,
  offer: 'change' | 'start' | 'none' = 'change',
  workflowField?: RegExp,
): (app: KdAppSpec) => BadSpec {
  return (app) => {
    const doc: Json = { apiVersion: API, kind: 'KdCluster', metadata: { name: 'fresh' }, spec: baseClusterSpec() };
    mutate(doc);
    const input = {
      namespace: doc.metadata?.namespace ?? 'default',
      name: doc.metadata?.name,
      appName: GOOD_APP,
      app,
      spec: doc.spec,
    };
    const workflow: WorkflowOffer | undefined =
      offer === 'change'
        ? { via: 'change', spec: clone(doc.spec) }
        : offer === 'start'
          ? { via: 'start', input }
          : undefined;
    return {
      id: `cluster: ${id}`,
      kind: 'cluster',
      text: serialize(doc, id),
      field,
      ...(workflow ? { workflow } : {}),
      ...(workflowField ? { workflowField } : {}),
    };
  };
}

/** An app manifest with one thing broken; the workflow is offered it as the app of a new cluster. */
function app(
  id: string,
  field: RegExp,
  mutate: (doc: Json) => void,
  offer: 'start' | 'none' = 'start',
  workflowField?: RegExp,
): (good: KdAppSpec) => BadSpec {
  return () => {
    const doc: Json = {
      apiVersion: API,
      kind: 'KdApp',
      metadata: { name: 'badapp' },
      spec: structuredClone(baseAppSpec(null)),
    };
    mutate(doc);
    const appName = typeof doc.metadata?.name === 'string' ? doc.metadata.name : 'badapp';
    const input = {
      namespace: 'default',
      name: `wf-${id}`
        .slice(0, 40)
        .replace(/[^a-z0-9-]/g, '-')
        .replace(/-+$/, ''),
      appName,
      app: doc.spec,
      spec: { app: appName, roles: [{ id: 'controller', members: 1 }] },
    };
    // The workflow names the app's fields under "app." where the manifest has them under "spec.".
    const inWorkflow =
      workflowField ?? new RegExp(field.source.replace(/^spec\\./, 'app\\.').replace(/^spec:/, 'app:'));
    return {
      id: `app: ${id}`,
      kind: 'app',
      text: serialize(doc, id),
      field,
      workflowField: inWorkflow,
      ...(offer === 'start' ? { workflow: { via: 'start', input } } : {}),
    };
  };
}

function file(id: string, text: string, field: RegExp): () => BadSpec {
  return () => ({ id: `file: ${id}`, kind: 'file', text, field });
}

// Half the files are YAML and half JSON, as users write both.
let serialized = 0;
function serialize(doc: Json, _id: string): string {
  serialized += 1;
  return serialized % 2 === 0 ? JSON.stringify(doc, null, 2) : stringify(doc);
}

const roles = (doc: Json) => doc.spec.roles as Json[];
// Over the 256 KiB a spec may hold, under the 2 MiB Temporal refuses: the workflow must see it and say no.
const HUGE = 'x'.repeat(1024 * 1024);

/** A cluster whose metadata `key` is `value`, offered to the workflow as a new cluster: both refusals say `why`. */
const badMetadata = (key: 'name' | 'namespace', what: string, value: string, why: string) =>
  cluster(
    `${key} ${what}`,
    new RegExp(`metadata\\.${key}: metadata\\.${key} ${why}`),
    (d) => (d.metadata[key] = value),
    'start',
    new RegExp(`${key}: ${key} ${why}`),
  );
const NOT_A_SUBDOMAIN = 'must be a DNS-1123 subdomain';
const NOT_A_LABEL = 'must be a DNS-1123 label';

/** A worker whose one env variable is named `name`. */
const badEnvName = (what: string, name: string, value = '1') =>
  cluster(
    `env name ${what}`,
    /spec\.roles\[1\]\.env\[0\]\.name: env name must be/,
    (d) => (roles(d)[1]!.env = [{ name, value }]),
  );

/** An app whose first role's cardinality is `value`. */
const badCardinality = (what: string, value: unknown, field = /spec\.roles\[0\]\.cardinality: cardinality must be/) =>
  app(`cardinality ${what}`, field, (d) => (d.spec.roles[0].cardinality = value));

const CASES: ((good: KdAppSpec) => BadSpec)[] = [
  // --- cluster: member counts ---
  cluster(
    'members negative',
    /spec\.roles\[1\]\.members: members must not be negative/,
    (d) => (roles(d)[1]!.members = -1),
  ),
  cluster(
    'members huge (1e9)',
    /spec\.roles\[1\]\.members: members must be at most 1000/,
    (d) => (roles(d)[1]!.members = 1e9),
  ),
  cluster(
    'members one over the cap',
    /spec\.roles\[1\]\.members: members must be at most 1000/,
    (d) => (roles(d)[1]!.members = 1001),
  ),
  cluster(
    'members fractional',
    /spec\.roles\[1\]\.members: members must be a whole number/,
    (d) => (roles(d)[1]!.members = 1.5),
  ),
  cluster('members as a string', /spec\.roles\[1\]\.members: .*expected number/, (d) => (roles(d)[1]!.members = '3')),
  cluster('members null', /spec\.roles\[1\]\.members: .*expected number/, (d) => (roles(d)[1]!.members = null)),
  cluster(
    'members total over 1000',
    /spec\.roles: a cluster may have at most 1000 members/,
    (d) => (roles(d)[1]!.members = 1000),
  ),
  cluster(
    'cardinality "1" given 2',
    /spec\.roles\[0\]\.members: controller needs exactly 1 member/,
    (d) => (roles(d)[0]!.members = 2),
  ),
  cluster(
    'cardinality "1" given 0',
    /spec\.roles\[0\]\.members: controller needs exactly 1 member/,
    (d) => (roles(d)[0]!.members = 0),
  ),
  cluster('required role left out', /spec\.roles: controller needs exactly 1 member/, (d) => d.spec.roles.splice(0, 1)),
  // --- cluster: roles ---
  cluster('unknown role', /spec\.roles\[2\]\.id: unknown role "nosuch"/, (d) =>
    roles(d).push({ id: 'nosuch', members: 1 }),
  ),
  cluster('duplicate role', /spec\.roles\[2\]\.id: duplicate role id "worker"/, (d) =>
    roles(d).push({ id: 'worker', members: 2 }),
  ),
  cluster(
    'role id with shell injection',
    /spec\.roles\[1\]\.id: role id must be/,
    (d) => (roles(d)[1]!.id = 'worker;rm -rf /'),
  ),
  cluster('role id with $(…)', /spec\.roles\[1\]\.id: role id must be/, (d) => (roles(d)[1]!.id = '$(reboot)')),
  cluster('role id with path', /spec\.roles\[1\]\.id: role id must be/, (d) => (roles(d)[1]!.id = '../../etc')),
  cluster('roles not a list', /spec\.roles: .*expected array/, (d) => (d.spec.roles = 'controller=1')),
  cluster('roles missing', /spec\.roles: .*expected array/, (d) => delete d.spec.roles),
  cluster('unknown role field', /spec\.roles\[1\]: Unrecognized key: "replicas"/, (d) => (roles(d)[1]!.replicas = 3)),
  cluster('unknown spec field', /spec: Unrecognized key: "colour"/, (d) => (d.spec.colour = 'blue')),
  cluster('spec missing', /spec: .*expected object/, (d) => delete d.spec),
  cluster(
    'bad storage size',
    /spec\.roles\[1\]\.storage\.size: storage\.size must be a quantity/,
    (d) => (roles(d)[1]!.storage = { size: 'lots' }),
  ),
  cluster('bad service type', /spec\.roles\[1\]\.serviceType/, (d) => (roles(d)[1]!.serviceType = 'Magic')),
  cluster(
    'bad cpu quantity',
    /spec\.roles\[1\]\.resources\.requests\.cpu: must be a Kubernetes quantity/,
    (d) => (roles(d)[1]!.resources = { requests: { cpu: 'many' } }),
  ),
  cluster(
    'pod label not a string',
    /spec\.roles\[1\]\.podLabels\.tier: .*expected string/,
    (d) => (roles(d)[1]!.podLabels = { tier: 5 }),
  ),
  // --- cluster: env ---
  cluster(
    'env name with shell injection',
    /spec\.roles\[1\]\.env\[0\]\.name: env name must be a shell-style identifier/,
    (d) => (roles(d)[1]!.env = [{ name: 'X;rm -rf /', value: '1' }]),
  ),
  badEnvName('with $(…)', '$(id)'),
  badEnvName('with a space', 'A B'),
  badEnvName('starting with a digit', '1X'),
  badEnvName('LD_PRELOAD=… trick', 'LD_PRELOAD=/tmp/x.so', ''),
  cluster(
    'env value over 32 KiB',
    /spec\.roles\[1\]\.env\[0\]\.value: env value must be at most 32 KiB/,
    (d) => (roles(d)[1]!.env = [{ name: 'BIG', value: 'x'.repeat(40_000) }]),
  ),
  cluster(
    'env value not a string',
    /spec\.roles\[1\]\.env\[0\]\.value: .*expected string/,
    (d) => (roles(d)[1]!.env = [{ name: 'N', value: 5 }]),
  ),
  cluster(
    'env duplicate name',
    /spec\.roles\[1\]\.env\[1\]\.name: duplicate env name "A"/,
    (d) =>
      (roles(d)[1]!.env = [
        { name: 'A', value: '1' },
        { name: 'A', value: '2' },
      ]),
  ),
  cluster('env not a list', /spec\.roles\[1\]\.env: .*expected array/, (d) => (roles(d)[1]!.env = 'A=1')),
  // --- cluster: app ---
  cluster(
    'unknown app',
    /spec\.app: unknown app "nosuchapp"/,
    (d) => (d.spec.app = 'nosuchapp'),
    'change',
    /spec\.app: app is immutable/,
  ),
  cluster('app name with shell injection', /spec\.app: app must be a DNS-1123 label/, (d) => (d.spec.app = 'x;reboot')),
  cluster('app name empty', /spec\.app: app must not be empty/, (d) => (d.spec.app = '')),
  cluster('app name not a string', /spec\.app: .*expected string/, (d) => (d.spec.app = ['chaosapp'])),
  // --- cluster: changes a live cluster may not take (CLI sees them as changes to "target") ---
  cluster(
    'change: storage of a role with members',
    /spec\.roles\[1\]: role "worker" has members, so only its members count, env, podLabels and resources may change/,
    (d) => ((d.metadata.name = TARGET), (roles(d)[1]!.storage = { size: '1Gi' })),
  ),
  cluster(
    'change: controller to 3',
    /spec\.roles\[0\]\.members: controller needs exactly 1 member/,
    (d) => ((d.metadata.name = TARGET), (roles(d)[0]!.members = 3)),
  ),
  // --- cluster: names (the workflow is offered them as a new cluster) ---
  badMetadata('name', 'with capitals', 'Fresh', NOT_A_SUBDOMAIN),
  badMetadata('name', 'with $(…)', 'x$(touch /tmp/kdflow-pwned)', NOT_A_SUBDOMAIN),
  badMetadata('name', 'with ;', 'a;rm -rf ~', NOT_A_SUBDOMAIN),
  badMetadata('name', 'with ../', '../../etc', NOT_A_SUBDOMAIN),
  badMetadata('name', 'with a backtick', 'a`id`', NOT_A_SUBDOMAIN),
  badMetadata('name', 'of 64 characters', 'a'.repeat(64), 'must be at most 63 characters'),
  cluster(
    'name whose member names pass 63',
    /spec\.roles\[0\]\.id: member name ".*" is longer than 63 characters/,
    (d) => (d.metadata.name = 'c'.repeat(55)),
    'start',
  ),
  badMetadata('name', 'empty', '', 'must not be empty'),
  badMetadata('namespace', 'with ../', '../../tmp', NOT_A_LABEL),
  badMetadata('namespace', 'with a space', 'kube system', NOT_A_LABEL),
  cluster(
    'a 1 MiB pod label',
    /spec\.roles\[1\]\.podLabels\.blob: the cluster spec is \d+ KiB, more than the 256 KiB allowed/,
    (d) => (roles(d)[1]!.podLabels = { blob: HUGE }),
  ),
  // --- apps ---
  app('app without roles', /spec\.roles: an app needs at least one role/, (d) => (d.spec.roles = [])),
  app('app roles not a list', /spec\.roles: .*expected array/, (d) => (d.spec.roles = { controller: '1' })),
  badCardinality('a word', 'two', /spec\.roles\[0\]\.cardinality: cardinality must be "N" or "N\+"/),
  badCardinality('negative', '-1'),
  badCardinality('huge', '99999'),
  badCardinality('a number', 1, /spec\.roles\[0\]\.cardinality: .*expected string/),
  app(
    'duplicate role ids',
    /spec\.roles\[1\]\.id: duplicate role id "controller"/,
    (d) => (d.spec.roles[1].id = 'controller'),
  ),
  app(
    'role ids a_b and a-b',
    /spec\.roles\[1\]\.id: role id "a-b" gives the same member names \(a-b\) as role "a_b"/,
    (d) => ((d.spec.roles[0].id = 'a_b'), (d.spec.roles[1].id = 'a-b')),
  ),
  app('role id ending in a dot', /spec\.roles\[1\]\.id: role id must be/, (d) => (d.spec.roles[1].id = 'worker.')),
  app(
    'role id with shell injection',
    /spec\.roles\[1\]\.id: role id must be/,
    (d) => (d.spec.roles[1].id = 'w;rm -rf /'),
  ),
  app(
    'app name with $(…)',
    /metadata\.name: metadata\.name must be a DNS-1123 label/,
    (d) => (d.metadata.name = '$(reboot)'),
    'start',
    /appName: appName must be a DNS-1123 label/,
  ),
  app(
    'app name with _',
    /metadata\.name: metadata\.name must be a DNS-1123 label/,
    (d) => (d.metadata.name = 'bad_app'),
    'start',
    /appName: appName must be a DNS-1123 label/,
  ),
  app(
    'no image anywhere',
    /spec\.roles\[0\]\.imageRepoTag: role "controller" has no imageRepoTag/,
    (d) => delete d.spec.defaultImageRepoTag,
    'start',
    /app\.roles\[0\]\.imageRepoTag/,
  ),
  app(
    'unknown event',
    /spec\.roles\[0\]\.eventList\[0\]/,
    (d) => (d.spec.roles[0].eventList = ['reboot']),
    'start',
    /app\.roles\[0\]\.eventList\[0\]/,
  ),
  app(
    'relative persist dir',
    /spec\.roles\[0\]\.persistDirs\[0\]: persist dir must be an absolute path/,
    (d) => (d.spec.roles[0].persistDirs = ['data']),
    'start',
    /app\.roles\[0\]\.persistDirs\[0\]/,
  ),
  app(
    'persist dir with ..',
    /spec\.roles\[0\]\.persistDirs\[0\]: persist dir must not contain '\.\.'/,
    (d) => (d.spec.roles[0].persistDirs = ['/data/../../etc']),
    'start',
    /app\.roles\[0\]\.persistDirs\[0\]/,
  ),
  app(
    'script timeout 0',
    /spec\.scriptTimeoutSeconds/,
    (d) => (d.spec.scriptTimeoutSeconds = 0),
    'start',
    /app\.scriptTimeoutSeconds/,
  ),
  app(
    'script timeout huge',
    /spec\.scriptTimeoutSeconds/,
    (d) => (d.spec.scriptTimeoutSeconds = 1e9),
    'start',
    /app\.scriptTimeoutSeconds/,
  ),
  app(
    'retry attempts 1000',
    /spec\.retry\.maximumAttempts/,
    (d) => (d.spec.retry = { maximumAttempts: 1000 }),
    'start',
    /app\.retry\.maximumAttempts/,
  ),
  app('maxParallel 0', /spec\.maxParallel/, (d) => (d.spec.maxParallel = 0), 'start', /app\.maxParallel/),
  app(
    'service port 70000',
    /spec\.services\[0\]\.endpoint\.port/,
    (d) => (d.spec.services = [{ id: 'ui', label: { name: 'UI' }, endpoint: { port: 70000 } }]),
    'start',
    /app\.services\[0\]\.endpoint\.port/,
  ),
  app(
    'roleServices naming an unknown role',
    /spec\.config\.roleServices\[0\]\.roleID: unknown role "ghost"/,
    (d) => (d.spec.config = { roleServices: [{ roleID: 'ghost', serviceIDs: [] }] }),
    'start',
    /app\.config\.roleServices\[0\]\.roleID/,
  ),
  app(
    'unknown app field',
    /spec: Unrecognized key: "colour"/,
    (d) => (d.spec.colour = 'blue'),
    'start',
    /app: Unrecognized key: "colour"/,
  ),
  app('distroID a number', /spec\.distroID: .*expected string/, (d) => (d.spec.distroID = 7), 'start', /app\.distroID/),
  app('label missing', /spec\.label: .*expected object/, (d) => delete d.spec.label, 'start', /app\.label/),
  app(
    'empty package URL',
    /spec\.defaultConfigPackage\.packageURL: packageURL must not be empty/,
    (d) => (d.spec.defaultConfigPackage = { packageURL: '' }),
    'start',
    /app\.defaultConfigPackage\.packageURL/,
  ),
  app(
    'bad minResources',
    /spec\.roles\[0\]\.minResources\.cpu: must be a Kubernetes quantity/,
    (d) => (d.spec.roles[0].minResources = { cpu: 'lots' }),
    'start',
    /app\.roles\[0\]\.minResources\.cpu/,
  ),
  app(
    'a 1 MiB description',
    /spec\.label\.description: the app spec is \d+ KiB, more than the 256 KiB allowed/,
    (d) => (d.spec.label.description = HUGE),
    'start',
    /app\.label\.description: the app spec is/,
  ),
  app(
    'KubeDirectorApp with a bad cardinality',
    /spec\.roles\[0\]\.cardinality: cardinality must be/,
    (d) => (
      (d.apiVersion = 'kubedirector.hpe.com/v1beta1'),
      (d.kind = 'KubeDirectorApp'),
      (d.spec.roles[0].cardinality = 'many')
    ),
    'none',
  ),
  // --- files that are not manifests at all ---
  file('not YAML', '{ "apiVersion": ', /not valid JSON or YAML/),
  file('empty file', '', /the file holds no manifest/),
  file('a list, not an object', '- a\n- b\n', /a manifest must be an object/),
  file(
    'wrong apiVersion',
    'apiVersion: v1\nkind: KdCluster\nmetadata: { name: x }\nspec: {}\n',
    /apiVersion: expected apiVersion kdflow\.dev\/v1beta1/,
  ),
  file(
    'unknown kind',
    'apiVersion: kdflow.dev/v1beta1\nkind: KdClusterz\nmetadata: { name: x }\nspec: {}\n',
    /kind: expected apiVersion/,
  ),
  file(
    'YAML alias bomb',
    `a: &a ["x","x","x","x","x","x","x","x","x"]\n${Array.from(
      { length: 12 },
      (_, i) =>
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(',')}]`,
    ).join('\n')}\n`,
    /not valid JSON or YAML|alias/i,
  ),
  file(
    'members .inf in YAML',
    `apiVersion: kdflow.dev/v1beta1\nkind: KdCluster\nmetadata: { name: fresh }\nspec:\n  app: chaosapp\n  roles:\n    - { id: controller, members: 1 }\n    - { id: worker, members: .inf }\n`,
    /spec\.roles\[1\]\.members/,
  ),
];

export function badSpecs(goodApp: KdAppSpec): BadSpec[] {
  serialized = 0;
  return CASES.map((make) => make(goodApp));
}

/** Signal payloads no CLI would send, but a script or a buggy client might. */
export const BAD_PAYLOADS: BadPayload[] = [
  {
    id: 'resize with roles as a string',
    signal: 'resize',
    payload: { roles: 'worker=3' },
    field: /roles: a resize needs/,
  },
  {
    id: 'resize with roles as a list',
    signal: 'resize',
    payload: { roles: [['worker', 3]] },
    field: /roles: a resize needs/,
  },
  {
    id: 'resize to a word',
    signal: 'resize',
    payload: { roles: { worker: 'many' } },
    field: /spec\.roles\[1\]\.members: .*expected number/,
  },
  {
    id: 'resize to 1e9',
    signal: 'resize',
    payload: { roles: { worker: 1e9 } },
    field: /spec\.roles\[1\]\.members: members must be at most 1000/,
  },
  {
    id: 'resize of a role named ../x',
    signal: 'resize',
    payload: { roles: { '../x': 1 } },
    field: /spec\.roles\[2\]\.id: role id must be/,
  },
  { id: 'specChange without a spec', signal: 'specChange', payload: {}, field: /spec: .*expected object/ },
  { id: 'specChange of null', signal: 'specChange', payload: null, field: /spec: .*expected object/ },
  { id: 'retry naming a number', signal: 'retry', payload: { member: 5 } },
];
