import { persistDirNotes } from '../../api/persist-dirs.ts';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  TASK_QUEUE,
  ValidationError,
  checkChange,
  clusterStartOptions,
  clusterWorkflowId,
  newClusterIssues,
  planQuery,
  specChangeUpdate,
  specQuery,
  type KdCluster,
  type ClusterInput,
} from '../../api/index.ts';
import type { Manifest } from '../../api/manifest.ts';
import { memberNameCollisionIssues } from '../../lib/member-name-check.ts';
import { localPackageIssues } from '../../lib/package-url.ts';
import { describeStep } from '../../workflows/status.ts';
import { plan } from '../../workflows/plan.ts';
import type { CliContext } from '../context.ts';
import { readManifests } from '../files.ts';
import { printWarnings } from '../render.ts';

/** Apps first, so a file holding an app and its cluster applies in one go. */
const appsFirst = (ms: Manifest[]) => [
  ...ms.filter((m) => m.kind === 'KdApp'),
  ...ms.filter((m) => m.kind === 'KdCluster'),
];

export async function applyCommand(ctx: CliContext, _args: string[], flags: { file?: string }): Promise<void> {
  for (const m of appsFirst(await readManifests(flags.file))) {
    printWarnings(ctx, m);
    if (m.kind === 'KdApp') {
      const packages = await localPackageIssues(m.value.spec);
      if (packages.length > 0) throw new ValidationError(packages, m.value.metadata.name);
      await ctx.catalog.put(m.value.metadata.namespace ?? ctx.namespace, m.value);
      ctx.out(`app/${m.value.metadata.name} applied`);
    } else {
      const result = await applyCluster(ctx, m.value);
      const name = m.value.metadata.name;
      ctx.out(
        result.outcome === 'created'
          ? `cluster/${name} created`
          : `cluster/${name} ${result.outcome} (generation ${result.generation})`,
      );
    }
  }
}

interface Applied {
  outcome: 'created' | 'changed' | 'unchanged';
  generation: number;
}

async function applyCluster(ctx: CliContext, cluster: KdCluster): Promise<Applied> {
  const namespace = cluster.metadata.namespace ?? ctx.namespace;
  const name = cluster.metadata.name;
  const app = await ctx.catalog.get(namespace, cluster.spec.app);
  // The app's packages must still be there: refused now, not as a config error later (lib/package-url.ts).
  const packages = await localPackageIssues(app.spec);
  if (packages.length > 0) throw new ValidationError(packages, `app ${app.metadata.name}`);
  const issues = newClusterIssues(name, cluster.spec, app.spec);
  if (issues.length > 0) throw new ValidationError(issues, name);
  for (const note of persistDirNotes(app.spec)) ctx.out(`note: ${name}: ${note}`);
  const client = await ctx.temporal();
  const collisions = await memberNameCollisionIssues(client, namespace, name, app.spec);
  if (collisions.length > 0) throw new ValidationError(collisions, name);
  const input: ClusterInput = { namespace, name, appName: app.metadata.name, app: app.spec, spec: cluster.spec };
  try {
    await client.workflow.start('clusterWorkflow', {
      taskQueue: TASK_QUEUE,
      args: [input],
      ...clusterStartOptions(input),
    });
    return { outcome: 'created', generation: 1 };
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
  // A live cluster: validate the change against the app snapshot it runs, then send it.
  const handle = client.workflow.getHandle(clusterWorkflowId(namespace, name));
  const view = await handle.query(specQuery);
  const change = checkChange(name, view.spec, cluster.spec, view.app);
  if (change.issues.length > 0) throw new ValidationError(change.issues, name);
  // The workflow answers an unchanged spec with the generation it has (no new one): that is how "unchanged" is known.
  const { generation } = await handle.executeUpdate(specChangeUpdate, { args: [{ spec: cluster.spec }] });
  return { outcome: generation === view.generation ? 'unchanged' : 'changed', generation };
}

/**
 * A live cluster is planned by its own workflow (the plan query: its planner, its member state, failed
 * notifies and config-error members included); only a cluster that does not exist yet is planned here,
 * from empty state, with the same planner.
 */
export async function planCommand(ctx: CliContext, _args: string[], flags: { file?: string }): Promise<void> {
  for (const m of await readManifests(flags.file)) {
    if (m.kind !== 'KdCluster') continue;
    printWarnings(ctx, m);
    const namespace = m.value.metadata.namespace ?? ctx.namespace;
    const name = m.value.metadata.name;
    const client = await ctx.temporal();
    const handle = client.workflow.getHandle(clusterWorkflowId(namespace, name));
    const answer = await handle.query(planQuery, { spec: m.value.spec }).catch((error: unknown) => {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    });
    let steps: string[];
    if (answer) {
      if ('issues' in answer) throw new ValidationError(answer.issues, name);
      steps = answer.steps;
    } else {
      const app = (await ctx.catalog.get(namespace, m.value.spec.app).catch(() => undefined))?.spec;
      if (!app) throw new ValidationError([{ path: 'spec.app', message: `unknown app "${m.value.spec.app}"` }], name);
      const issues = newClusterIssues(name, m.value.spec, app);
      if (issues.length > 0) throw new ValidationError(issues, name);
      steps = plan({ namespace, name, app, spec: m.value.spec, generation: 1 }, []).map(describeStep);
    }
    ctx.out(
      `cluster/${name}: ${steps.length === 0 ? 'no change' : `${steps.length} step(s), assuming every script succeeds`}`,
    );
    steps.forEach((step, i) => ctx.out(`  ${String(i + 1).padStart(3)}. ${step}`));
  }
}
