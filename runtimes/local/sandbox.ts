/**
 * A local member that looks like a pod (docs/adr/0046-pod-like-member-sandbox.md): its own hostname
 * (a UTS namespace), an address of its own that every member's /etc/hosts names with its FQDN and
 * short name, a private /tmp and its persistDirs at their guest paths.
 *
 * The network, chosen once per process (KDFLOW_MEMBER_NETWORK = auto | namespace | loopback):
 * - `namespace`: a network namespace per member (the keep-alive's), joined by a veth pair to a bridge
 *   in a namespace of the cluster's own (`ip netns`), so two members can both bind 0.0.0.0:PORT and
 *   reach each other by FQDN. Nothing changes in the host's network namespace. Needs root and `ip`.
 * - `loopback`: the host's network, one 127.x.y.z address per member: a service that binds its own
 *   address (or its FQDN) is apart from the others; two that bind 0.0.0.0:PORT collide, as on one host.
 * - `host`: no namespaces at all (tracked containment): no hostname, no /etc/hosts, no mounts.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError } from '../errors.ts';
import { ClusterHosts } from './cluster-hosts.ts';
import type { ContainmentMode } from '../containment.ts';
import { spawnCaptured } from '../spawner.ts';
import { hostSystemDir } from '../../api/persist-dirs.ts';
import type { MemberSpec, MemberTarget } from '../runtime.ts';

export type NetworkSetting = 'auto' | 'namespace' | 'loopback';
export type NetworkMode = 'namespace' | 'loopback' | 'host';

export interface Network {
  mode: NetworkMode;
  /** Why this mode: the setting, or what the machine does not allow. */
  reason: string;
}

export function networkSetting(raw = process.env.KDFLOW_MEMBER_NETWORK || 'auto'): NetworkSetting {
  if (raw === 'auto' || raw === 'namespace' || raw === 'loopback') return raw;
  throw new RuntimeError(
    'RuntimeFailure',
    `KDFLOW_MEMBER_NETWORK must be auto, namespace or loopback, not "${raw}"`,
    true,
  );
}

export function resolveNetwork(setting: NetworkSetting, containment: ContainmentMode): Network {
  if (containment === 'tracked') {
    if (setting === 'namespace')
      throw new RuntimeError(
        'RuntimeFailure',
        'KDFLOW_MEMBER_NETWORK=namespace needs a pid namespace per member',
        true,
      );
    return { mode: 'host', reason: 'members have no namespaces here (tracked containment)' };
  }
  if (setting === 'loopback') return { mode: 'loopback', reason: 'KDFLOW_MEMBER_NETWORK=loopback' };
  const support = networkNamespaceSupport();
  if (support.available)
    return {
      mode: 'namespace',
      reason:
        setting === 'namespace'
          ? 'KDFLOW_MEMBER_NETWORK=namespace'
          : 'network namespaces and veth pairs are allowed here',
    };
  if (setting === 'namespace')
    throw new RuntimeError('RuntimeFailure', `KDFLOW_MEMBER_NETWORK=namespace but ${support.reason}`, true);
  return { mode: 'loopback', reason: support.reason ?? 'a network namespace per member is not allowed here' };
}

let probed: { available: boolean; reason?: string } | undefined;

/** Probed once per process, for real: a named namespace with a bridge, and a veth pair into a second namespace. */
export function networkNamespaceSupport(): { available: boolean; reason?: string } {
  probed ??= probe();
  return probed;
}

function probe(): { available: boolean; reason?: string } {
  if (process.geteuid?.() !== 0) return { available: false, reason: 'a network namespace per member needs root' };
  const hub = `kdflow-probe-${process.pid}`;
  const run = (args: string[], input?: string) => spawnSync('ip', args, { encoding: 'utf8', input });
  try {
    const added = run(['netns', 'add', hub]);
    if (added.error) return { available: false, reason: `ip (iproute2) is not available (${added.error.message})` };
    if (added.status !== 0) return { available: false, reason: `ip netns add failed: ${added.stderr.trim()}` };
    // The member's end lives as long as its namespace: the bridge is joined before the namespace ends.
    const member = spawnSync(
      'unshare',
      [
        '--net',
        'sh',
        '-c',
        'ip link add p0 netns "$1" type veth peer name eth0 && ip link set eth0 up && ip -n "$1" link add br0 type bridge && ip -n "$1" link set p0 master br0',
        'probe',
        hub,
      ],
      { encoding: 'utf8' },
    );
    if (member.error || member.status !== 0)
      return {
        available: false,
        reason: `a veth pair to a bridge in another network namespace failed: ${(member.stderr || member.error?.message || '').trim()}`,
      };
    return { available: true };
  } finally {
    run(['netns', 'del', hub]);
  }
}

