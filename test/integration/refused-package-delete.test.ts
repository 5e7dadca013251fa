/**
 * A cluster whose config package was refused is deleted, and its delete ends with nothing left: no
 * process, no cluster network namespace, no mount, no member directory (docs/adr/0046). Members are
 * removed in parallel lanes; their /etc/hosts lines live in one file of the cluster, whose rewrites
 * once shared a temporary file, so a teardown of several members failed on every attempt and the
 * delete never ended (chaos hostile-packages). Real Temporal, real processes, the local runtime.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deleteSignal, memberFqdn } from '../../api/index.ts';
import { hubName } from '../../runtimes/local/sandbox.ts';
import type { MemberSpec } from '../../runtimes/runtime.ts';
import { tgz } from '../../testing/chaos/tarball.ts';
import { useHarness } from '../../testing/harness.ts';
import { memberStates, settled, startCluster, testApp, waitForStatus, writePackage } from '../support/cluster.ts';

const h = useHarness();

/** Every process whose command line or working directory is under `dir`. */
async function processesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    if (cmdline.includes(dir) || cwd.includes(dir)) found.push(`${pid}: ${cmdline.replaceAll('\0', ' ')}`);
  }
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('deleting a cluster whose config package was refused', () => {
  it('completes, leaving no process, network namespace, mount or member directory', { timeout: 240_000 }, async () => {
    // A package that climbs out of its directory: refused before anything is unpacked.
    const refused = path.join(h.home, 'climbs.tgz');
    await writeFile(
      refused,
      tgz([
        { name: 'appconfig/', type: 'dir' },
        { name: 'appconfig/startscript', type: 'file', mode: 0o755, content: '#!/bin/sh\necho configured\n' },
        { name: 'appconfig/../../escaped', type: 'file', content: 'pwned' },
      ]),
    );
    const app = testApp(await writePackage(h.home), {
      roles: [
        { id: 'controller', cardinality: '1' },
        { id: 'worker', cardinality: '0+', configPackage: { packageURL: `file://${refused}` } },
      ],
    });
    const cluster = 'refused';
    const handle = await startCluster(h, cluster, app, { controller: 1, worker: 8 });
    const status = await waitForStatus(handle, settled(1));
    const states = memberStates(status);
    expect(states['refused-controller-0']).toBe('configured');
    const workers = status.roles.find((r) => r.id === 'worker')?.members ?? [];
    expect(workers).toHaveLength(8);
    for (const w of workers) {
      expect(w.state).toBe('config error');
      expect(w.lastError).toMatch(/path contains '\.\.'/);
    }

    // What the members hold while they exist: their keep-alives, the cluster's network and hosts lines.
    const clusterDir = path.join(h.home, 'members', 'default', cluster);
    const names = Object.keys(states);
    const keepAlives = await Promise.all(
      names.map(async (name) =>
        Number(
          await readFile(
            path.join(h.runtime.memberRoot({ namespace: 'default', cluster, name }), '.kdflow', 'keepalive.pid'),
            'utf8',
          ),
        ),
      ),
    );
    for (const pid of keepAlives) expect(alive(pid)).toBe(true);
    const namespaced = h.runtime.network === 'namespace';
    const netnsList = () => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    if (namespaced) expect(netnsList()).toContain(hubName(clusterDir));
    if (h.runtime.network !== 'host')
      expect((await readFile(path.join(clusterDir, '.hosts'), 'utf8')).trim().split('\n')).toHaveLength(9);

    // The delete ends (the test's timeout is the hang guard).
    await handle.signal(deleteSignal);
    const final = await handle.result();
    expect(final.phase).toBe('deleted');
    // In one attempt: before, parallel removals failed one another's, and the teardown went round.
    const events = (await handle.fetchHistory()).events ?? [];
    const teardown = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'teardownCluster',
    )?.eventId;
    const started = events.find(
      (e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(teardown),
    )?.activityTaskStartedEventAttributes;
    expect(started?.lastFailure?.message).toBeUndefined();
    expect(started?.attempt).toBe(1);

    expect(existsSync(clusterDir)).toBe(false);
    expect(await h.runtime.listMembers('default', cluster)).toEqual([]);
    expect(keepAlives.filter(alive)).toEqual([]);
    expect(await processesUnder(clusterDir)).toEqual([]);
    if (namespaced) expect(netnsList()).not.toContain(hubName(clusterDir));
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    expect(mounts.split('\n').filter((l) => l.includes(clusterDir))).toEqual([]);
  });

  it('members removed at once all go, and the cluster hosts file keeps no line of theirs', async () => {
    // The runtime alone: a launch's parallel ensures, then a shrink's parallel removals.
    const cluster = 'apart';
    const members: MemberSpec[] = Array.from({ length: 12 }, (_, i) => ({
      namespace: 'default',
      cluster,
      name: `${cluster}-r-${i}`,
      role: 'r',
      ordinal: i,
      fqdn: memberFqdn(`${cluster}-r-${i}`, cluster, 'default'),
      image: 'local',
      persistDirs: [],
    }));
    await Promise.all(members.map((m) => h.runtime.ensureMember(m)));
    const hosts = path.join(h.home, 'members', 'default', cluster, '.hosts');
    const sandboxed = h.runtime.network !== 'host';
    if (sandboxed) expect((await readFile(hosts, 'utf8')).trim().split('\n')).toHaveLength(12);
    const [kept, ...leaving] = members as [MemberSpec, ...MemberSpec[]];
    await Promise.all(leaving.map((m) => h.runtime.removeMember(m)));
    expect(await h.runtime.listMembers('default', cluster)).toEqual([kept.name]);
    if (sandboxed) {
      const lines = (await readFile(hosts, 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(` ${kept.fqdn} ${kept.name}$`));
    }
    await h.runtime.removeMember(kept);
    await h.runtime.removeCluster('default', cluster);
  });
});
