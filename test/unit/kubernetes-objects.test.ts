import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../runtimes/kubernetes/exec.ts';
import { inPodCommand } from '../../runtimes/kubernetes/in-pod.ts';
import { startArgv } from '../../runtimes/script/protocol.ts';
import { headlessService, memberPod, memberPvc, memberServices, ownerRef } from '../../runtimes/kubernetes/objects.ts';
import { podVerdict } from '../../runtimes/kubernetes/readiness.ts';
import type { MemberSpec } from '../../runtimes/runtime.ts';

const anchor = ownerRef({ metadata: { name: 'spark', uid: 'uid-1' } });
const member = (overrides: Partial<MemberSpec> = {}): MemberSpec => ({
  namespace: 'ns',
  cluster: 'spark',
  name: 'spark-worker-2',
  role: 'worker',
  ordinal: 2,
  fqdn: 'spark-worker-2.spark.ns.svc.cluster.local',
  image: 'bluedata/spark:1',
  persistDirs: ['/data', '/var/lib/app'],
  ...overrides,
});

describe('Kubernetes objects of a member', () => {
  it('gives the pod a stable identity under the headless service, with labels and an owner', () => {
    const pod = memberPod(
      member({ settings: { id: 'worker', podLabels: { team: 'x', 'kdflow.dev/member': 'spoof' } } }),
      anchor,
    );
    expect(pod.metadata).toMatchObject({
      name: 'spark-worker-2',
      namespace: 'ns',
      ownerReferences: [{ kind: 'Service', name: 'spark', uid: 'uid-1' }],
    });
    // kdflow's own labels win over user podLabels: selectors depend on them.
    expect(pod.metadata?.labels).toEqual({
      team: 'x',
      'app.kubernetes.io/managed-by': 'kdflow',
      'kdflow.dev/cluster': 'spark',
      'kdflow.dev/role': 'worker',
      'kdflow.dev/member': 'spark-worker-2',
    });
    expect(pod.spec).toMatchObject({ hostname: 'spark-worker-2', subdomain: 'spark' });
    expect(pod.spec?.containers[0]).toMatchObject({ name: 'app', image: 'bluedata/spark:1', volumeMounts: [] });
    expect(pod.spec?.volumes).toEqual([]);
  });

  it('mounts every persist dir from the member PVC when the role has storage', () => {
    const spec = member({
      settings: {
        id: 'worker',
        storage: { size: '5Gi', storageClass: 'fast' },
        resources: { requests: { cpu: '2' }, limits: { memory: '4Gi' } },
      },
    });
    const pod = memberPod(spec, anchor);
    expect(pod.spec?.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: 'spark-worker-2-data' } }]);
    expect(pod.spec?.containers[0]?.volumeMounts).toEqual([
      { name: 'data', mountPath: '/data', subPath: 'data' },
      { name: 'data', mountPath: '/var/lib/app', subPath: 'var_lib_app' },
    ]);
    expect(pod.spec?.containers[0]?.resources).toEqual({ requests: { cpu: '2' }, limits: { memory: '4Gi' } });
    expect(memberPvc(spec, anchor)?.spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '5Gi' } },
      storageClassName: 'fast',
    });
    expect(memberPvc(member(), anchor)).toBeUndefined();
  });

  it('makes one service per role endpoint, of the cluster serviceType, owned by the pod', () => {
    const podOwner = { apiVersion: 'v1', kind: 'Pod', name: 'spark-worker-2', uid: 'p' };
    const services = memberServices(
      member({
        services: [
          { id: 'web', port: 8080 },
          { id: 'rpc', port: 7077 },
        ],
        settings: { id: 'worker', serviceType: 'NodePort' },
      }),
      podOwner,
    );
    expect(services.map((s) => [s.metadata?.name, s.spec?.type, s.spec?.ports?.[0]?.port, s.spec?.selector])).toEqual([
      ['spark-worker-2-web', 'NodePort', 8080, { 'kdflow.dev/member': 'spark-worker-2' }],
      ['spark-worker-2-rpc', 'NodePort', 7077, { 'kdflow.dev/member': 'spark-worker-2' }],
    ]);
    expect(memberServices(member(), podOwner)).toEqual([]);
    expect(headlessService('ns', 'spark').spec).toMatchObject({
      clusterIP: 'None',
      selector: { 'kdflow.dev/cluster': 'spark' },
      publishNotReadyAddresses: true,
    });
  });
});

