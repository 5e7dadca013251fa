import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  KdApp,
  KdAppSpec,
  KdCluster,
  ValidationError,
  buildConfigmeta,
  changeIssues,
  checkChange,
  clusterIssues,
  describeValue,
  formatIssues,
  memberName,
  parseOrThrow,
  resizedSpec,
  valueAt,
  type FieldIssue,
  type KdClusterSpec,
} from '../../api/index.ts';
import { parseManifests } from '../../api/manifest.ts';

// Manifests are built as plain JSON and mutated per case, so a case can break them in any way.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const API = 'kdflow.dev/v1beta1';

/** A KubeDirector-style app: three roles with cardinalities "1", "2+" and "0+". */
function appSpec(): Json {
  return {
    label: { name: 'Spark 3.5', description: 'Spark with a Jupyter notebook' },
    distroID: 'kdflow/spark',
    version: '3.5.1',
    defaultImageRepoTag: 'docker.io/bluedata/spark:3.5.1',
    defaultConfigPackage: { packageURL: 'file:///appconfigs/spark.tgz', useNewSetupLayout: true },
    defaultPersistDirs: ['/usr/local/spark', '/etc/spark'],
    defaultEventList: ['configure', 'addnodes', 'delnodes'],
    systemdRequired: true,
    roles: [
      { id: 'controller', cardinality: '1', minResources: { cpu: '500m', memory: '2Gi' } },
      { id: 'worker', cardinality: '2+', persistDirs: ['/data'] },
      {
        id: 'jupyter_nb',
        cardinality: '0+',
        imageRepoTag: 'docker.io/bluedata/jupyter:7',
        configPackage: null,
        eventList: ['configure'],
      },
    ],
    services: [
      { id: 'ssh', label: { name: 'SSH' }, endpoint: { port: 22, urlScheme: 'ssh' } },
      {
        id: 'spark-ui',
        label: { name: 'Spark UI' },
        endpoint: { port: 8080, urlScheme: 'http', path: '/', isDashboard: true },
      },
      { id: 'notebook', label: { name: 'Jupyter' }, endpoint: { port: 8888, urlScheme: 'http', hasAuthToken: true } },
    ],
    config: {
      roleServices: [
        { roleID: 'controller', serviceIDs: ['ssh', 'spark-ui'] },
        { roleID: 'worker', serviceIDs: ['ssh'] },
        { roleID: 'jupyter_nb', serviceIDs: ['notebook'] },
      ],
      selectedRoles: ['controller', 'worker', 'jupyter_nb'],
    },
  };
}

function appManifest(): Json {
  return {
    apiVersion: API,
    kind: 'KdApp',
    metadata: { name: 'spark', namespace: 'analytics', labels: { team: 'data' } },
    spec: appSpec(),
  };
}

function clusterManifest(): Json {
  return {
    apiVersion: API,
    kind: 'KdCluster',
    metadata: { name: 'spark-1', namespace: 'analytics' },
    spec: {
      app: 'spark',
      roles: [
        {
          id: 'controller',
          members: 1,
          resources: { requests: { cpu: '500m', memory: '4Gi' }, limits: { cpu: 2, memory: '8Gi' } },
          storage: { size: '10Gi', storageClass: 'fast-ssd' },
          env: [
            { name: 'SPARK_HOME', value: '/opt/spark' },
            { name: 'LOG_LEVEL', value: 'info' },
          ],
          podLabels: { tier: 'control' },
          serviceType: 'NodePort',
        },
        { id: 'worker', members: 3 },
        { id: 'jupyter_nb' },
      ],
    },
  };
}

/** Parse, expecting failure; the issues of the ValidationError. */
function issuesOf(schema: typeof KdApp | typeof KdCluster, input: unknown): FieldIssue[] {
  let caught: unknown;
  try {
    parseOrThrow(schema, input);
  } catch (error) {
    caught = error;
  }
  expect(caught, 'parsing should fail').toBeInstanceOf(ValidationError);
  const error = caught as ValidationError;
  // The thrown message is the formatted list of issues.
  expect(error.message).toBe(formatIssues(error.issues));
  return error.issues;
}

interface InvalidCase {
  name: string;
  mutate: (m: Json) => void;
  path: string;
  message: RegExp;
}

interface ValidCase {
  name: string;
  mutate: (m: Json) => void;
  check?: (parsed: Json) => void;
}

function expectIssue(issues: FieldIssue[], path: string, message: RegExp): void {
  expect(issues, JSON.stringify(issues)).toContainEqual({ path, message: expect.stringMatching(message) });
}

const CARDINALITY = /cardinality must be "N" or "N\+"/;
const DNS = /must be a DNS-1123 label/;
const SUBDOMAIN = /must be a DNS-1123 subdomain/;

// ───────────────────────────────────────────── KdApp ─────────────────────────────────────────────

