import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.ts';
import { useHarness } from '../support/temporal.ts';

const h = useHarness();
beforeAll(() => {
  process.env.TEMPORAL_ADDRESS = h.env.address;
  process.env.KDFLOW_HOME = h.home;
});

/** The CLI's own entry point against a real dev server and worker; returns the exit code and stdout lines. */
async function kdflow(...args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await main(args, (line) => lines.push(line));
  return { code, out: lines.join('\n') };
}

describe('kdflow against a live cluster', () => {
  it('applies, plans, resizes, shows, logs, retries and deletes', async () => {
    expect((await kdflow('app', 'apply', '-f', 'crds/examples/centos/app.yaml')).code).toBe(0);
    expect((await kdflow('app', 'list')).out).toMatch(/centos7x\s+CentOS 7\s+1\.0\s+vanilla_centos\(1\+\)/);
    expect(await kdflow('apply', '-f', 'crds/examples/centos/cluster.yaml')).toEqual({ code: 0, out: 'cluster/centos-demo created' });
    expect((await kdflow('wait', 'centos-demo', '--for', 'configured', '--timeout', '60s')).code).toBe(0);

    const json = JSON.parse((await kdflow('get', 'centos-demo', '-o', 'json')).out);
    expect(json).toMatchObject({ name: 'centos-demo', namespace: 'default', app: 'centos7x', phase: 'configured', generation: 1, observedGeneration: 1 });
    expect(json.roles[0]).toMatchObject({ id: 'vanilla_centos', desired: 2 });
    expect(json.roles[0].members[1]).toMatchObject({ name: 'centos-demo-vanilla-centos-1', fqdn: 'centos-demo-vanilla-centos-1.centos-demo.default.svc.cluster.local', state: 'configured' });
    expect(json.roles[0].members[1].events[0]).toMatchObject({ event: 'configure', exitCode: 0, attempts: 1 });
    expect(json.roles[0].members[1].events[0].startedAt).toMatch(/^\d{4}-/);
    expect((await kdflow('get')).out).toMatch(/centos-demo\s+centos7x\s+configured\s+2\/2/);

    const planned = (await kdflow('plan', '-f', 'crds/examples/centos/cluster.yaml')).out;
    expect(planned).toBe('cluster/centos-demo: no change');

    expect((await kdflow('resize', 'centos-demo', 'vanilla_centos=3')).out).toBe('cluster/centos-demo resized (generation 2)');
    expect((await kdflow('wait', 'centos-demo', '--for', 'configured')).code).toBe(0);
    const fqdn2 = 'centos-demo-vanilla-centos-2.centos-demo.default.svc.cluster.local';
    const logs = (await kdflow('logs', 'centos-demo', 'centos-demo-vanilla-centos-0', '--event', 'addnodes')).out;
    expect(logs).toContain(`Starting configuration with option '--addnodes' on node`);
    expect(logs).toContain(`args: --addnodes --nodegroup 1 --role vanilla_centos --fqdns ${fqdn2}`);
    const history = (await kdflow('history', 'centos-demo')).out;
    expect(history.split('\n').filter((l) => l.includes(' configure '))).toHaveLength(3);
    expect(history).toMatch(/centos-demo-vanilla-centos-1\s+addnodes\s+0\s+1\s+--addnodes/);

    // Rejected before anything is sent: below the cardinality, and an unknown role.
    expect((await kdflow('resize', 'centos-demo', 'vanilla_centos=0')).code).toBe(1);
    expect((await kdflow('resize', 'centos-demo', 'nosuch=1')).code).toBe(1);
    expect((await kdflow('retry', 'centos-demo')).code).toBe(0);
    expect((await kdflow('delete', 'centos-demo')).code).toBe(0);
    expect((await kdflow('wait', 'centos-demo', '--for', 'deleted')).code).toBe(0);
    expect((await kdflow('get', 'centos-demo')).code).toBe(4);
    expect(await h.runtime.listMembers('default', 'centos-demo')).toEqual([]);
  });
});