describe('pod readiness verdicts', () => {
  const pod = (status: V1Pod['status'], meta: V1Pod['metadata'] = {}): V1Pod => ({
    metadata: { name: 'p', ...meta },
    status,
  });
  it('is ready only when Running with Ready=True', () => {
    expect(podVerdict(pod({ phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] }))).toEqual({
      ready: true,
    });
    expect(podVerdict(pod({ phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] }))).toEqual({
      ready: false,
      reason: 'pod is Running',
    });
    expect(podVerdict(pod({ phase: 'Pending' }))).toEqual({ ready: false, reason: 'pod is Pending' });
  });
  it('names scheduling, image and crash problems, which age into failures', () => {
    expect(
      podVerdict(
        pod({
          phase: 'Pending',
          conditions: [
            {
              type: 'PodScheduled',
              status: 'False',
              reason: 'Unschedulable',
              message: '0/1 nodes are available: 1 Insufficient cpu.',
            },
          ],
        }),
      ),
    ).toEqual({
      ready: false,
      reason: 'Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.',
      problem: true,
    });
    expect(
      podVerdict(
        pod({
          phase: 'Pending',
          containerStatuses: [
            {
              name: 'app',
              image: 'x',
              imageID: '',
              ready: false,
              restartCount: 0,
              state: { waiting: { reason: 'ImagePullBackOff', message: 'no such image' } },
            },
          ],
        }),
      ),
    ).toMatchObject({ reason: 'ImagePullBackOff: no such image', problem: true });
    expect(podVerdict(undefined)).toMatchObject({ ready: false, problem: true });
    expect(podVerdict(pod({ phase: 'Failed', reason: 'Evicted' }))).toMatchObject({
      reason: 'pod Failed: Evicted',
      problem: true,
    });
    expect(podVerdict(pod({ phase: 'Running' }, { deletionTimestamp: new Date() }))).toEqual({
      ready: false,
      reason: 'pod is terminating',
    });
  });
});

describe('exec plumbing', () => {
  it('reads the exit code from the API status, and from kwok-style messages', () => {
    expect(exitCodeOf({ status: 'Success' })).toBe(0);
    expect(
      exitCodeOf({
        status: 'Failure',
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: '3' }] },
      }),
    ).toBe(3);
    expect(exitCodeOf({ status: 'Failure', message: 'exit status 7' })).toBe(7);
    expect(exitCodeOf({ status: 'Failure', message: 'container not found' })).toBeNull();
  });
  it('passes names and argv as positional parameters, never as shell text', () => {
    const argv = inPodCommand('writeFile', 'ns/pod', ['/opt/x;id', 600, '$(rm -rf /)']);
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(argv[3]).toBe('kdflow');
    expect(argv.slice(4)).toEqual(['ns/pod', '/opt/x;id', '600', '$(rm -rf /)']);
    expect(argv[2]).not.toContain('rm -rf');
    const start = startArgv(
      { runId: 'run;id', event: 'configure', argv: ['--fqdns', '$(rm -rf /)'], env: [], timeoutSeconds: 600 },
      [],
    );
    expect(start.slice(0, 2)).toEqual(['sh', '-c']);
    expect(start[3]).toBe('kdflow-start');
    expect(start.slice(4, 7)).toEqual(['start', 'configure', 'run;id']);
    expect(start.slice(-3)).toEqual(['2', '--fqdns', '$(rm -rf /)']);
    expect(start[2]).not.toContain('rm -rf');
  });
});