describe('KdApp', () => {
  it('accepts a KubeDirector-style app with three roles ("1", "2+", "0+")', () => {
    const app = parseOrThrow(KdApp, appManifest());
    expect(app.metadata).toEqual({ name: 'spark', namespace: 'analytics', labels: { team: 'data' } });
    expect(app.spec.roles.map((r) => [r.id, r.cardinality])).toEqual([
      ['controller', '1'],
      ['worker', '2+'],
      ['jupyter_nb', '0+'],
    ]);
    expect(app.spec.roles[2]?.configPackage).toBeNull();
    expect(app.spec.services?.map((s) => s.id)).toEqual(['ssh', 'spark-ui', 'notebook']);
  });

  it('applies the kdflow defaults', () => {
    const app = parseOrThrow(KdApp, appManifest());
    expect(app.spec.scriptTimeoutSeconds).toBe(600);
    expect(app.spec.maxParallel).toBe(16);
    expect(app.spec.retry).toEqual({ maximumAttempts: 3, initialIntervalSeconds: 1, backoffCoefficient: 2 });
  });

  it('fills in the retry fields left out of a partial retry block', () => {
    const m = appManifest();
    m.spec.retry = { maximumAttempts: 5 };
    const app = parseOrThrow(KdApp, m);
    expect(app.spec.retry).toEqual({ maximumAttempts: 5, initialIntervalSeconds: 1, backoffCoefficient: 2 });
  });

  it('does not change its input', () => {
    const m = appManifest();
    const before = structuredClone(m);
    parseOrThrow(KdApp, m);
    expect(m).toEqual(before);
  });

  const valid: ValidCase[] = [
    {
      name: 'a minimal app: one role, image from defaultImageRepoTag',
      mutate: (m) => {
        m.spec = {
          label: { name: 'Tiny' },
          distroID: 'tiny',
          version: '1',
          defaultImageRepoTag: 'busybox:1',
          roles: [{ id: 'node', cardinality: '1' }],
        };
      },
      check: (app) => expect(app.spec.services).toBeUndefined(),
    },
    {
      name: 'every role carries its own image and there is no default',
      mutate: (m) => {
        delete m.spec.defaultImageRepoTag;
        m.spec.roles[0].imageRepoTag = 'a:1';
        m.spec.roles[1].imageRepoTag = 'b:1';
      },
    },
    {
      name: 'cardinality "10"',
      mutate: (m) => void (m.spec.roles[0].cardinality = '10'),
      check: (app) => expect(app.spec.roles[0].cardinality).toBe('10'),
    },
    { name: 'cardinality "9999+"', mutate: (m) => void (m.spec.roles[1].cardinality = '9999+') },
    { name: 'cardinality "0"', mutate: (m) => void (m.spec.roles[2].cardinality = '0') },
    {
      name: 'a role id with "_" (vanilla_centos)',
      mutate: (m) => {
        m.spec.roles = [{ id: 'vanilla_centos', cardinality: '1+' }];
        m.spec.config = {
          roleServices: [{ roleID: 'vanilla_centos', serviceIDs: ['ssh'] }],
          selectedRoles: ['vanilla_centos'],
        };
      },
      check: (app) => expect(app.spec.roles[0].id).toBe('vanilla_centos'),
    },
    {
      name: 'a 40-character role id',
      mutate: (m) => {
        m.spec.roles[2].id = 'r'.repeat(40);
        delete m.spec.config;
      },
    },
    {
      name: 'scriptTimeoutSeconds at its maximum (86400)',
      mutate: (m) => void (m.spec.scriptTimeoutSeconds = 86_400),
      check: (app) => expect(app.spec.scriptTimeoutSeconds).toBe(86_400),
    },
    {
      name: 'maxParallel 1 and 1000',
      mutate: (m) => void (m.spec.maxParallel = 1000),
      check: (app) => expect(app.spec.maxParallel).toBe(1000),
    },
    {
      name: 'service ports 1 and 65535',
      mutate: (m) => ((m.spec.services[0].endpoint.port = 1), (m.spec.services[1].endpoint.port = 65_535)),
    },
    { name: 'a service without an endpoint', mutate: (m) => void delete m.spec.services[2].endpoint },
    { name: 'a 63-character metadata.name', mutate: (m) => void (m.metadata.name = `a${'-'.repeat(61)}z`) },
    {
      name: 'numeric minResources, converted to quantity strings',
      mutate: (m) => void (m.spec.roles[0].minResources = { cpu: 2, memory: '1.5Gi', 'nvidia.com/gpu': 1 }),
      check: (app) =>
        expect(app.spec.roles[0].minResources).toEqual({ cpu: '2', memory: '1.5Gi', 'nvidia.com/gpu': '1' }),
    },
    { name: 'an empty eventList (the role wants no events)', mutate: (m) => void (m.spec.roles[1].eventList = []) },
    { name: 'a persist dir "/" ', mutate: (m) => void (m.spec.roles[1].persistDirs = ['/']) },
  ];

  it.each(valid)('accepts $name', ({ mutate, check }) => {
    const m = appManifest();
    mutate(m);
    const app = parseOrThrow(KdApp, m);
    check?.(app);
  });

  const invalid: InvalidCase[] = [
    {
      name: 'cardinality "two"',
      mutate: (m) => void (m.spec.roles[1].cardinality = 'two'),
      path: 'spec.roles[1].cardinality',
      message: CARDINALITY,
    },
    {
      name: 'cardinality "-1"',
      mutate: (m) => void (m.spec.roles[1].cardinality = '-1'),
      path: 'spec.roles[1].cardinality',
      message: CARDINALITY,
    },
    {
      name: 'cardinality "1-"',
      mutate: (m) => void (m.spec.roles[1].cardinality = '1-'),
      path: 'spec.roles[1].cardinality',
      message: CARDINALITY,
    },
    {
      name: 'cardinality ""',
      mutate: (m) => void (m.spec.roles[0].cardinality = ''),
      path: 'spec.roles[0].cardinality',
      message: CARDINALITY,
    },
    {
      name: 'cardinality "+"',
      mutate: (m) => void (m.spec.roles[2].cardinality = '+'),
      path: 'spec.roles[2].cardinality',
      message: CARDINALITY,
    },
    {
      name: 'cardinality "2.5"',
      mutate: (m) => void (m.spec.roles[2].cardinality = '2.5'),
      path: 'spec.roles[2].cardinality',
      message: CARDINALITY,
    },
    {
      name: 'cardinality with five digits',
      mutate: (m) => void (m.spec.roles[0].cardinality = '10000'),
      path: 'spec.roles[0].cardinality',
      message: CARDINALITY,
    },
    {
      name: 'cardinality as a number',
      mutate: (m) => void (m.spec.roles[0].cardinality = 1),
      path: 'spec.roles[0].cardinality',
      message: /expected string/,
    },
    {
      name: 'duplicate role ids',
      mutate: (m) => void m.spec.roles.push({ id: 'worker', cardinality: '0+' }),
      path: 'spec.roles[3].id',
      message: /^duplicate role id "worker"$/,
    },
    {
      name: 'role ids that give the same member names ("a_b" and "a-b")',
      mutate: (m) => void m.spec.roles.push({ id: 'a_b', cardinality: '1' }, { id: 'a-b', cardinality: '1' }),
      path: 'spec.roles[4].id',
      message: /^role id "a-b" gives the same member names \(a-b\) as role "a_b"; rename one of them$/,
    },
    {
      name: 'role ids that differ only in case or dots ("Ab.c" and "ab_c")',
      mutate: (m) => void m.spec.roles.push({ id: 'Ab.c', cardinality: '1' }, { id: 'ab_c', cardinality: '1' }),
      path: 'spec.roles[4].id',
      message: /^role id "ab_c" gives the same member names \(ab-c\) as role "Ab\.c"/,
    },
    {
      name: 'a role id with a space',
      mutate: (m) => void (m.spec.roles[1].id = 'my worker'),
      path: 'spec.roles[1].id',
      message: /role id must be letters, digits/,
    },
    {
      name: 'a role id ending in "_"',
      mutate: (m) => void (m.spec.roles[1].id = 'worker_'),
      path: 'spec.roles[1].id',
      message: /role id must be letters, digits/,
    },
    {
      name: 'a 64-character role id',
      mutate: (m) => void (m.spec.roles[0].id = 'r'.repeat(64)),
      path: 'spec.roles[0].id',
      message: /at most 63 characters/,
    },
    {
      name: 'an unknown event in a role eventList',
      mutate: (m) => void (m.spec.roles[2].eventList = ['configure', 'reboot']),
      path: 'spec.roles[2].eventList[1]',
      message:
        /^got "reboot"; expected one of configure, addnodes, delnodes, upgrade, rollback, reconfigure, restart, postprovision, preterminate$/,
    },
    {
      name: 'an unknown event in defaultEventList',
      mutate: (m) => void (m.spec.defaultEventList = ['start']),
      path: 'spec.defaultEventList[0]',
      message: /expected one of/,
    },
    {
      name: 'a relative persist dir',
      mutate: (m) => void (m.spec.roles[1].persistDirs = ['/data', 'var/lib/spark']),
      path: 'spec.roles[1].persistDirs[1]',
      message: /must be an absolute path/,
    },
    {
      name: "a persist dir with '..'",
      mutate: (m) => void (m.spec.roles[1].persistDirs = ['/data/../etc']),
      path: 'spec.roles[1].persistDirs[0]',
      message: /must not contain '\.\.'/,
    },
    {
      name: 'a relative default persist dir',
      mutate: (m) => void (m.spec.defaultPersistDirs = ['spark']),
      path: 'spec.defaultPersistDirs[0]',
      message: /must be an absolute path/,
    },
    {
      name: 'a missing label.name',
      mutate: (m) => void (m.spec.label = { description: 'no name' }),
      path: 'spec.label.name',
      message: /^missing; expected string$/,
    },
    {
      name: 'an empty label.name',
      mutate: (m) => void (m.spec.label.name = ''),
      path: 'spec.label.name',
      message: /label\.name must not be empty/,
    },
    {
      name: 'an empty distroID',
      mutate: (m) => void (m.spec.distroID = ''),
      path: 'spec.distroID',
      message: /distroID must not be empty/,
    },
    {
      name: 'a missing version',
      mutate: (m) => void delete m.spec.version,
      path: 'spec.version',
      message: /expected string/,
    },
    {
      name: 'missing roles',
      mutate: (m) => void delete m.spec.roles,
      path: 'spec.roles',
      message: /^missing; expected array$/,
    },
    {
      name: 'empty roles',
      mutate: (m) => void (m.spec.roles = []),
      path: 'spec.roles',
      message: /an app needs at least one role/,
    },
    {
      name: 'an unknown top-level field',
      mutate: (m) => void (m.status = {}),
      path: '',
      message: /Unrecognized key: "status"/,
    },
    {
      name: 'an unknown spec field',
      mutate: (m) => void (m.spec.schemaVersion = 7),
      path: 'spec',
      message: /Unrecognized key: "schemaVersion"/,
    },
    {
      name: 'an unknown role field',
      mutate: (m) => void (m.spec.roles[1].replicas = 3),
      path: 'spec.roles[1]',
      message: /Unrecognized key: "replicas"/,
    },
    {
      name: 'a role without an image and no defaultImageRepoTag',
      mutate: (m) => void delete m.spec.defaultImageRepoTag,
      path: 'spec.roles[1].imageRepoTag',
      message: /^role "worker" has no imageRepoTag and the app has no defaultImageRepoTag$/,
    },
    {
      name: 'an empty configPackage.packageURL',
      mutate: (m) => void (m.spec.roles[0].configPackage = { packageURL: '' }),
      path: 'spec.roles[0].configPackage.packageURL',
      message: /packageURL must not be empty/,
    },
    {
      name: 'a bad minResources quantity',
      mutate: (m) => void (m.spec.roles[0].minResources.cpu = 'lots'),
      path: 'spec.roles[0].minResources.cpu',
      message: /Kubernetes quantity/,
    },
    {
      name: 'service port 70000',
      mutate: (m) => void (m.spec.services[1].endpoint.port = 70_000),
      path: 'spec.services[1].endpoint.port',
      message: /<=65535/,
    },
    {
      name: 'service port 0',
      mutate: (m) => void (m.spec.services[0].endpoint.port = 0),
      path: 'spec.services[0].endpoint.port',
      message: />=1/,
    },
    {
      name: 'a fractional service port',
      mutate: (m) => void (m.spec.services[0].endpoint.port = 22.5),
      path: 'spec.services[0].endpoint.port',
      message: /expected int/,
    },
    {
      name: 'a service id that is not a DNS label',
      mutate: (m) => void (m.spec.services[1].id = 'spark_ui'),
      path: 'spec.services[1].id',
      message: /service id must be a DNS-1123 label/,
    },
    {
      name: 'duplicate service ids',
      mutate: (m) => void (m.spec.services[2].id = 'ssh'),
      path: 'spec.services[2].id',
      message: /^duplicate service id "ssh"$/,
    },
    {
      name: 'roleServices naming an unknown role',
      mutate: (m) => void (m.spec.config.roleServices[1].roleID = 'ghost'),
      path: 'spec.config.roleServices[1].roleID',
      message: /^unknown role "ghost"$/,
    },
    {
      name: 'roleServices naming an unknown service',
      mutate: (m) => void (m.spec.config.roleServices[0].serviceIDs = ['ssh', 'http']),
      path: 'spec.config.roleServices[0].serviceIDs[1]',
      message: /^unknown service "http"$/,
    },
    {
      name: 'selectedRoles naming an unknown role',
      mutate: (m) => void (m.spec.config.selectedRoles = ['controller', 'gateway']),
      path: 'spec.config.selectedRoles[1]',
      message: /^unknown role "gateway"$/,
    },
    {
      name: 'scriptTimeoutSeconds 0',
      mutate: (m) => void (m.spec.scriptTimeoutSeconds = 0),
      path: 'spec.scriptTimeoutSeconds',
      message: />=1/,
    },
    {
      name: 'scriptTimeoutSeconds over a day',
      mutate: (m) => void (m.spec.scriptTimeoutSeconds = 86_401),
      path: 'spec.scriptTimeoutSeconds',
      message: /<=86400/,
    },
    { name: 'maxParallel 0', mutate: (m) => void (m.spec.maxParallel = 0), path: 'spec.maxParallel', message: />=1/ },
    {
      name: 'retry.maximumAttempts 0',
      mutate: (m) => void (m.spec.retry = { maximumAttempts: 0 }),
      path: 'spec.retry.maximumAttempts',
      message: />=1/,
    },
    {
      name: 'retry.backoffCoefficient below 1',
      mutate: (m) => void (m.spec.retry = { backoffCoefficient: 0.5 }),
      path: 'spec.retry.backoffCoefficient',
      message: />=1/,
    },
    {
      name: 'an uppercase metadata.name',
      mutate: (m) => void (m.metadata.name = 'Spark'),
      path: 'metadata.name',
      message: DNS,
    },
    {
      name: 'a metadata.name with "_"',
      mutate: (m) => void (m.metadata.name = 'spark_app'),
      path: 'metadata.name',
      message: DNS,
    },
    {
      name: 'a metadata.name starting with "-"',
      mutate: (m) => void (m.metadata.name = '-spark'),
      path: 'metadata.name',
      message: DNS,
    },
    {
      name: 'a 64-character metadata.name',
      mutate: (m) => void (m.metadata.name = 'a'.repeat(64)),
      path: 'metadata.name',
      message: /metadata\.name must be at most 63 characters/,
    },
    {
      name: 'an empty metadata.name',
      mutate: (m) => void (m.metadata.name = ''),
      path: 'metadata.name',
      message: /metadata\.name must not be empty/,
    },
    {
      name: 'an invalid metadata.namespace',
      mutate: (m) => void (m.metadata.namespace = 'Data.Team'),
      path: 'metadata.namespace',
      message: DNS,
    },
    {
      name: 'a KubeDirector apiVersion',
      mutate: (m) => void (m.apiVersion = 'kubedirector.hpe.com/v1beta1'),
      path: 'apiVersion',
      message: /expected "kdflow\.dev\/v1beta1"/,
    },
    {
      name: 'an older apiVersion',
      mutate: (m) => void (m.apiVersion = 'kdflow.dev/v1alpha1'),
      path: 'apiVersion',
      message: /expected "kdflow\.dev\/v1beta1"/,
    },
    { name: 'kind KdCluster', mutate: (m) => void (m.kind = 'KdCluster'), path: 'kind', message: /expected "KdApp"/ },
    { name: 'a missing metadata', mutate: (m) => void delete m.metadata, path: 'metadata', message: /expected object/ },
  ];

  it.each(invalid)('rejects $name at $path', ({ mutate, path, message }) => {
    const m = appManifest();
    mutate(m);
    const issues = issuesOf(KdApp, m);
    expectIssue(issues, path, message);
  });

  it('names every role that has no image when the default is missing', () => {
    const m = appManifest();
    delete m.spec.defaultImageRepoTag;
    expect(issuesOf(KdApp, m)).toEqual([
      {
        path: 'spec.roles[0].imageRepoTag',
        message: 'role "controller" has no imageRepoTag and the app has no defaultImageRepoTag',
      },
      {
        path: 'spec.roles[1].imageRepoTag',
        message: 'role "worker" has no imageRepoTag and the app has no defaultImageRepoTag',
      },
    ]);
  });

  it('reports an exact duplicate only as a duplicate, not also as a member-name clash', () => {
    const m = appManifest();
    m.spec.roles.push({ id: 'worker', cardinality: '0+' });
    expect(issuesOf(KdApp, m)).toEqual([{ path: 'spec.roles[3].id', message: 'duplicate role id "worker"' }]);
  });

  it('formats the path of a nested issue into the error message', () => {
    const m = appManifest();
    m.spec.roles[1].cardinality = 'two';
    expect(() => parseOrThrow(KdApp, m, 'spark.yaml')).toThrowError(
      /^spark\.yaml: spec\.roles\[1\]\.cardinality: cardinality must be "N" or "N\+"/,
    );
  });
});

