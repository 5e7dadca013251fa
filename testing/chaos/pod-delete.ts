/**
 * Kubernetes part: `kubectl delete pod` of one member of each cluster in the middle of a create, a
 * grow, a shrink and a delete. What kdflow does about it today: nothing by itself. A pod deleted
 * under a configured member leaves the status saying configured; one deleted under a running step
 * fails that member (config error). The user runs `kdflow retry NAME`: the workflow asks the API
 * which members' pods are gone and re-creates them under their own names (self-healing without the
 * user is a later issue). So each trial waits for the phase to settle, looks at the pods, runs
 * `kdflow retry` (the CLI, in its own process) when a member is failed or its pod missing, and times
 * the whole from the deletion to the cluster converged again.
 */
import { memberName, statusQuery, type ClusterStatus } from '../../api/index.ts';
import { processCli } from './cli-runner.ts';
import type { ChaosEnv } from './env.ts';
import { bounded, configured, type ClusterHandle } from './fixtures.ts';
import { partReport, summarize, type PartReport } from './report.ts';
import type { Rng } from './rng.ts';
import { checkedOn, disruptionRounds, landedFigures, type Phase } from './rounds.ts';
import { eventually } from '../kube/harness.ts';

export interface PodDeleteOptions {
  rounds: number;
  estimate?: Record<Phase, number>;
  phases?: readonly Phase[];
}

const CONVERGE_LIMIT_MS = 240_000;

export async function podDelete(env: ChaosEnv, rng: Rng, options: PodDeleteOptions): Promise<PartReport> {
  const kube = env.kube;
  if (!kube) throw new Error('the pod-delete part needs the Kubernetes runtime');
  const started = Date.now();
  const cli = processCli(env);
  const recreated = new Map<string, Set<string>>();

  /** Every member in status configured and ready, and a running pod for each. */
  const healthy = async (cluster: string, status: ClusterStatus, generation: number) => {
    if (!configured(generation)(status)) return false;
    const members = status.roles.flatMap((r) => r.members);
    if (members.some((m) => m.state !== 'configured' || !m.ready)) return false;
    const { pods } = await kube.observe(cluster);
    return members.every((m) => pods.get(m.name)?.running === true);
  };
  const repair = async (cluster: string, handle: ClusterHandle, generation: number) => {
    if (!recreated.has(cluster)) return { retry: 'no pod deleted' };
    const status = await bounded(handle, 10_000, () => handle.query(statusQuery));
    if (await healthy(cluster, status, generation)) return { retry: 'not needed' };
    const asked = Date.now();
    const result = await cli(['retry', cluster]);
    if (result.code !== 0) throw new Error(`kdflow retry ${cluster} exited ${result.code}: ${result.stderr.trim()}`);
    await eventually(
      `cluster ${cluster} converged after kdflow retry`,
      async () => {
        const now = await bounded(handle, 10_000, () => handle.query(statusQuery));
        return (await healthy(cluster, now, generation)) ? true : undefined;
      },
      CONVERGE_LIMIT_MS,
    );
    return { retry: `kdflow retry (was ${status.phase})`, retryToConvergedMs: Date.now() - asked };
  };
  const deleteMs: number[] = [];
  const results = await disruptionRounds(env, rng, {
    part: 'pod-delete',
    prefix: 'pod',
    rounds: options.rounds,
    estimate: options.estimate,
    ...(options.phases ? { phases: options.phases } : {}),
    repair,
    recreated,
    disruption: () => async (clusters) => {
      const victims = await Promise.all(
        clusters.map(async (cluster) => {
          const pods = (await kube.podNames(cluster)).sort();
          // One of the pods there now, or the controller (always there) when none is.
          const victim = pods[Math.floor(rng.next() * pods.length)] ?? memberName(cluster, 'controller', 0);
          recreated.set(cluster, new Set([victim]));
          const t0 = Date.now();
          await kube.deletePod(victim);
          deleteMs.push(Date.now() - t0);
          return victim;
        }),
      );
      return `pods ${victims.join(', ')} deleted`;
    },
  });
  const retried = results.filter((r) => String(r.details?.retry ?? '').startsWith('kdflow retry'));
  return partReport(
    'pod-delete',
    'Pod deleted by hand (kubectl delete pod) mid-operation',
    results,
    Date.now() - started,
    {
      ...landedFigures(results),
      retriesRun: retried.length,
      retryNotNeeded: results.filter((r) => r.details?.retry === 'not needed').length,
      retryToConvergedMs: summarize(
        retried.flatMap((r) =>
          typeof r.details?.retryToConvergedMs === 'number' ? [r.details.retryToConvergedMs] : [],
        ),
      ),
      deletePodMs: summarize(deleteMs),
      notes: [
        "Per round, one pod of each cluster (chosen by the seed among the pods there at that moment) is deleted with `kubectl delete pod`; the run then kills the processes that ran in that pod and removes its files, as a kubelet does with a deleted pod's container (kwok does not), and waits until the API no longer has it.",
        'kdflow does not notice a deleted pod by itself today (self-healing is a later issue): a configured member whose pod is deleted stays "configured" in status, and a member whose pod goes during one of its steps ends in config error once the pod has been missing for the problem grace (KDFLOW_K8S_PROBLEM_GRACE_SECONDS, 10 s here; 60 s by default) or its script attempts fail. Once the phase has settled, the run looks at status and pods and, when a member is failed or its pod missing, runs `kdflow retry NAME` as a user would: the workflow asks the API which pods are gone and re-creates those members under their own names, with a fresh --configure.',
        'Convergence is timed from the deletion to the cluster configured again with a running pod per member (for delete: the workflow closed); it includes the wait for the phase to settle. retryToConvergedMs is from `kdflow retry` to converged.',
        'A re-created member runs --configure again (a new run id: exactly once per run id still holds) and may be announced to the others in a notify of its own; each other member must still hear of each new member exactly once, and every member may have had at most one pod besides the deleted one.',
        checkedOn('kubernetes'),
      ],
    },
  );
}