/** The cluster's network namespace (namespace mode): one per KDFLOW_HOME, namespace and cluster. */
export function hubName(clusterDir: string): string {
  return `kdflow-${createHash('sha256').update(clusterDir).digest('hex').slice(0, 12)}`;
}

/** The hub's end of a member's veth pair: ≤ 15 characters, as Linux wants. */
function hubLink(memberRoot: string): string {
  return `k${createHash('sha256').update(memberRoot).digest('hex').slice(0, 12)}`;
}

const NETNS_PREFIX = 16;

/**
 * The i-th address: in a namespace, 10.250.0.0/16 of the cluster's own network; on the loopback,
 * a 127.0.0.0/8 address that starts where the cluster's hash says (so two clusters seldom meet),
 * never 127.0.0.x (127.0.0.1 is the host's localhost).
 */
export function addressOf(mode: Exclude<NetworkMode, 'host'>, clusterDir: string, i: number): string {
  if (mode === 'namespace') {
    const n = i + 2;
    if (n > 0xfffe) throw new RuntimeError('RuntimeFailure', 'no address is left in the cluster network 10.250.0.0/16');
    return `10.250.${n >> 8}.${n & 255}`;
  }
  const start = createHash('sha256').update(clusterDir).digest().readUIntBE(0, 3);
  const span = 0xffffff - 0x100;
  const n = 0x100 + ((start + i) % span);
  return `127.${n >> 16}.${(n >> 8) & 255}.${n & 255}`;
}

/** Directories under the member's root that stand in for guest paths. */
const TMP = 'tmp';

export class Sandbox {
  readonly network: Network;
  private readonly hubs = new Map<string, Promise<void>>();
  /** Where to look for a free address first: a launch of N members claims in O(N), not O(N²). */
  private readonly nextFree = new Map<string, number>();
  /** Every cluster's `.hosts`, edited one change at a time (members come and go in parallel lanes). */
  private readonly hosts = new ClusterHosts();
  constructor(network: Network) {
    this.network = network;
  }

  /** The keep-alive's extra namespaces: its own hostname always, its own network in namespace mode. */
  unshareFlags(): string[] {
    if (this.network.mode === 'host') return [];
    return this.network.mode === 'namespace' ? ['--uts', '--net'] : ['--uts'];
  }

  /** What `nsenter` adds to enter the member's hostname and network with its pid namespace. */
  nsenterFlags(keepAlivePid: number): string[] {
    if (this.network.mode === 'host') return [];
    const uts = `--uts=/proc/${keepAlivePid}/ns/uts`;
    return this.network.mode === 'namespace' ? [uts, `--net=/proc/${keepAlivePid}/ns/net`] : [uts];
  }

  /** The member's own files: its /tmp (world-writable and sticky, as a container's). */
  async prepare(root: string): Promise<void> {
    if (this.network.mode === 'host') return;
    await mkdir(path.join(root, TMP), { recursive: true });
    await chmod(path.join(root, TMP), 0o1777);
  }

  /**
   * Once the keep-alive's namespaces are up: the member's address (claimed once, kept for its life),
   * its hostname, and in namespace mode its link to the cluster's bridge. Done again only when the
   * keep-alive changed (`.kdflow/sandbox` names the one it was done for), so a worker killed midway
   * leaves nothing half done for good.
   */
  async up(member: MemberSpec, root: string, clusterDir: string, keepAlivePid: number, enter: string[]): Promise<void> {
    if (this.network.mode === 'host') return;
    const marker = path.join(root, '.kdflow', 'sandbox');
    if ((await readFile(marker, 'utf8').catch(() => '')).trim() === String(keepAlivePid)) return;
    const address = await this.claim(member, clusterDir);
    if (this.network.mode === 'namespace') {
      const hub = hubName(clusterDir);
      await this.hub(hub, clusterDir);
      const link = hubLink(root);
      await ip(['-n', hub, 'link', 'del', link]).catch(() => undefined);
      await ip([
        'link',
        'add',
        link,
        'netns',
        hub,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        String(keepAlivePid),
      ]);
      await ip(['-n', hub, 'link', 'set', link, 'master', 'br0', 'up']);
    }
    const config =
      this.network.mode === 'namespace'
        ? `addr add ${address}/${NETNS_PREFIX} dev eth0\nlink set eth0 up\nlink set lo up\n`
        : '';
    await run([...enter, 'sh', '-c', MEMBER_UP, 'kdflow-sandbox', member.name, config], member.name);
    await writeFile(marker, `${keepAlivePid}\n`);
  }