// ──────────────────────────────────────────── KdCluster ───────────────────────────────────────────

describe('KdCluster', () => {
  it('accepts a cluster with resources, storage, env and a role whose members are omitted', () => {
    const cluster = parseOrThrow(KdCluster, clusterManifest());
    const [controller, worker, notebook] = cluster.spec.roles;
    expect(controller?.resources).toEqual({
      requests: { cpu: '500m', memory: '4Gi' },
      limits: { cpu: '2', memory: '8Gi' },
    });
    expect(controller?.storage).toEqual({ size: '10Gi', storageClass: 'fast-ssd' });
    expect(controller?.env?.map((e) => e.name)).toEqual(['SPARK_HOME', 'LOG_LEVEL']);
    expect(controller?.serviceType).toBe('NodePort');
    expect(worker?.members).toBe(3);
    expect(notebook?.members).toBeUndefined();
  });

  const valid: ValidCase[] = [
    {
      name: 'members omitted everywhere',
      mutate: (m) => m.spec.roles.forEach((r: Json) => delete r.members),
      check: (c) => expect(c.spec.roles.every((r: Json) => r.members === undefined)).toBe(true),
    },
    {
      name: 'members 0',
      mutate: (m) => void (m.spec.roles[1].members = 0),
      check: (c) => expect(c.spec.roles[1].members).toBe(0),
    },
    { name: 'members 1000', mutate: (m) => void (m.spec.roles[1].members = 1000) },
    { name: 'no roles at all', mutate: (m) => void (m.spec.roles = []) },
    {
      name: 'an env list with lowercase and "_"-led names and an empty value',
      mutate: (m) =>
        void (m.spec.roles[1].env = [
          { name: '_private', value: '' },
          { name: 'java_opts', value: '-Xmx4g' },
          { name: 'A1', value: 'x' },
        ]),
      check: (c) => expect(c.spec.roles[1].env).toHaveLength(3),
    },
    {
      name: 'the same env name on two roles',
      mutate: (m) => void (m.spec.roles[1].env = [{ name: 'SPARK_HOME', value: '/opt/spark' }]),
    },
    {
      name: 'storage without a storageClass',
      mutate: (m) => void (m.spec.roles[1].storage = { size: '100G' }),
      check: (c) => expect(c.spec.roles[1].storage).toEqual({ size: '100G' }),
    },
    {
      name: 'storage size "1.5Ti"',
      mutate: (m) => void (m.spec.roles[1].storage = { size: '1.5Ti', storageClass: 'standard' }),
    },
    { name: 'storage size in bytes', mutate: (m) => void (m.spec.roles[1].storage = { size: '1073741824' }) },
    {
      name: 'quantities "500m", "4Gi", 2, 0.25, "1e3" and ".5"',
      mutate: (m) =>
        void (m.spec.roles[1].resources = {
          requests: { cpu: '500m', memory: '4Gi', 'nvidia.com/gpu': 2 },
          limits: { cpu: 0.25, memory: '1e3', ephemeral: '.5' },
        }),
      check: (c) =>
        expect(c.spec.roles[1].resources).toEqual({
          requests: { cpu: '500m', memory: '4Gi', 'nvidia.com/gpu': '2' },
          limits: { cpu: '0.25', memory: '1e3', ephemeral: '.5' },
        }),
    },
    {
      name: 'resources with only limits',
      mutate: (m) => void (m.spec.roles[1].resources = { limits: { memory: '512Mi' } }),
    },
    { name: 'serviceType ClusterIP', mutate: (m) => void (m.spec.roles[1].serviceType = 'ClusterIP') },
    { name: 'serviceType LoadBalancer', mutate: (m) => void (m.spec.roles[1].serviceType = 'LoadBalancer') },
    { name: 'a metadata.name with digits and "-"', mutate: (m) => void (m.metadata.name = '0-spark-2024') },
    { name: 'no namespace', mutate: (m) => void delete m.metadata.namespace },
  ];

  it.each(valid)('accepts $name', ({ mutate, check }) => {
    const m = clusterManifest();
    mutate(m);
    const cluster = parseOrThrow(KdCluster, m);
    check?.(cluster);
  });

  const invalid: InvalidCase[] = [
    {
      name: 'negative members',
      mutate: (m) => void (m.spec.roles[1].members = -1),
      path: 'spec.roles[1].members',
      message: /^members must not be negative, got -1$/,
    },
    {
      name: 'fractional members',
      mutate: (m) => void (m.spec.roles[1].members = 1.5),
      path: 'spec.roles[1].members',
      message: /^members must be a whole number, got 1\.5$/,
    },
    {
      name: 'members over 1000',
      mutate: (m) => void (m.spec.roles[1].members = 1001),
      path: 'spec.roles[1].members',
      message: /^members must be at most 1000, got 1001$/,
    },
    {
      name: 'members as a string',
      mutate: (m) => void (m.spec.roles[1].members = '3'),
      path: 'spec.roles[1].members',
      message: /^got "3"; expected number$/,
    },
    {
      name: 'duplicate role ids',
      mutate: (m) => void (m.spec.roles[2].id = 'worker'),
      path: 'spec.roles[2].id',
      message: /^duplicate role id "worker"$/,
    },
    {
      name: 'an invalid role id',
      mutate: (m) => void (m.spec.roles[1].id = 'Worker!'),
      path: 'spec.roles[1].id',
      message: /role id must be letters, digits/,
    },
    {
      name: 'duplicate env names',
      mutate: (m) => void m.spec.roles[0].env.push({ name: 'SPARK_HOME', value: '/srv/spark' }),
      path: 'spec.roles[0].env[2].name',
      message: /^duplicate env name "SPARK_HOME"$/,
    },
    {
      name: "an env name with '-'",
      mutate: (m) => void (m.spec.roles[0].env[1].name = 'LOG-LEVEL'),
      path: 'spec.roles[0].env[1].name',
      message: /shell-style identifier/,
    },
    {
      name: 'an env name starting with a digit',
      mutate: (m) => void (m.spec.roles[0].env[0].name = '1SPARK'),
      path: 'spec.roles[0].env[0].name',
      message: /shell-style identifier/,
    },
    {
      name: 'an empty env name',
      mutate: (m) => void (m.spec.roles[0].env[0].name = ''),
      path: 'spec.roles[0].env[0].name',
      message: /shell-style identifier/,
    },
    {
      name: 'an env value over 32 KiB',
      mutate: (m) => void (m.spec.roles[0].env[0].value = 'x'.repeat(32_769)),
      path: 'spec.roles[0].env[0].value',
      message: /at most 32 KiB/,
    },
    {
      name: 'an env value that is a number',
      mutate: (m) => void (m.spec.roles[0].env[0].value = 8080),
      path: 'spec.roles[0].env[0].value',
      message: /expected string/,
    },
    {
      name: 'an unknown env field',
      mutate: (m) => void (m.spec.roles[0].env[0].valueFrom = {}),
      path: 'spec.roles[0].env[0]',
      message: /Unrecognized key: "valueFrom"/,
    },
    {
      name: 'storage size "10GB"',
      mutate: (m) => void (m.spec.roles[0].storage.size = '10GB'),
      path: 'spec.roles[0].storage.size',
      message: /storage\.size must be a quantity/,
    },
    {
      name: 'storage size "ten"',
      mutate: (m) => void (m.spec.roles[0].storage.size = 'ten'),
      path: 'spec.roles[0].storage.size',
      message: /storage\.size must be a quantity/,
    },
    {
      name: 'storage size "-1Gi"',
      mutate: (m) => void (m.spec.roles[0].storage.size = '-1Gi'),
      path: 'spec.roles[0].storage.size',
      message: /storage\.size must be a quantity/,
    },
    {
      name: 'storage without a size',
      mutate: (m) => void (m.spec.roles[0].storage = { storageClass: 'fast' }),
      path: 'spec.roles[0].storage.size',
      message: /expected string/,
    },
    {
      name: 'an empty storageClass',
      mutate: (m) => void (m.spec.roles[0].storage.storageClass = ''),
      path: 'spec.roles[0].storage.storageClass',
      message: />=1 characters/,
    },
    {
      name: 'storageClassName (the KubeDirector spelling)',
      mutate: (m) => void (m.spec.roles[0].storage = { size: '1Gi', storageClassName: 'x' }),
      path: 'spec.roles[0].storage',
      message: /Unrecognized key: "storageClassName"/,
    },
    {
      name: 'quantity "lots"',
      mutate: (m) => void (m.spec.roles[0].resources.requests.cpu = 'lots'),
      path: 'spec.roles[0].resources.requests.cpu',
      message: /Kubernetes quantity/,
    },
    {
      name: 'quantity "4GB"',
      mutate: (m) => void (m.spec.roles[0].resources.limits.memory = '4GB'),
      path: 'spec.roles[0].resources.limits.memory',
      message: /Kubernetes quantity/,
    },
    {
      name: 'quantity -1',
      mutate: (m) => void (m.spec.roles[0].resources.limits.cpu = -1),
      path: 'spec.roles[0].resources.limits.cpu',
      message: /Kubernetes quantity/,
    },
    {
      name: 'quantity "1.2.3"',
      mutate: (m) => void (m.spec.roles[0].resources.requests.cpu = '1.2.3'),
      path: 'spec.roles[0].resources.requests.cpu',
      message: /Kubernetes quantity/,
    },
    {
      name: 'an unknown resources key',
      mutate: (m) => void (m.spec.roles[0].resources.maximum = { cpu: '1' }),
      path: 'spec.roles[0].resources',
      message: /Unrecognized key: "maximum"/,
    },
    {
      name: 'serviceType ExternalName',
      mutate: (m) => void (m.spec.roles[0].serviceType = 'ExternalName'),
      path: 'spec.roles[0].serviceType',
      message: /^got "ExternalName"; expected one of ClusterIP, NodePort, LoadBalancer$/,
    },
    {
      name: 'serviceType in lowercase',
      mutate: (m) => void (m.spec.roles[0].serviceType = 'nodeport'),
      path: 'spec.roles[0].serviceType',
      message: /expected one of/,
    },
    {
      name: 'an unknown role field',
      mutate: (m) => void (m.spec.roles[1].replicas = 3),
      path: 'spec.roles[1]',
      message: /Unrecognized key: "replicas"/,
    },
    {
      name: 'an unknown spec field (cluster-level serviceType)',
      mutate: (m) => void (m.spec.serviceType = 'NodePort'),
      path: 'spec',
      message: /Unrecognized key: "serviceType"/,
    },
    {
      name: 'an unknown top-level field',
      mutate: (m) => void (m.status = { state: 'ready' }),
      path: '',
      message: /Unrecognized key: "status"/,
    },
    {
      name: 'podLabels with a non-string value',
      mutate: (m) => void (m.spec.roles[0].podLabels = { tier: 1 }),
      path: 'spec.roles[0].podLabels.tier',
      message: /expected string/,
    },
    {
      name: 'an app name that is not DNS-1123',
      mutate: (m) => void (m.spec.app = 'Spark_3'),
      path: 'spec.app',
      message: /^app must be a DNS-1123 label/,
    },
    {
      name: 'an app name over 63 characters',
      mutate: (m) => void (m.spec.app = 's'.repeat(64)),
      path: 'spec.app',
      message: /^app must be at most 63 characters, got "s{32}…" \(64 characters\)$/,
    },
    {
      name: 'a missing app',
      mutate: (m) => void delete m.spec.app,
      path: 'spec.app',
      message: /^missing; expected string$/,
    },
    { name: 'missing roles', mutate: (m) => void delete m.spec.roles, path: 'spec.roles', message: /expected array/ },
    {
      name: 'an uppercase metadata.name',
      mutate: (m) => void (m.metadata.name = 'Spark-1'),
      path: 'metadata.name',
      message: SUBDOMAIN,
    },
    {
      name: 'a metadata.name with "/"',
      mutate: (m) => void (m.metadata.name = 'spark/1'),
      path: 'metadata.name',
      message: SUBDOMAIN,
    },
    {
      name: 'a metadata.name ending in "-"',
      mutate: (m) => void (m.metadata.name = 'spark-'),
      path: 'metadata.name',
      message: SUBDOMAIN,
    },
    {
      name: 'a 64-character metadata.name',
      mutate: (m) => void (m.metadata.name = 'c'.repeat(64)),
      path: 'metadata.name',
      message: /at most 63 characters/,
    },
    {
      name: 'a wrong apiVersion',
      mutate: (m) => void (m.apiVersion = 'v1'),
      path: 'apiVersion',
      message: /expected "kdflow\.dev\/v1beta1"/,
    },
    { name: 'kind KdApp', mutate: (m) => void (m.kind = 'KdApp'), path: 'kind', message: /expected "KdCluster"/ },
  ];

  it.each(invalid)('rejects $name at $path', ({ mutate, path, message }) => {
    const m = clusterManifest();
    mutate(m);
    expectIssue(issuesOf(KdCluster, m), path, message);
  });
});

