/**
 * A local member that looks like a pod (docs/adr/0046): its hostname, every member's FQDN in its
 * /etc/hosts, its own network (two members bind 0.0.0.0 on one port and reach each other by FQDN),
 * a private /tmp and persistDirs at their guest paths. Real processes and namespaces; in both
 * network modes this machine allows.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memberFqdn } from '../../api/index.ts';
import { preparePackage } from '../../runtimes/config-package.ts';
import { pidNamespaceSupport } from '../../runtimes/containment.ts';
import { guestMountSupport } from '../../runtimes/guest-mounts.ts';
import { LocalRuntime } from '../../runtimes/local.ts';
import { hubName, networkNamespaceSupport, type NetworkSetting } from '../../runtimes/local/sandbox.ts';
import type { MemberSpec } from '../../runtimes/runtime.ts';
import { runScript } from '../../runtimes/script/protocol.ts';

const control = { signal: new AbortController().signal, heartbeat: () => {} };
const canSandbox = pidNamespaceSupport().available && guestMountSupport().available;

/**
 * The script: writes what the member sees to /opt/guestconfig, then does what $1 says. The server
 * and client are perl (perl-base is on every Debian machine), the server a daemon as a configure
 * script would start one.
 */
const SERVE = `use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalAddr => $ARGV[0], LocalPort => 47311,
  Listen => 5, ReuseAddr => 1) or die "bind $ARGV[0]: $!"; open(my $f, ">", $ARGV[2]); close $f;
  while (my $c = $s->accept) { print $c "hello from $ARGV[1]\\n"; close $c }`;
const DIAL = `use IO::Socket::INET; my $c = IO::Socket::INET->new(PeerAddr => $ARGV[0], PeerPort => 47311)
  or die "connect $ARGV[0]: $!"; print scalar <$c>`;
const SCRIPT = `#!/bin/sh
out=/opt/guestconfig
case $1 in
  look)
    hostname > $out/hostname
    getent hosts "$2" > $out/peer || echo none > $out/peer
    ls -A /tmp > $out/tmp-before
    echo mine > /tmp/private-file
    echo kept > /data/app/file
    [ -e /usr/share/kdflow-probe ] && echo usr-mounted > $out/usr || echo usr-host > $out/usr ;;
  listen)
    # Both members bind 0.0.0.0 on one port (namespace mode), or their own address (loopback mode).
    rm -f $out/listening
    setsid perl -e '${SERVE}' "$2" "$(hostname)" $out/listening > $out/serve.log 2>&1 < /dev/null &
    # The peer connects next: wait until this one listens (or its server died).
    while [ ! -e $out/listening ] && kill -0 $! 2> /dev/null; do sleep 0.05; done
    [ -e $out/listening ] || { cat $out/serve.log >&2; exit 1; } ;;
  dial)
    perl -e '${DIAL}' "$2" > $out/dialed ;;
esac
`;

function spec(cluster: string, name: string): MemberSpec {
  return {
    namespace: 'sb',
    cluster,
    name,
    role: 'r',
    ordinal: 0,
    fqdn: memberFqdn(name, cluster, 'sb'),
    image: 'local',
    persistDirs: ['/data/app', '/usr/share/kdflow-probe'],
  };
}

// Root here: a network namespace per member is allowed, so the namespace mode must run rather than be skipped.
it.runIf(canSandbox && process.geteuid?.() === 0)('a network namespace per member is allowed on this machine', () => {
  expect(networkNamespaceSupport()).toEqual({ available: true });
});

