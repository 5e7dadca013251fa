import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deleteSignal, resizeUpdate } from '../../api/index.ts';
import {
  eventsLog,
  memberStates,
  recordHistory,
  settled,
  startCluster,
  testApp,
  waitForStatus,
  writePackage,
} from '../support/cluster.ts';
import { useHarness } from '../../testing/harness.ts';

const h = useHarness();

const fqdn = (member: string, cluster: string) => `${member}.${cluster}.default.svc.cluster.local`;

describe('cluster lifecycle on the local runtime', () => {
  it('creates, grows, shrinks and deletes with the KubeDirector events in order', async () => {
    const app = testApp(await writePackage(h.home));
    const handle = await startCluster(h, 'life', app, { controller: 1, worker: 2 });
    let status = await waitForStatus(handle, settled(1));
    expect(status.phase).toBe('configured');
    expect(memberStates(status)).toEqual({
      'life-controller-0': 'configured',
      'life-worker-0': 'configured',
      'life-worker-1': 'configured',
    });
    for (const m of ['life-controller-0', 'life-worker-0', 'life-worker-1'])
      expect(await eventsLog(h, 'life', m)).toEqual(['--configure']);

    const root = h.runtime.memberRoot({ namespace: 'default', cluster: 'life', name: 'life-worker-1' });
    const meta = JSON.parse(await readFile(path.join(root, 'etc/guestconfig/configmeta.json'), 'utf8'));
    expect(meta.node).toMatchObject({
      role_id: 'worker',
      // Node ids count from 1 across roles: controller-0 is 1, worker-0 2, worker-1 3.
      id: '3',
      fqdn: fqdn('life-worker-1', 'life'),
      nodegroup_id: '1',
    });
    expect(meta.nodegroups['1'].roles.worker.fqdns).toEqual([
      fqdn('life-worker-0', 'life'),
      fqdn('life-worker-1', 'life'),
    ]);
    expect(meta.cluster.name).toBe('life');
    expect((await stat(path.join(root, 'etc/guestconfig'))).mode & 0o777).toBe(0o700);
    expect(await readFile(path.join(root, 'opt/guestconfig/configure.stdout'), 'utf8')).toBe('ran --configure\n');
    expect(await readFile(path.join(root, 'opt/guestconfig/configure.status'), 'utf8')).toMatch(
      /\/life-worker-1\/configure=0\n$/,
    );

    // Grow worker 2 → 4: new members configure, the old ones hear --addnodes about them.
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 4 } }] });
    await waitForStatus(handle, settled(2));
    const added = `--addnodes --nodegroup 1 --role worker --fqdns ${fqdn('life-worker-2', 'life')},${fqdn('life-worker-3', 'life')}`;
    for (const m of ['life-controller-0', 'life-worker-0', 'life-worker-1'])
      expect(await eventsLog(h, 'life', m)).toEqual(['--configure', added]);
    for (const m of ['life-worker-2', 'life-worker-3']) expect(await eventsLog(h, 'life', m)).toEqual(['--configure']);
    const grown = JSON.parse(await readFile(path.join(root, 'etc/guestconfig/configmeta.json'), 'utf8'));
    expect(grown.nodegroups['1'].roles.worker.node_ids).toEqual(['2', '3', '4', '5']);

    // Shrink worker 4 → 2: survivors hear --delnodes while the leavers still exist, then the leavers go.
    await handle.executeUpdate(resizeUpdate, { args: [{ roles: { worker: 2 } }] });
    status = await waitForStatus(handle, settled(3));
    const removed = `--delnodes --nodegroup 1 --role worker --fqdns ${fqdn('life-worker-2', 'life')},${fqdn('life-worker-3', 'life')}`;
    expect(await eventsLog(h, 'life', 'life-worker-0')).toEqual(['--configure', added, removed]);
    expect(Object.keys(memberStates(status))).toEqual(['life-controller-0', 'life-worker-0', 'life-worker-1']);
    expect(await h.runtime.listMembers('default', 'life')).toEqual([
      'life-controller-0',
      'life-worker-0',
      'life-worker-1',
    ]);
    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name);
    const lastDelnodes = scheduled.lastIndexOf('runScript');
    expect(scheduled.lastIndexOf('removeMembers')).toBeGreaterThan(lastDelnodes);

    await handle.signal(deleteSignal);
    const final = await handle.result();
    expect(final.phase).toBe('deleted');
    expect(await h.runtime.listMembers('default', 'life')).toEqual([]);
    await recordHistory(h, handle, 'lifecycle');
  });
});