// ─────────────────────────────────────────── clusterIssues ──────────────────────────────────────────

describe('clusterIssues', () => {
  const app = KdAppSpec.parse(appSpec());
  const spec = (roles: KdClusterSpec['roles'], appName = 'spark'): KdClusterSpec => ({ app: appName, roles });

  interface Case {
    name: string;
    clusterName?: string;
    roles: KdClusterSpec['roles'];
    issues: FieldIssue[];
  }

  const long50 = 'c'.repeat(50);
  const long51 = 'c'.repeat(51);

  const cases: Case[] = [
    {
      name: 'a valid spec',
      roles: [
        { id: 'controller', members: 1 },
        { id: 'worker', members: 2 },
        { id: 'jupyter_nb', members: 0 },
      ],
      issues: [],
    },
    {
      name: 'members left to the cardinality, optional role left out',
      roles: [{ id: 'controller' }, { id: 'worker' }],
      issues: [],
    },
    {
      name: 'many workers and notebooks',
      roles: [
        { id: 'controller', members: 1 },
        { id: 'worker', members: 40 },
        { id: 'jupyter_nb', members: 3 },
      ],
      issues: [],
    },
    {
      name: 'an unknown role',
      roles: [
        { id: 'controller', members: 1 },
        { id: 'worker', members: 2 },
        { id: 'gateway', members: 1 },
      ],
      issues: [
        {
          path: 'roles[2].id',
          message: 'unknown role "gateway"; app "spark" has "controller", "worker", "jupyter_nb"',
        },
      ],
    },
    {
      name: 'too few workers for "2+"',
      roles: [
        { id: 'controller', members: 1 },
        { id: 'worker', members: 1 },
      ],
      issues: [{ path: 'roles[1].members', message: 'worker needs at least 2 members (cardinality "2+"), got 1' }],
    },
    {
      name: 'too few workers, listed first (the path uses the cluster spec index)',
      roles: [
        { id: 'worker', members: 0 },
        { id: 'controller', members: 1 },
      ],
      issues: [{ path: 'roles[0].members', message: 'worker needs at least 2 members (cardinality "2+"), got 0' }],
    },
    {
      name: 'two controllers for exact cardinality "1"',
      roles: [
        { id: 'controller', members: 2 },
        { id: 'worker', members: 2 },
      ],
      issues: [{ path: 'roles[0].members', message: 'controller needs exactly 1 member (cardinality "1"), got 2' }],
    },
    {
      name: 'zero controllers for exact cardinality "1"',
      roles: [
        { id: 'worker', members: 3 },
        { id: 'controller', members: 0 },
      ],
      issues: [{ path: 'roles[1].members', message: 'controller needs exactly 1 member (cardinality "1"), got 0' }],
    },
    {
      name: 'a required role left out (path "roles")',
      roles: [{ id: 'worker', members: 2 }],
      issues: [{ path: 'roles', message: 'controller needs exactly 1 member (cardinality "1"), got 0' }],
    },
    {
      name: 'no roles at all',
      roles: [],
      issues: [
        { path: 'roles', message: 'controller needs exactly 1 member (cardinality "1"), got 0' },
        { path: 'roles', message: 'worker needs at least 2 members (cardinality "2+"), got 0' },
      ],
    },
    {
      name: 'more than 1000 members in total',
      roles: [
        { id: 'controller', members: 1 },
        { id: 'worker', members: 600 },
        { id: 'jupyter_nb', members: 400 },
      ],
      issues: [{ path: 'roles', message: 'a cluster may have at most 1000 members, got 1001' }],
    },
    {
      name: 'exactly 1000 members in total',
      roles: [
        { id: 'controller', members: 1 },
        { id: 'worker', members: 999 },
      ],
      issues: [],
    },
    {
      name: 'a member name of exactly 63 characters',
      clusterName: long50,
      roles: [
        { id: 'controller', members: 1 },
        { id: 'worker', members: 2 },
      ],
      issues: [],
    },
    {
      name: 'a member name longer than 63 characters',
      clusterName: long51,
      roles: [
        { id: 'controller', members: 1 },
        { id: 'worker', members: 2 },
      ],
      issues: [
        {
          path: 'roles[0].id',
          message: `member name "${long51}-controller-0" is longer than 63 characters; shorten the cluster name`,
        },
      ],
    },
    {
      name: 'ten notebooks still fit in 63 characters (the last ordinal is 9)',
      clusterName: long50,
      roles: [
        { id: 'controller', members: 1 },
        { id: 'worker', members: 2 },
        { id: 'jupyter_nb', members: 10 },
      ],
      issues: [],
    },
    {
      name: "the longest member name uses the last ordinal and maps '_' to '-'",
      clusterName: long50,
      roles: [
        { id: 'controller', members: 1 },
        { id: 'worker', members: 2 },
        { id: 'jupyter_nb', members: 100 },
      ],
      issues: [
        {
          path: 'roles[2].id',
          message: `member name "${long50}-jupyter-nb-99" is longer than 63 characters; shorten the cluster name`,
        },
      ],
    },
  ];

  it.each(cases)('$name', ({ clusterName = 'spark-1', roles, issues }) => {
    expect(clusterIssues(clusterName, spec(roles), app)).toEqual(issues);
  });

  it('the boundary cases really sit at 63 characters', () => {
    expect(memberName(long50, 'controller', 0)).toHaveLength(63);
    expect(memberName(long51, 'controller', 0)).toHaveLength(64);
    expect(memberName(long50, 'jupyter_nb', 9)).toHaveLength(63);
    expect(memberName(long50, 'jupyter_nb', 99)).toHaveLength(64);
  });

  it('reports a cluster that names a different app than the one given', () => {
    const issues = clusterIssues('spark-1', spec([{ id: 'controller' }, { id: 'worker' }], 'hive'), app, 'spark');
    expect(issues).toEqual([{ path: 'app', message: 'cluster names app "hive" but was given app "spark"' }]);
  });

  it('formats issues with their paths, one a line', () => {
    const issues = clusterIssues(
      'spark-1',
      spec([
        { id: 'controller', members: 2 },
        { id: 'worker', members: 1 },
      ]),
      app,
    );
    const text = formatIssues(issues);
    expect(text).toContain('roles[1].members: worker needs at least 2 members (cardinality "2+"), got 1');
    expect(text.split('\n')).toEqual([
      'roles[0].members: controller needs exactly 1 member (cardinality "1"), got 2',
      'roles[1].members: worker needs at least 2 members (cardinality "2+"), got 1',
    ]);
    expect(formatIssues(issues, 'spark-1.yaml').split('\n')[1]).toBe(
      'spark-1.yaml: roles[1].members: worker needs at least 2 members (cardinality "2+"), got 1',
    );
    expect(new ValidationError(issues, 'spark-1.yaml').message).toBe(formatIssues(issues, 'spark-1.yaml'));
  });

  it('formats an issue without a path as the bare message', () => {
    expect(formatIssues([{ path: '', message: 'the file holds no manifest' }], 'a.yaml')).toBe(
      'a.yaml: the file holds no manifest',
    );
  });
});