describe.runIf(canSandbox).each([
  { network: 'namespace' as NetworkSetting, runs: networkNamespaceSupport().available },
  { network: 'loopback' as NetworkSetting, runs: true },
])('a member looks like a pod ($network network)', ({ network, runs }) => {
  const cluster = `pod-${network}`;
  const a = spec(cluster, `${cluster}-a-0`);
  const b = spec(cluster, `${cluster}-b-0`);
  let home: string;
  let runtime: LocalRuntime;
  let runs0 = 0;

  const run = async (m: MemberSpec, ...argv: string[]) => {
    const result = await runScript(
      runtime,
      m,
      { runId: `sb/${m.name}/${runs0++}`, event: 'configure', argv, env: [], timeoutSeconds: 60 },
      control,
    );
    expect(result.stderrTail).toBe('');
    expect(result.exitCode).toBe(0);
  };
  const seen = (m: MemberSpec, file: string) =>
    readFile(path.join(runtime.memberRoot(m), 'opt/guestconfig', file), 'utf8').then((s) => s.trim());

  beforeAll(async () => {
    if (!runs) return;
    home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-sandbox-'));
    runtime = new LocalRuntime(home, { network });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-sandbox-pkg-'));
    await mkdir(path.join(dir, 'appconfig'));
    await writeFile(path.join(dir, 'appconfig', 'startscript'), SCRIPT);
    await chmod(path.join(dir, 'appconfig', 'startscript'), 0o755);
    const pkg = await preparePackage(dir, path.join(home, 'cache'));
    for (const m of [a, b]) {
      await runtime.ensureMember(m);
      await runtime.installPackage(m, pkg.tgzPath);
    }
  });
  afterAll(async () => {
    if (!runs) return;
    for (const m of [a, b]) await runtime.removeMember(m);
    await runtime.removeCluster('sb', cluster);
  });

  it.runIf(runs)('is in the network mode asked for', () => {
    expect(runtime.network).toBe(network);
  });

  it.runIf(runs)('has its own hostname, resolves the other member by FQDN, and a private /tmp', async () => {
    await run(a, 'look', b.fqdn);
    expect(await seen(a, 'hostname')).toBe(a.name);
    const [address, ...names] = (await seen(a, 'peer')).split(/\s+/);
    expect(names).toContain(b.fqdn);
    expect(address).toMatch(network === 'namespace' ? /^10\.250\./ : /^127\./);
    // Its /tmp is its volume's: empty at first, its file not in the host's /tmp nor in b's.
    expect(await seen(a, 'tmp-before')).not.toContain('private-file');
    expect(existsSync('/tmp/private-file')).toBe(false);
    expect(await readFile(path.join(runtime.memberRoot(a), 'tmp/private-file'), 'utf8')).toBe('mine\n');
    await run(b, 'look', a.fqdn);
    expect(await seen(b, 'tmp-before')).not.toContain('private-file');
    expect(await seen(b, 'hostname')).toBe(b.name);
  });

  it.runIf(runs)("mounts a persistDir at its guest path, but not a host's system directory", async () => {
    await run(a, 'look', b.fqdn);
    expect(await readFile(path.join(runtime.memberRoot(a), 'data/app/file'), 'utf8')).toBe('kept\n');
    expect(existsSync('/data/app/file')).toBe(false);
    // /usr/share/kdflow-probe stays on the member's volume: the script sees the host's /usr.
    expect(await seen(a, 'usr')).toBe('usr-host');
    expect(existsSync(path.join(runtime.memberRoot(a), 'usr/share/kdflow-probe'))).toBe(true);
  });

  it.runIf(runs)('serves on one port in both members, each reached by its FQDN', async () => {
    const bind = async (m: MemberSpec) =>
      network === 'namespace'
        ? '0.0.0.0'
        : (await readFile(path.join(home, 'members/sb', cluster, '.address-of', m.name), 'utf8')).trim();
    await run(a, 'listen', await bind(a), a.fqdn);
    await run(b, 'listen', await bind(b), b.fqdn);
    await run(a, 'dial', b.fqdn);
    await run(b, 'dial', a.fqdn);
    expect(await seen(a, 'dialed')).toBe(`hello from ${b.name}`);
    expect(await seen(b, 'dialed')).toBe(`hello from ${a.name}`);
  });

  it.runIf(runs)('forgets a removed member: its FQDN no longer resolves in the others', async () => {
    await runtime.removeMember(b);
    await run(a, 'look', b.fqdn);
    expect(await seen(a, 'peer')).toBe('none');
  });
});

describe.runIf(canSandbox && networkNamespaceSupport().available)('cluster networks', () => {
  it('are deleted with their cluster, and one whose directory was removed by hand when the next is made', async () => {
    const make = async () => {
      const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-hubs-'));
      const runtime = new LocalRuntime(home, { network: 'namespace' });
      const m = spec('hubs', 'hubs-a-0');
      await runtime.ensureMember(m);
      return { home, runtime, m, hub: `/run/netns/${hubName(path.join(home, 'members/sb/hubs'))}` };
    };
    const first = await make();
    expect(existsSync(first.hub)).toBe(true);
    // Its directory goes without removeCluster (a home removed by hand, a test's teardown).
    await first.runtime.removeMember(first.m);
    await rm(first.home, { recursive: true, force: true });
    expect(existsSync(first.hub)).toBe(true);
    const second = await make();
    expect(existsSync(first.hub)).toBe(false);
    await second.runtime.removeMember(second.m);
    await second.runtime.removeCluster('sb', 'hubs');
    expect(existsSync(second.hub)).toBe(false);
    await rm(second.home, { recursive: true, force: true });
  });
});
