/**
 * `ccli --tokenwait` and `--tokenwake` across members, through the cluster workflow (docs/adr/0047):
 * at create, the first role's --configure waits for a token the second role's --configure wakes
 * (planner v4 runs them at once; v3 would have left the waiter to time out), and a wait for a token
 * nobody wakes ends at its own timeout with a clear error, the cluster settled and not stuck. Real
 * Temporal dev server, real worker, real processes on the local runtime.
 */
import { mkdtemp, readFile, writeFile, chmod, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KdClusterSpec, clusterStartOptions, memberFqdn, tokensQuery, type ClusterInput } from '../../api/index.ts';
import type { clusterWorkflow } from '../../workflows/cluster.ts';
import { memberStates, settled, testApp, waitForStatus } from '../support/cluster.ts';
import { useHarness } from '../../testing/harness.ts';

const h = useHarness();

/** The controller waits for $WAIT_FOR of $WAKER; the worker wakes "ready". Each logs when it passed, in ns. */
const SCRIPT = `#!/bin/sh
[ "$1" = --configure ] || exit 0
log=/opt/guestconfig/token.log
case $(ccli --get node.role_id) in
  controller)
    if [ -n "$SERVICE" ]; then ccli --wait "$SERVICE" -t "$WAIT_SECONDS" || exit 1
    else ccli --tokenwait "$WAIT_FOR" --fqdn "$WAKER" -t "$WAIT_SECONDS" || exit 1; fi
    echo "woken $(date +%s%N)" >> $log ;;
  worker)
    echo "waking $(date +%s%N)" >> $log
    ccli --tokenwake ready ;;
esac
`;

async function tokenPackage(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-tokens-pkg-'));
  await mkdir(path.join(dir, 'appconfig'));
  await writeFile(path.join(dir, 'appconfig', 'startscript'), SCRIPT);
  await chmod(path.join(dir, 'appconfig', 'startscript'), 0o755);
  return `file://${path.join(dir, 'appconfig')}`;
}

async function start(name: string, token: string, waitSeconds: number, service = '') {
  const app = testApp(await tokenPackage(), {
    retry: { maximumAttempts: 1 },
    services: [{ id: 'web', label: { name: 'web' }, endpoint: { port: 8080, urlScheme: 'http' } }],
    config: { roleServices: [{ roleID: 'worker', serviceIDs: ['web'] }] },
  });
  const env = [
    { name: 'SERVICE', value: service },
    { name: 'WAIT_FOR', value: token },
    { name: 'WAKER', value: memberFqdn(`${name}-worker-0`, name, 'default') },
    { name: 'WAIT_SECONDS', value: String(waitSeconds) },
  ];
  const spec = KdClusterSpec.parse({
    app: 'testapp',
    roles: [
      { id: 'controller', members: 1, env },
      { id: 'worker', members: 1 },
    ],
  });
  const input: ClusterInput = { namespace: 'default', name, appName: 'testapp', app, spec };
  return h.env.client.workflow.start<typeof clusterWorkflow>('clusterWorkflow', {
    taskQueue: h.taskQueue,
    args: [input],
    ...clusterStartOptions(input),
  });
}

const tokenLog = async (cluster: string, member: string) =>
  (
    await readFile(
      path.join(h.runtime.memberRoot({ namespace: 'default', cluster, name: member }), 'opt/guestconfig/token.log'),
      'utf8',
    ).catch(() => '')
  )
    .split('\n')
    .filter(Boolean);

describe('ccli token waits across members', () => {
  it("releases the first role's --tokenwait with the second role's --tokenwake, at create", async () => {
    const handle = await start('tok', 'ready', 300);
    const status = await waitForStatus(handle, settled(1), 300_000);
    expect(memberStates(status)).toEqual({ 'tok-controller-0': 'configured', 'tok-worker-0': 'configured' });
    // Status says how the local runtime keeps members here (docs/adr/0046).
    expect(status.runtime).toMatch(/^local: .*; member network: (namespace|loopback|host) \(.+\)$/);
    const [woken] = await tokenLog('tok', 'tok-controller-0');
    const [waking] = await tokenLog('tok', 'tok-worker-0');
    expect(woken).toMatch(/^woken \d+$/);
    expect(waking).toMatch(/^waking \d+$/);
    // The waiter went on only after the waker had run.
    expect(BigInt(woken!.split(' ')[1]!)).toBeGreaterThan(BigInt(waking!.split(' ')[1]!));
    // The workflow keeps the token: for the member, and for any member.
    const fqdn = memberFqdn('tok-worker-0', 'tok', 'default');
    expect(await handle.query(tokensQuery, { keys: [`${fqdn}/ready`, '*/ready', '*/other'] })).toEqual({
      [`${fqdn}/ready`]: 'success',
      '*/ready': 'success',
    });
  });

  it('ends a wait for a token nobody wakes at its timeout, with a clear error, and the cluster settles', async () => {
    const handle = await start('tok-never', 'never', 3);
    const status = await waitForStatus(handle, settled(1), 300_000);
    expect(memberStates(status)).toEqual({
      'tok-never-controller-0': 'config error',
      'tok-never-worker-0': 'configured',
    });
    const controller = status.roles.flatMap((r) => r.members).find((m) => m.name === 'tok-never-controller-0');
    expect(controller?.lastError).toMatch(
      /^configure on tok-never-controller-0 exited with 1: ccli: token never was not woken within 3 s \(--tokenwait --fqdn tok-never-worker-0\./,
    );
    expect(await tokenLog('tok-never', 'tok-never-controller-0')).toEqual([]);
  });

  it("releases --wait SERVICE_KEY once the service's members have configured", async () => {
    const handle = await start('svc', '', 300, 'services.web.1.worker');
    const status = await waitForStatus(handle, settled(1), 300_000);
    expect(memberStates(status)).toEqual({ 'svc-controller-0': 'configured', 'svc-worker-0': 'configured' });
    const [woken] = await tokenLog('svc', 'svc-controller-0');
    const [waking] = await tokenLog('svc', 'svc-worker-0');
    // The worker's script had run (and, the workflow says, succeeded) before the controller went on.
    expect(BigInt(woken!.split(' ')[1]!)).toBeGreaterThan(BigInt(waking!.split(' ')[1]!));
  });
});
