/**
 * The configcli-compatible helper (runtimes/guest/ccli) as members get it: unpacked from the guest
 * tools archive, run by dash and by busybox sh, with mawk and busybox awk, against configmeta files.
 * Expected answers follow configcli's rules (bluek8s/configcli): references followed, lists and
 * objects comma-joined, booleans true/false, a missing key exit 1, an unsupported option exit 2.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildConfigmeta, type Topology } from '../../api/configmeta.ts';
import { KdAppSpec } from '../../api/index.ts';
import { unpackPackage } from '../../runtimes/config-package.ts';
import { GUEST_BIN_DIR, guestToolsArchive } from '../../runtimes/guest-tools.ts';
import { GUESTCONFIG_DIR } from '../../runtimes/runtime.ts';

const FIXTURE = new URL('../fixtures/kubedirector/configmeta-restserver-1.json', import.meta.url).pathname;
const has = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

/** Shells and awks to run the helper with: every one this machine has (dash and mawk at least, on Debian). */
const SHELLS = [['dash'], ...(has('busybox') ? [['busybox', 'sh']] : [])];
const AWKS = ['mawk', ...(has('busybox') ? ['busybox'] : [])];

let bin: string;
const awkDirs = new Map<string, string>();

beforeAll(async () => {
  const work = await mkdtemp(path.join(os.tmpdir(), 'kdflow-ccli-'));
  const guestconfig = path.join(work, 'opt', 'guestconfig');
  await unpackPackage(await guestToolsArchive(path.join(work, 'tools')), guestconfig);
  bin = path.join(guestconfig, path.relative(GUESTCONFIG_DIR, GUEST_BIN_DIR));
  // A PATH directory whose `awk` is the one under test.
  for (const awk of AWKS) {
    const dir = path.join(work, `awk-${awk}`);
    execFileSync('mkdir', ['-p', dir]);
    await symlink(execFileSync('sh', ['-c', `command -v ${awk}`], { encoding: 'utf8' }).trim(), path.join(dir, 'awk'));
    awkDirs.set(awk, dir);
  }
});