  /** The cluster's namespace and bridge, made once (a second worker's `netns add` finds it there). */
  private hub(hub: string, clusterDir: string): Promise<void> {
    let made = this.hubs.get(hub);
    if (!made) {
      made = (async () => {
        await collectOrphanHubs();
        await mkdir(HUB_REGISTRY, { recursive: true, mode: 0o700 });
        await writeFile(path.join(HUB_REGISTRY, hub), `${clusterDir}\n`, { mode: 0o600 });
        await ip(['netns', 'add', hub]).catch((error: Error) => {
          if (!/exists/i.test(error.message)) throw error;
        });
        await ip(['-n', hub, 'link', 'add', 'br0', 'type', 'bridge']).catch((error: Error) => {
          if (!/exists/i.test(error.message)) throw error;
        });
        await ip(['-n', hub, 'link', 'set', 'br0', 'up']);
        await ip(['-n', hub, 'link', 'set', 'lo', 'up']);
      })();
      made.catch(() => this.hubs.delete(hub));
      this.hubs.set(hub, made);
    }
    return made;
  }

  /**
   * The member's address: a claim file `<cluster>/.addresses/<address>` made with O_EXCL (so two
   * workers never take one address), holding the member's /etc/hosts line, which is also appended to
   * the cluster's `.hosts` (runtimes/local/cluster-hosts.ts), so a script run reads one file, not
   * one a member.
   */
  private async claim(member: MemberTarget, clusterDir: string): Promise<string> {
    const mode = this.network.mode as Exclude<NetworkMode, 'host'>;
    const dir = path.join(clusterDir, ADDRESSES);
    const owners = path.join(clusterDir, OWNERS);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await mkdir(owners, { recursive: true, mode: 0o700 });
    const line = `${member.fqdn} ${member.name}\n`;
    // Kept beside the member's directory, so a member re-created under its name keeps its address.
    const mine = path.join(owners, member.name);
    const kept = (await readFile(mine, 'utf8').catch(() => '')).trim();
    const hosts = path.join(clusterDir, HOSTS);
    if (kept && (await readFile(path.join(dir, kept), 'utf8').catch(() => '')) === `${kept} ${line}`) {
      // A worker lost between the claim and the append: the line is added now.
      await this.hosts.add(hosts, `${kept} ${line}`, true);
      return kept;
    }
    const taken = new Set(await readdir(dir));
    for (let i = this.nextFree.get(clusterDir) ?? 0; ; i++) {
      const address = addressOf(mode, clusterDir, i);
      if (taken.has(address)) continue;
      const file = await open(path.join(dir, address), 'wx', 0o600).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') return undefined;
        throw error;
      });
      if (!file) continue;
      try {
        await file.writeFile(`${address} ${line}`);
      } finally {
        await file.close();
      }
      this.nextFree.set(clusterDir, i + 1);
      await this.hosts.add(hosts, `${address} ${line}`);
      await writeFile(mine, `${address}\n`);
      return address;
    }
  }

  /** A removed member's address is free again. */
  async release(member: Pick<MemberTarget, 'name'>, clusterDir: string): Promise<void> {
    const mine = path.join(clusterDir, OWNERS, member.name);
    const kept = (await readFile(mine, 'utf8').catch(() => '')).trim();
    if (/^[0-9.]+$/.test(kept)) {
      // The line goes before the claim: an address is taken again only once no line names it.
      await this.hosts.drop(path.join(clusterDir, HOSTS), kept);
      await rm(path.join(clusterDir, ADDRESSES, kept), { force: true });
      this.nextFree.delete(clusterDir);
    }
    await rm(mine, { force: true });
  }

  /** The cluster's namespace goes with the cluster. */
  async removeCluster(clusterDir: string): Promise<void> {
    if (this.network.mode !== 'namespace') return;
    const hub = hubName(clusterDir);
    this.hubs.delete(hub);
    await ip(['netns', 'del', hub]).catch(() => undefined);
    await rm(path.join(HUB_REGISTRY, hub), { force: true });
  }

  /** The persistDirs the scripts see at their guest paths, written at ensure: a script's prefix reads them. */
  async recordPersistDirs(root: string, persistDirs: string[]): Promise<void> {
    if (this.network.mode === 'host') return;
    const dirs = mountablePersistDirs(persistDirs);
    for (const dir of dirs) await mkdir(path.join(root, dir), { recursive: true });
    await writeFile(path.join(root, '.kdflow', PERSIST_FILE), dirs.map((d) => `${d}\n`).join(''));
  }

  /**
   * The guest-mount options (runtimes/guest-mount.sh) that make the script's view a pod's: persistDirs
   * at their guest paths (but the host's system directories), a private /tmp, /etc/hosts and
   * /etc/hostname. [] in host mode.
   */
  mountArgs(member: MemberTarget, root: string, clusterDir: string, home: string): string[] {
    if (this.network.mode === 'host') return [];
    return [
      // kdflow's home stays where it is (a KDFLOW_HOME under /tmp, as in tests): the member's files,
      // and what a test or an app author's script keeps beside them.
      '--root',
      home,
      '--hosts',
      path.join(clusterDir, HOSTS),
      path.join(root, '.kdflow', 'hosts'),
      member.name,
      '--persist',
      root,
      path.join(root, '.kdflow', PERSIST_FILE),
      '--bind',
      path.join(root, TMP),
      '/tmp',
    ];
  }
}