// ─────────────────────────────────────────── changeIssues ───────────────────────────────────────────

describe('changeIssues', () => {
  const app = KdAppSpec.parse(appSpec());

  function current(): KdClusterSpec {
    return {
      app: 'spark',
      roles: [
        { id: 'controller', members: 1, resources: { requests: { cpu: '1' } } },
        {
          id: 'worker',
          members: 2,
          resources: { requests: { cpu: '2', memory: '4Gi' } },
          env: [{ name: 'A', value: '1' }],
        },
        { id: 'jupyter_nb', members: 0 },
      ],
    };
  }

  interface Case {
    name: string;
    change: (next: KdClusterSpec) => void;
    base?: (cur: KdClusterSpec) => void;
    issues: FieldIssue[];
  }

  const role = (s: KdClusterSpec, i: number) => {
    const r = s.roles[i];
    if (!r) throw new Error(`no role ${i}`);
    return r;
  };

  const cases: Case[] = [
    { name: 'no change', change: () => {}, issues: [] },
    {
      name: 'a different app',
      change: (n) => void (n.app = 'hive'),
      issues: [{ path: 'app', message: 'app is immutable (was "spark", got "hive")' }],
    },
    {
      name: 'new resources for a role that has members (a reconfigure)',
      change: (n) => void (role(n, 1).resources = { requests: { cpu: '4', memory: '4Gi' } }),
      issues: [],
    },
    {
      name: 'a new env list for a role that has members (a reconfigure)',
      change: (n) => void (role(n, 1).env = [{ name: 'A', value: '2' }]),
      issues: [],
    },
    {
      name: 'storage added to a role whose members come from its cardinality',
      base: (c) => void delete role(c, 0).members,
      change: (n) => void (role(n, 0).storage = { size: '10Gi' }),
      issues: [
        {
          path: 'roles[0]',
          message: 'role "controller" has members, so only its members count, env, podLabels and resources may change',
        },
      ],
    },
    {
      name: 'a changed role at another index in the new spec (the path uses the new index)',
      change: (n) => {
        n.roles.reverse();
        role(n, 1).storage = { size: '8Gi' };
      },
      issues: [
        {
          path: 'roles[1]',
          message: 'role "worker" has members, so only its members count, env, podLabels and resources may change',
        },
      ],
    },
    {
      name: 'both the app and a role',
      change: (n) => {
        n.app = 'hive';
        role(n, 0).storage = { size: '2Gi' };
      },
      issues: [
        { path: 'app', message: 'app is immutable (was "spark", got "hive")' },
        {
          path: 'roles[0]',
          message: 'role "controller" has members, so only its members count, env, podLabels and resources may change',
        },
      ],
    },
    { name: 'only the members count changes', change: (n) => void (role(n, 1).members = 5), issues: [] },
    { name: 'a role scales to zero', change: (n) => void (role(n, 1).members = 0), issues: [] },
    {
      name: 'the same resources with their keys in another order',
      change: (n) => void (role(n, 1).resources = { requests: { memory: '4Gi', cpu: '2' } }),
      issues: [],
    },
    {
      name: 'a role that had 0 members gets resources and members',
      change: (n) =>
        Object.assign(role(n, 2), {
          members: 2,
          resources: { limits: { memory: '2Gi' } },
          serviceType: 'LoadBalancer',
        }),
      issues: [],
    },
    {
      name: 'a role that was left out is added with settings',
      base: (c) => void c.roles.pop(),
      change: (n) => void (role(n, 2).storage = { size: '5Gi' }),
      issues: [],
    },
  ];

  it.each(cases)('$name', ({ base, change, issues }) => {
    const cur = current();
    base?.(cur);
    const next = structuredClone(cur);
    if (!next.roles.some((r) => r.id === 'jupyter_nb')) next.roles.push({ id: 'jupyter_nb', members: 1 });
    change(next);
    expect(changeIssues(cur, next, app)).toEqual(issues);
  });
});