function run(shell: string[], awk: string, name: string, args: string[], configmeta = FIXTURE) {
  const result = spawnSync(shell[0] as string, [...shell.slice(1), path.join(bin, name), ...args], {
    encoding: 'utf8',
    env: { PATH: `${awkDirs.get(awk)}:/usr/bin:/bin`, CONFIGMETA: configmeta },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const R = (o: number) => `ubuntu18-04-restserver-${o}.ubuntu18-04.kd.svc.cluster.local`;
const CONTROLLER = 'ubuntu18-04-controller-0.ubuntu18-04.kd.svc.cluster.local';

/** [helper name, argv, stdout without its newline] */
const ANSWERS: [string, string[], string][] = [
  ['ccli', ['--get', 'node.role_id'], 'RESTServer'],
  ['ccli', ['-g', 'node.id'], '3'],
  ['configcli', ['--get', 'node'], 'role_id,nodegroup_id,id,hostname,fqdn,domain,distro_id,depends_on'],
  ['bdvcli', ['--get', 'version'], '8'],
  ['bd_vcli', ['--get', 'cluster.name'], 'ubuntu18.04'],
  ['ccli', ['--get', 'cluster.isolated'], 'false'],
  ['ccli', ['--get', `distros.bluedata/spark245.1.roles.RESTServer.fqdns`], [R(0), R(1), R(3)].join(',')],
  ['ccli', ['--get', 'distros.bluedata/spark245.1.roles'], 'RESTServer,controller'],
  ['ccli', ['--get', 'nodegroups.1.roles.RESTServer.node_ids'], '2,3,7'],
  ['ccli', ['--get', `nodegroups.1.roles.RESTServer.fqdn_mappings`], [R(0), R(1), R(3)].join(',')],
  ['ccli', ['--get', 'services.ssh.1'], 'RESTServer,controller'],
  ['ccli', ['--get', 'services.spark.1.controller.endpoints'], `spark://${CONTROLLER}:7077`],
  ['ccli', ['--get', 'services.ssh.1.RESTServer.fqdns'], [R(0), R(1), R(3)].join(',')],
  ['ccli', ['--get', 'services.jupyter.1.controller.endpoints'], ''],
  ['ccli', ['--get', 'services.jupyter.1.controller.exported_service'], 'jupyter-nb'],
  ['ccli', ['--get', 'cluster.config_metadata.1.zeta'], '1'],
  ['ccli', ['--get', 'cluster.config_metadata.1'], 'alpha,zeta'],
  ['ccli', ['--get', 'nodegroups.1.roles.RESTServer.secret_keys.password'], 's3cret'],
  ['ccli', ['--get', 'nodegroups.1.roles.controller.flavor.memory'], '4096'],
  ['ccli', ['namespace', 'node', 'fqdn'], R(1)],
  ['ccli', ['namespace', 'distros', 'bluedata/spark245.1.distro_id'], 'bluedata/spark245'],
  ['ccli', ['--get_all_fqdns'], [R(0), R(1), R(3), CONTROLLER].join(',')],
  ['ccli', ['macro', 'node', '--get_self_id'], '3'],
  ['configmacro', ['node', '--get_self_id'], '3'],
  ['configmacro', ['node', '--get_self_index'], '2'],
  ['configmacro', ['node', '--get_id', CONTROLLER], '1'],
  ['configmacro', ['node', '--get_index', R(3)], '3'],
  ['configmacro', ['nodegroup', '--num_nodegroups'], '1'],
  ['configmacro', ['nodegroup', '--get_local_group_fqdns'], [R(0), R(1), R(3), CONTROLLER].join(',')],
  ['configmacro', ['nodegroup', '--get_nodegroup_fqdns', '1'], [R(0), R(1), R(3), CONTROLLER].join(',')],
];

/** [helper name, argv, exit code, stderr] */
const REFUSALS: [string, string[], number, RegExp][] = [
  ['ccli', ['--get', 'node.nope'], 1, /^ccli: no such key: node\.nope$/m],
  ['ccli', ['--get', 'node.id.more'], 1, /no such key/],
  [
    'configmacro',
    ['node', '--get_id', 'nobody.example'],
    1,
    /Failed to get node Id for the given FQDN nobody\.example/,
  ],
  ['configmacro', ['nodegroup', '--get_nodegroup_fqdns', '2'], 1, /No nodegroup 2 found/],
  // Token waits run only in a script kdflow runs (docs/adr/0047); their names are checked first.
  ['ccli', ['--tokenwait', 'ready', '--fqdn', CONTROLLER], 2, /only in a script kdflow runs \(no KDFLOW_RUN_ID\)/],
  ['ccli', ['--tokenwake', 'bad/token'], 2, /a token is 1 to 64 of A-Z a-z 0-9 \. _ -, not "bad\/token"/],
  ['ccli', ['--tokenwait', 'ready', '-t', 'soon'], 2, /--timeout is a number of seconds, not "soon"/],
  ['ccli', ['--tokenwait', 'a', '--tokenwake', 'b'], 2, /give one of --tokenwake, --tokenwait and --wait/],
  ['ccli', ['--wait', 'services.x'], 2, /only in a script kdflow runs/],
  ['ccli', ['--tokenwake', 'kdflow.configured'], 2, /tokens named kdflow\.\* are kdflow's own/],
  ['ccli', ['--cp', '--node', 'x'], 2, /--cp is not supported by kdflow$/m],
  ['configmacro', ['node'], 2, /at least one option/],
  ['ccli', [], 2, /usage: ccli --get KEY/],
];

describe.each(SHELLS)('ccli under %s', (...shell) => {
  describe.each(AWKS)('with %s awk', (awk) => {
    it.each(ANSWERS)('%s %j', (name, args, expected) => {
      const { code, stdout, stderr } = run(shell, awk, name, args);
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(stdout).toBe(`${expected}\n`);
    });

    it.each(REFUSALS)('%s %j refuses', (name, args, exit, message) => {
      const { code, stdout, stderr } = run(shell, awk, name, args);
      expect(code).toBe(exit);
      expect(stdout).toBe('');
      expect(stderr).toMatch(message);
    });
  });
});

describe('ccli on what kdflow writes', () => {
  it('answers for 1,000 members, and says where it looked when there is no configmeta', async () => {
    const app = KdAppSpec.parse({
      label: { name: 'big' },
      distroID: 'big',
      version: '1',
      defaultImageRepoTag: 'x',
      roles: [
        { id: 'head', cardinality: '1' },
        { id: 'worker', cardinality: '1+' },
      ],
    });
    const topology: Topology = {
      namespace: 'ns',
      cluster: 'big',
      clusterId: 'id',
      app,
      roles: [
        { id: 'head', ordinals: [[0, 0]] },
        { id: 'worker', ordinals: [[0, 998]] },
      ],
    };
    const work = await mkdtemp(path.join(os.tmpdir(), 'kdflow-ccli-big-'));
    const file = path.join(work, 'configmeta.json');
    await writeFile(file, JSON.stringify(buildConfigmeta(topology, 'big-worker-500'), null, 2));
    for (const awk of AWKS) {
      expect(run(['dash'], awk, 'ccli', ['--get', 'node.id'], file).stdout).toBe('502\n');
      const all = run(['dash'], awk, 'configmacro', ['nodegroup', '--get_all_fqdns'], file).stdout.trim().split(',');
      expect(all).toHaveLength(1000);
      expect(all[0]).toBe('big-head-0.big.ns.svc.cluster.local');
      expect(run(['dash'], awk, 'configmacro', ['node', '--get_self_index'], file).stdout).toBe('501\n');
    }
    const missing = run(['dash'], 'mawk', 'ccli', ['--get', 'node.id'], path.join(work, 'none.json'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no configmeta at .*none\.json/);
  });
});

describe('ccli on connections (docs/adr/0044)', () => {
  it('reads a connected cluster through its prefixed references, and connected objects as configcli merges them', async () => {
    const app = (distroID: string, role: string) =>
      KdAppSpec.parse({
        label: { name: distroID },
        distroID,
        version: '1',
        defaultImageRepoTag: 'x',
        services: [{ id: 'http', label: { name: 'HTTP' }, endpoint: { urlScheme: 'http', port: 80 } }],
        roles: [{ id: role, cardinality: '1+' }],
        config: { roleServices: [{ roleID: role, serviceIDs: ['http'] }], selectedRoles: [role] },
      });
    const own: Topology = {
      namespace: 'ns',
      cluster: 'web',
      clusterId: 'a',
      app: app('web', 'front'),
      roles: [{ id: 'front', ordinals: [[0, 0]] }],
    };
    const store: Topology = {
      namespace: 'ns',
      cluster: 'db',
      clusterId: 'b',
      app: app('dbapp', 'primary'),
      roles: [{ id: 'primary', ordinals: [[0, 1]] }],
    };
    const object = (mode: string) => ({ metadata: { name: mode }, data: { mode }, labels: {}, annotations: {} });
    const meta = buildConfigmeta(own, 'web-front-0', {
      clusters: { db: store },
      configmaps: { settings: [object('slow'), object('fast')] },
      secrets: {},
    });
    const work = await mkdtemp(path.join(os.tmpdir(), 'kdflow-ccli-conn-'));
    const file = path.join(work, 'configmeta.json');
    await writeFile(file, JSON.stringify(meta));
    const db = (o: number) => `db-primary-${o}.db.ns.svc.cluster.local`;
    for (const awk of AWKS) {
      const get = (key: string) => run(['dash'], awk, 'ccli', ['--get', key], file).stdout.trim();
      expect(get('connections.clusters.db.distros.dbapp.1.roles.primary.fqdns')).toBe(`${db(0)},${db(1)}`);
      expect(get('connections.clusters.db.services.http.1.primary.fqdns')).toBe(`${db(0)},${db(1)}`);
      expect(get('connections.clusters.db.nodegroups.1.roles.primary.services.http.endpoints')).toBe(
        `http://${db(0)}:80,http://${db(1)}:80`,
      );
      // A list of objects reads as one, the later winning, as configcli merges it.
      expect(get('connections.configmaps.settings.data.mode')).toBe('fast');
      // The member's own cluster is untouched by its connections.
      expect(get('distros.web.1.roles.front.fqdns')).toBe('web-front-0.web.ns.svc.cluster.local');
    }
  });
});