const PERSIST_FILE = 'persist-dirs';
/**
 * Which cluster directory each cluster namespace is for. A namespace outlives a cluster whose
 * directory was removed without `removeCluster` (a KDFLOW_HOME removed by hand, a test's teardown):
 * the next namespace made on this machine deletes those first.
 */
const HUB_REGISTRY = '/run/kdflow/cluster-networks';

async function collectOrphanHubs(): Promise<void> {
  const hubs = await readdir(HUB_REGISTRY).catch(() => [] as string[]);
  for (const hub of hubs) {
    if (!/^kdflow-[0-9a-f]{12}$/.test(hub)) continue;
    const dir = (await readFile(path.join(HUB_REGISTRY, hub), 'utf8').catch(() => '')).trim();
    if (dir && (await stat(dir).catch(() => undefined))) continue;
    await ip(['netns', 'del', hub]).catch(() => undefined);
    await rm(path.join(HUB_REGISTRY, hub), { force: true });
  }
}

const ADDRESSES = '.addresses';
/** `<cluster>/.hosts`: every member's /etc/hosts line. */
const HOSTS = '.hosts';
/** `<cluster>/.address-of/<member>`: the member's address. */
const OWNERS = '.address-of';

/** persistDirs the local runtime mounts: not the host's system directories, outermost first. */
export function mountablePersistDirs(dirs: string[]): string[] {
  // /tmp is the member's own already, and what lies under it with it.
  return dirs
    .filter((dir) => !hostSystemDir(dir) && dir !== '/tmp' && !dir.startsWith('/tmp/'))
    .sort((a, b) => a.length - b.length);
}

/**
 * Inside the member's namespaces (nsenter): its hostname, and in namespace mode its addresses and
 * links (an `ip -batch`). Usage: kdflow-sandbox HOSTNAME IP_BATCH
 */
const MEMBER_UP = `printf '%s' "$1" > /proc/sys/kernel/hostname || exit 1
[ -z "$2" ] || printf '%s' "$2" | ip -b - || exit 1`;

async function ip(args: string[]): Promise<void> {
  await run(['ip', ...args], 'ip');
}

/** Through the spawner (docs/adr/0012): a fork from the worker would block its event loop. */
async function run(argv: string[], what: string): Promise<void> {
  const [command, ...args] = argv as [string, ...string[]];
  const fail = (why: string) =>
    new RuntimeError('RuntimeFailure', `sandbox of ${what}: ${argv.slice(0, 4).join(' ')} … failed: ${why}`);
  const started = await spawnCaptured({ command, args, cwd: '/' }).catch((error: Error) => {
    throw fail(error.message);
  });
  const ended = await started.ended;
  if (ended.code !== 0) throw fail(ended.stderr.toString('utf8').trim() || `exit ${ended.code ?? ended.signal}`);
}