// ─────────────────────────────────────────── parseManifests ─────────────────────────────────────────

describe('parseManifests', () => {
  const APP_YAML = `
apiVersion: kdflow.dev/v1beta1
kind: KdApp
metadata:
  name: spark
spec:
  label:
    name: Spark
  distroID: kdflow/spark
  version: "3.5"
  defaultImageRepoTag: docker.io/bluedata/spark:3.5
  roles:
    - id: controller
      cardinality: "1"
    - id: worker
      cardinality: 2+
    - id: jupyter_nb
      cardinality: 0+
  scriptTimeoutSeconds: 120
`;

  const CLUSTER_YAML = `
apiVersion: kdflow.dev/v1beta1
kind: KdCluster
metadata:
  name: spark-1
spec:
  app: spark
  roles:
    - id: controller
      resources:
        requests: { cpu: 500m, memory: 4Gi }
        limits: { cpu: 2 }
    - id: worker
      members: 3
`;

  it('reads JSON', () => {
    const [manifest, ...rest] = parseManifests(JSON.stringify(appManifest(), null, 2), 'spark.json');
    expect(rest).toEqual([]);
    expect(manifest?.kind).toBe('KdApp');
    // The fixture sets fields kdflow does not act on yet: each is named.
    expect(manifest?.warnings.map((w) => w.path)).toEqual([
      'spec.services[2].endpoint.hasAuthToken',
      'spec.roles[0].minResources',
      'spec.systemdRequired',
    ]);
    if (manifest?.kind !== 'KdApp') throw new Error('expected a KdApp');
    expect(manifest.value.spec.roles.map((r) => r.cardinality)).toEqual(['1', '2+', '0+']);
    expect(manifest.value.spec.scriptTimeoutSeconds).toBe(600);
  });

  it('reads YAML', () => {
    const [manifest] = parseManifests(APP_YAML, 'spark.yaml');
    if (manifest?.kind !== 'KdApp') throw new Error('expected a KdApp');
    expect(manifest.value.metadata.name).toBe('spark');
    expect(manifest.value.spec.roles.map((r) => r.cardinality)).toEqual(['1', '2+', '0+']);
    expect(manifest.value.spec.scriptTimeoutSeconds).toBe(120);
    expect(manifest.value.spec.maxParallel).toBe(16);
  });

  it('reads a KdCluster and turns numeric quantities into strings', () => {
    const [manifest] = parseManifests(CLUSTER_YAML, 'cluster.yaml');
    if (manifest?.kind !== 'KdCluster') throw new Error('expected a KdCluster');
    expect(manifest.value.spec.roles[0]?.resources).toEqual({
      requests: { cpu: '500m', memory: '4Gi' },
      limits: { cpu: '2' },
    });
    expect(manifest.value.spec.roles[1]?.members).toBe(3);
  });

  it('reads multi-document YAML in order, skipping empty documents', () => {
    const manifests = parseManifests(`${APP_YAML}\n---\n# nothing here\n---\n${CLUSTER_YAML}`, 'all.yaml');
    expect(manifests.map((m) => [m.kind, m.value.metadata.name])).toEqual([
      ['KdApp', 'spark'],
      ['KdCluster', 'spark-1'],
    ]);
  });

  it('names the document of a multi-document file in its errors', () => {
    const bad = CLUSTER_YAML.replace('members: 3', 'members: -3');
    let error: unknown;
    try {
      parseManifests(`${APP_YAML}---\n${bad}`, 'all.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const v = error as ValidationError;
    expect(v.source).toBe('all.yaml (document 2)');
    expect(v.issues).toEqual([{ path: 'spec.roles[1].members', message: 'members must not be negative, got -3' }]);
    expect(v.message).toBe('all.yaml (document 2): spec.roles[1].members: members must not be negative, got -3');
  });

  it('converts a KubeDirectorApp to a KdApp and lists the fields it drops', () => {
    const kd = {
      apiVersion: 'kubedirector.hpe.com/v1beta1',
      kind: 'KubeDirectorApp',
      metadata: { name: 'spark', namespace: 'kd', uid: 'abc', labels: { a: 'b' } },
      spec: {
        configSchemaVersion: 7,
        capabilities: ['SYS_ADMIN'],
        ...appSpec(),
        roles: [
          { id: 'controller', cardinality: '1', containerSpec: { tty: true } },
          { id: 'worker', cardinality: '2+', minStorage: { size: '20Gi', ephemeralModeSupported: true } },
          {
            id: 'jupyter_nb',
            cardinality: '0+',
            imageRepoTag: 'docker.io/bluedata/jupyter:7',
            blockDevices: { deviceCount: 1 },
          },
        ],
      },
    };
    const [manifest, ...rest] = parseManifests(stringify(kd), 'kd-app.yaml');
    expect(rest).toEqual([]);
    if (manifest?.kind !== 'KdApp') throw new Error('expected a KdApp');
    expect(manifest.value.apiVersion).toBe('kdflow.dev/v1beta1');
    expect(manifest.value.kind).toBe('KdApp');
    expect(manifest.value.metadata).toEqual({ name: 'spark', namespace: 'kd', labels: { a: 'b' } });
    expect(manifest.value.spec.roles.map((r) => [r.id, r.cardinality])).toEqual([
      ['controller', '1'],
      ['worker', '2+'],
      ['jupyter_nb', '0+'],
    ]);
    expect(manifest.value.spec.roles[1]?.minStorage).toEqual({ size: '20Gi', ephemeralModeSupported: true });
    expect(manifest.value.spec.config?.selectedRoles).toEqual(['controller', 'worker', 'jupyter_nb']);
    expect(manifest.value.spec.retry.maximumAttempts).toBe(3);
    // KubeDirector runs --configure once.
    expect(manifest.value.spec.configureAttempts).toBe(1);
    expect(manifest.value.spec.configSchemaVersion).toBe(7);
    expect(manifest.warnings.map((w) => w.path).sort()).toEqual(
      [
        'spec.capabilities',
        'spec.roles[0].containerSpec',
        // minStorage is checked (ADR 0045), so it is no longer warned about.
        'spec.roles[2].blockDevices',
        'spec.services[2].endpoint.hasAuthToken',
        'spec.systemdRequired',
      ].sort(),
    );
    expect(manifest.warnings.find((w) => w.path === 'spec.roles[2].blockDevices')?.message).toMatch(/dropped/);
  });

  it('reports KubeDirectorApp errors with kdflow field paths', () => {
    const kd = {
      apiVersion: 'kubedirector.hpe.com/v1beta1',
      kind: 'KubeDirectorApp',
      metadata: { name: 'spark' },
      spec: { ...appSpec() },
    };
    kd.spec.roles[1].cardinality = 'many';
    expect(() => parseManifests(JSON.stringify(kd), 'kd.json')).toThrowError(
      /^kd\.json: spec\.roles\[1\]\.cardinality: cardinality must be/,
    );
  });

  it('converts a KubeDirectorCluster: storageClassName → storageClass, serviceType onto each role', () => {
    const yaml = `
apiVersion: kubedirector.hpe.com/v1beta1
kind: KubeDirectorCluster
metadata:
  name: spark-1
  namespace: kd
spec:
  app: spark
  appCatalog: local
  serviceType: NodePort
  connections: {}
  roles:
    - id: controller
      members: 1
      resources:
        requests: { cpu: "2", memory: 8Gi }
      storage:
        size: 40Gi
        storageClassName: fast-ssd
      env:
        - name: SPARK_HOME
          value: /opt/spark
    - id: worker
      members: 3
      storage:
        size: 100Gi
      serviceType: LoadBalancer
`;
    const [manifest] = parseManifests(yaml, 'kd-cluster.yaml');
    if (manifest?.kind !== 'KdCluster') throw new Error('expected a KdCluster');
    expect(manifest.value).toEqual({
      apiVersion: 'kdflow.dev/v1beta1',
      kind: 'KdCluster',
      metadata: { name: 'spark-1', namespace: 'kd' },
      spec: {
        app: 'spark',
        appCatalog: 'local',
        connections: {},
        roles: [
          {
            id: 'controller',
            members: 1,
            resources: { requests: { cpu: '2', memory: '8Gi' } },
            storage: { size: '40Gi', storageClass: 'fast-ssd' },
            env: [{ name: 'SPARK_HOME', value: '/opt/spark' }],
            serviceType: 'NodePort',
          },
          // kdflow's own per-role serviceType wins over the cluster's.
          { id: 'worker', members: 3, storage: { size: '100Gi' }, serviceType: 'LoadBalancer' },
        ],
      },
    });
    expect(manifest.warnings.map((w) => w.path)).toEqual(['spec.appCatalog']);
  });

  it('drops and names label fields KubeDirector keeps but defines not', () => {
    const kd = {
      apiVersion: 'kubedirector.hpe.com/v1beta1',
      kind: 'KubeDirectorApp',
      metadata: { name: 'spark' },
      spec: { ...appSpec(), label: { name: 'Spark', description: 'd', icon: 'spark.png' } },
    };
    const [manifest] = parseManifests(JSON.stringify(kd), 'kd.json');
    if (manifest?.kind !== 'KdApp') throw new Error('expected a KdApp');
    expect(manifest.value.spec.label).toEqual({ name: 'Spark', description: 'd' });
    expect(manifest.warnings.map((w) => w.path)).toContain('spec.label.icon');
  });

  it('leaves serviceType unset when a KubeDirectorCluster has none', () => {
    const kd = {
      apiVersion: 'kubedirector.hpe.com/v1beta1',
      kind: 'KubeDirectorCluster',
      metadata: { name: 'c' },
      spec: { app: 'spark', roles: [{ id: 'worker', members: 2 }] },
    };
    const [manifest] = parseManifests(JSON.stringify(kd), 'c.json');
    if (manifest?.kind !== 'KdCluster') throw new Error('expected a KdCluster');
    expect(manifest.value.spec.roles).toEqual([{ id: 'worker', members: 2 }]);
    expect(manifest.warnings).toEqual([]);
  });

  it('lists unknown KubeDirectorCluster storage fields as dropped', () => {
    const kd = {
      apiVersion: 'kubedirector.hpe.com/v1beta1',
      kind: 'KubeDirectorCluster',
      metadata: { name: 'c' },
      spec: { app: 'spark', roles: [{ id: 'worker', storage: { size: '1Gi', volumeMode: 'Block' } }] },
    };
    const [manifest] = parseManifests(JSON.stringify(kd), 'c.json');
    expect(manifest?.warnings.map((w) => w.path)).toEqual(['spec.roles[0].storage.volumeMode']);
  });

  it.each(['KubeDirectorApp', 'KubeDirectorCluster'])(
    'keeps metadata.annotations of a %s or lists them as dropped',
    (kind) => {
      const spec = kind === 'KubeDirectorApp' ? appSpec() : { app: 'spark', roles: [{ id: 'worker', members: 2 }] };
      const kd = {
        apiVersion: 'kubedirector.hpe.com/v1beta1',
        kind,
        metadata: { name: 'spark', annotations: { owner: 'data-team' } },
        spec,
      };
      const [manifest] = parseManifests(JSON.stringify(kd), 'kd.json');
      const kept = manifest?.value.metadata.annotations?.owner === 'data-team';
      const listed = manifest?.warnings.some((d) => d.path.startsWith('metadata.annotations')) ?? false;
      expect(kept || listed).toBe(true);
    },
  );

  interface ErrorCase {
    name: string;
    text: string;
    path: string;
    message: RegExp;
  }

  const errors: ErrorCase[] = [
    {
      name: 'invalid YAML',
      text: 'apiVersion: [unclosed\nkind: KdApp\n',
      path: '',
      message: /^not valid JSON or YAML: /,
    },
    {
      name: 'invalid JSON (unclosed object)',
      text: '{"apiVersion": "kdflow.dev/v1beta1", "kind": "KdApp"',
      path: '',
      message: /^not valid JSON or YAML: /,
    },
    {
      name: 'a wrong apiVersion',
      text: 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n',
      path: 'apiVersion',
      message: /got "apps\/v1" \/ "Deployment"$/,
    },
    {
      name: 'no apiVersion',
      text: 'kind: KdApp\nmetadata: {name: x}\n',
      path: 'apiVersion',
      message: /^expected apiVersion kdflow\.dev\/v1beta1/,
    },
    {
      name: 'a known apiVersion with an unknown kind',
      text: 'apiVersion: kdflow.dev/v1beta1\nkind: KdWidget\n',
      path: 'kind',
      message: /got "kdflow\.dev\/v1beta1" \/ "KdWidget"$/,
    },
    {
      name: 'a KubeDirector apiVersion with an unknown kind',
      text: 'apiVersion: kubedirector.hpe.com/v1beta1\nkind: KubeDirectorConfig\n',
      path: 'kind',
      message: /KubeDirectorConfig/,
    },
    { name: 'an empty file', text: '', path: '', message: /^the file holds no manifest$/ },
    {
      name: 'a file of comments only',
      text: '# nothing\n\n# at all\n',
      path: '',
      message: /^the file holds no manifest$/,
    },
    { name: 'only document separators', text: '---\n---\n', path: '', message: /^the file holds no manifest$/ },
    {
      name: 'a list instead of an object',
      text: '- apiVersion: kdflow.dev/v1beta1\n',
      path: '',
      message: /^a manifest must be an object/,
    },
    { name: 'a bare scalar', text: '42\n', path: '', message: /^a manifest must be an object/ },
  ];

  it.each(errors)('rejects $name', ({ text, path, message }) => {
    let error: unknown;
    try {
      parseManifests(text, 'input.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const v = error as ValidationError;
    expect(v.source).toBe('input.yaml');
    expect(v.message.startsWith('input.yaml: ')).toBe(true);
    expect(v.issues).toHaveLength(1);
    expect(v.issues[0]?.path).toBe(path);
    expect(v.issues[0]?.message).toMatch(message);
  });
});

// ──────────────────────────────────────── values in messages ────────────────────────────────────────

describe('issues name the value the user wrote', () => {
  const cases: { name: string; mutate: (m: Json) => void; path: string; message: string }[] = [
    {
      name: 'an unknown event',
      mutate: (m) => void (m.spec.roles[1].eventList = ['configure', 'reboot']),
      path: 'spec.roles[1].eventList[1]',
      message:
        'got "reboot"; expected one of configure, addnodes, delnodes, upgrade, rollback, reconfigure, restart, postprovision, preterminate',
    },
    {
      name: 'a wrong literal',
      mutate: (m) => void (m.kind = 'KdWidget'),
      path: 'kind',
      message: 'got "KdWidget"; expected "KdApp"',
    },
    {
      name: 'a number for a string',
      mutate: (m) => void (m.spec.version = 3),
      path: 'spec.version',
      message: 'got 3; expected string',
    },
    {
      name: 'a field left out',
      mutate: (m) => void delete m.spec.distroID,
      path: 'spec.distroID',
      message: 'missing; expected string',
    },
    {
      name: 'null for an object',
      mutate: (m) => void (m.spec.label = null),
      path: 'spec.label',
      message: 'got null; expected object',
    },
    {
      name: 'a list for a string',
      mutate: (m) => void (m.spec.distroID = ['a', 'b']),
      path: 'spec.distroID',
      message: 'got ["a","b"]; expected string',
    },
    {
      name: 'a number below the minimum',
      mutate: (m) => void (m.spec.maxParallel = 0),
      path: 'spec.maxParallel',
      message: 'got 0; expected number to be >=1',
    },
    {
      name: 'a number above the maximum',
      mutate: (m) => void (m.spec.services[0].endpoint.port = 70_000),
      path: 'spec.services[0].endpoint.port',
      message: 'got 70000; expected number to be <=65535',
    },
    {
      name: 'a refinement',
      mutate: (m) => void (m.spec.roles[1].cardinality = 'two'),
      path: 'spec.roles[1].cardinality',
      message: 'cardinality must be "N" or "N+" (for example "1", "2+", "0+"), got "two"',
    },
    {
      name: 'a pattern',
      mutate: (m) => void (m.metadata.name = 'Spark'),
      path: 'metadata.name',
      message: `metadata.name must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit), got "Spark"`,
    },
    {
      name: 'a quantity of the wrong type (a union)',
      mutate: (m) => void (m.spec.roles[0].minResources.cpu = true),
      path: 'spec.roles[0].minResources.cpu',
      message: 'got true; expected string or number',
    },
    {
      name: 'a quantity as a number, named as written',
      mutate: (m) => void (m.spec.roles[0].minResources.cpu = -1),
      path: 'spec.roles[0].minResources.cpu',
      message: 'must be a Kubernetes quantity such as 500m, 2 or 4Gi, got -1',
    },
    {
      name: 'a message that already quotes the value',
      mutate: (m) => void (m.spec.config.roleServices[1].roleID = 'ghost'),
      path: 'spec.config.roleServices[1].roleID',
      message: 'unknown role "ghost"',
    },
    {
      name: 'an unknown key (named by the message)',
      mutate: (m) => void (m.spec.colour = 'blue'),
      path: 'spec',
      message: 'Unrecognized key: "colour"',
    },
    {
      name: 'a control character, escaped',
      mutate: (m) => void (m.metadata.name = 'a\u001b[31m'),
      path: 'metadata.name',
      message: `metadata.name must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit), got "a\\u001b[31m"`,
    },
  ];

  it.each(cases)('$name', ({ mutate, path, message }) => {
    const m = appManifest();
    mutate(m);
    expect(issuesOf(KdApp, m)).toContainEqual({ path, message });
  });

  it('cuts a long value and says how long it was', () => {
    expect(describeValue('x'.repeat(1000))).toBe(`"${'x'.repeat(32)}…" (1000 characters)`);
    expect(describeValue({ a: 'y'.repeat(100), b: 1 })).toBe('an object with keys a, b');
    expect(describeValue(Array.from({ length: 30 }, (_, i) => i))).toBe('a list of 30 items');
  });

  it('looks values up by own keys only', () => {
    expect(valueAt({ a: { b: 1 } }, ['a', 'b'])).toEqual({ found: true, value: 1 });
    expect(valueAt({ a: {} }, ['a', 'b'])).toEqual({ found: true, value: undefined });
    expect(valueAt({}, ['constructor', 'name'])).toEqual({ found: false });
    expect(valueAt({}, ['toString'])).toEqual({ found: true, value: undefined });
  });

  it('names the value in a change the workflow and the CLI check (checkChange)', () => {
    const app = KdAppSpec.parse(appSpec());
    const current: KdClusterSpec = {
      app: 'spark',
      roles: [
        { id: 'controller', members: 1 },
        { id: 'worker', members: 2 },
      ],
    };
    const checked = checkChange(
      'spark-1',
      current,
      {
        app: 'spark',
        roles: [
          { id: 'controller', members: 1 },
          { id: 'worker', members: 'many' },
        ],
      },
      app,
    );
    expect(checked.issues).toEqual([{ path: 'spec.roles[1].members', message: 'got "many"; expected number' }]);
  });
});

// ──────────────────────────────────────── names and prototypes ──────────────────────────────────────

describe('names that could reach Object.prototype', () => {
  const app = KdAppSpec.parse({
    ...appSpec(),
    roles: [
      { id: 'constructor', cardinality: '1+' },
      { id: 'worker', cardinality: '0+' },
    ],
    config: undefined,
  });
  const spec: KdClusterSpec = {
    app: 'spark',
    roles: [
      { id: 'constructor', members: 1 },
      { id: 'worker', members: 1 },
    ],
  };

  it('a role named "constructor" resizes like any other, and is left alone when not named', () => {
    expect(checkChange('c', spec, resizedSpec(spec, { worker: 3 }), app)).toEqual({
      spec: {
        app: 'spark',
        roles: [
          { id: 'constructor', members: 1 },
          { id: 'worker', members: 3 },
        ],
      },
      issues: [],
    });
    expect(checkChange('c', spec, resizedSpec(spec, { constructor: 2 }), app)).toMatchObject({ issues: [] });
  });

  it('a "__proto__" key in a resize (a JSON payload) becomes a role the rules refuse by name', () => {
    const payload = JSON.parse('{"__proto__": 3}') as Record<string, number>;
    const checked = checkChange('c', spec, resizedSpec(spec, payload), app);
    expect(checked.issues).toEqual([
      { path: 'spec.roles[2].id', message: 'role id must not be "__proto__" (a name reserved by JavaScript)' },
    ]);
  });

  it.each([
    [
      'a role id',
      (m: Json) => void (m.spec.roles[0].id = '__proto__'),
      'spec.roles[0].id',
      'role id must not be "__proto__" (a name reserved by JavaScript)',
    ],
    [
      'an env name',
      (m: Json) => void (m.spec.roles[0].env[0].name = '__proto__'),
      'spec.roles[0].env[0].name',
      'env name must not be "__proto__" (a name reserved by JavaScript)',
    ],
    [
      'a metadata.name',
      (m: Json) => void (m.metadata.name = '__proto__'),
      'metadata.name',
      'metadata.name must not be "__proto__" (a name reserved by JavaScript)',
    ],
  ])('refuses "__proto__" as %s, with one issue that says why', (_what, mutate, path, message) => {
    const m = clusterManifest();
    mutate(m);
    expect(issuesOf(KdCluster, m).filter((i) => i.path === path)).toEqual([{ path, message }]);
  });

  it('writes a role named "constructor" into configmeta like any other', () => {
    const member = { name: 'c-constructor-0', fqdn: 'c-constructor-0.c.ns.svc.cluster.local', ordinal: 0 };
    const meta = JSON.parse(
      JSON.stringify(
        buildConfigmeta(
          {
            namespace: 'ns',
            cluster: 'c',
            clusterId: 'id',
            app: app,
            roles: [{ id: 'constructor', ordinals: [[0, 0]] }],
          },
          member.name,
        ),
      ),
    );
    expect(meta.nodegroups['1'].roles.constructor).toMatchObject({ node_ids: ['1'], fqdns: [member.fqdn] });
    expect(meta.node.role_id).toBe('constructor');
  });

  it('keeps "constructor" a valid name (Kubernetes and KubeDirector accept it)', () => {
    const m = clusterManifest();
    m.metadata.name = 'constructor';
    m.spec.roles[1].id = 'constructor';
    expect(parseOrThrow(KdCluster, m).metadata.name).toBe('constructor');
  });
});
