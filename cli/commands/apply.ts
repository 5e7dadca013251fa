import { persistDirNotes } from '../../api/persist-dirs.ts';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  TASK_QUEUE,
  ValidationError,
  checkChange,
  clusterStartOptions,
  clusterWorkflowId,
  connectionsChangedSignal,
  newClusterIssues,
  planQuery,
  specChangeUpdate,
  specQuery,
  type KdCluster,
  type ClusterInput,
  type KdAppSpec,
  type AppSnapshot,
  type StoredObject,
} from '../../api/index.ts';
import { runtimeKind } from '../../lib/config.ts';
import { putObject } from '../../lib/object-store.ts';
import { runtimeIssues } from '../../lib/runtime-issues.ts';
import type { Manifest } from '../../api/manifest.ts';
import { memberNameCollisionIssues } from '../../lib/member-name-check.ts';
import { localPackageIssues } from '../../lib/package-url.ts';
import { describeStep } from '../../workflows/status.ts';
import { applyOutcome, plan } from '../../workflows/plan.ts';
import { hookPlanLines } from '../../workflows/hooks.ts';
import type { CliContext } from '../context.ts';
import { readManifests } from '../files.ts';
import { printWarnings } from '../render.ts';
import { applyApp } from './app.ts';
import { specUpgradeTarget } from '../app-version.ts';

/** Connected objects and apps first, so a file holding them and a cluster applies in one go. */
const appsFirst = (ms: Manifest[]) => [
  ...ms.filter((m) => m.kind === 'ConfigMap' || m.kind === 'Secret'),
  ...ms.filter((m) => m.kind === 'KdApp'),
  ...ms.filter((m) => m.kind === 'KdCluster'),
];

/**
 * A cluster whose app is in the same file is checked against that app before anything is sent: a file
 * with a broken cluster applies nothing, and says so without Temporal.
 */
function checkAgainstAppsInFile(ctx: CliContext, manifests: Manifest[]): void {
  const apps = new Map<string, KdAppSpec>();
  for (const m of manifests)
    if (m.kind === 'KdApp')
      apps.set(`${m.value.metadata.namespace ?? ctx.namespace}/${m.value.metadata.name}`, m.value.spec);
  for (const m of manifests) {
    if (m.kind !== 'KdCluster') continue;
    const app = apps.get(`${m.value.metadata.namespace ?? ctx.namespace}/${m.value.spec.app}`);
    const issues = app ? newClusterIssues(m.value.metadata.name, m.value.spec, app) : [];
    if (issues.length > 0) throw new ValidationError(issues, m.value.metadata.name);
  }
}

export async function applyCommand(ctx: CliContext, _args: string[], flags: { file?: string[] }): Promise<void> {
  const manifests = appsFirst(await readManifests(flags.file));
  checkAgainstAppsInFile(ctx, manifests);
  for (const m of manifests) {
    if (m.kind === 'KdApp') await applyApp(ctx, m);
    else if (m.kind === 'ConfigMap' || m.kind === 'Secret') {
      printWarnings(ctx, m);
      await applyConnectedObject(ctx, m.value);
    } else {
      printWarnings(ctx, m);
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

/**
 * A ConfigMap or Secret for `spec.connections` (docs/adr/0044). The local runtime keeps it under the
 * kdflow home, and the clusters that connect to it are told to read their connections now; on
 * Kubernetes such objects are the API's, applied with kubectl.
 */
async function applyConnectedObject(ctx: CliContext, object: StoredObject): Promise<void> {
  const what = `${object.kind.toLowerCase()}/${object.metadata.name}`;
  if (runtimeKind() !== 'local')
    throw new ValidationError(
      [
        {
          path: 'kind',
          message: `${object.kind}s live in the Kubernetes API on the ${runtimeKind()} runtime: apply them with kubectl apply -f`,
        },
      ],
      what,
    );
  const namespace = object.metadata.namespace ?? ctx.namespace;
  await putObject(ctx.home, namespace, object);
  ctx.out(`${what} applied`);
  const field = object.kind === 'ConfigMap' ? 'configmaps' : 'secrets';
  for (const cluster of await ctx.runningClusters()) {
    const view = await cluster.handle.query(specQuery).catch(() => undefined);
    if (view?.spec.connections?.[field]?.includes(object.metadata.name))
      await cluster.handle.signal(connectionsChangedSignal);
  }
}

interface Applied {
  outcome: 'created' | 'changed' | 'unchanged' | `upgrading ${string}`;
  generation: number;
}

/**
 * `app`: the app to create the cluster from, when it is not to come from the shared catalog (`kdflow
 * dev` runs the app of its files, an app in progress, which is no catalog version).
 */
export async function applyCluster(
  ctx: CliContext,
  cluster: KdCluster,
  app?: Pick<AppSnapshot, 'name' | 'version' | 'app'>,
): Promise<Applied> {
  const namespace = cluster.metadata.namespace ?? ctx.namespace;
  const name = cluster.metadata.name;
  // Else the version the spec names, or the catalog's current one; the cluster keeps this snapshot (its pinned version).
  const version = cluster.spec.appVersion;
  app ??= await ctx.catalog.get(
    namespace,
    cluster.spec.app,
    version,
    version === undefined ? 'spec.app' : 'spec.appVersion',
  );
  // The app's packages must still be there: refused now, not as a config error later (lib/package-url.ts).
  const packages = await localPackageIssues(app.app);
  if (packages.length > 0) throw new ValidationError(packages, `app ${app.name} ${app.version}`);
  const issues = [...newClusterIssues(name, cluster.spec, app.app), ...runtimeIssues(cluster.spec)];
  if (issues.length > 0) throw new ValidationError(issues, name);
  for (const note of persistDirNotes(app.app)) ctx.out(`note: ${name}: ${note}`);
  const client = await ctx.temporal();
  const collisions = await memberNameCollisionIssues(client, namespace, name, app.app);
  if (collisions.length > 0) throw new ValidationError(collisions, name);
  const input: ClusterInput = { namespace, name, appName: app.name, app: app.app, spec: cluster.spec };
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
  // A new spec.appVersion is an upgrade: the change carries that version's snapshot.
  const to = await specUpgradeTarget(ctx, namespace, name, view, cluster.spec);
  // The workflow answers an unchanged spec with the generation it has (no new one): that is how "unchanged" is known.
  const { generation } = await handle.executeUpdate(specChangeUpdate, {
    args: [{ spec: cluster.spec, ...(to ? { app: to } : {}) }],
  });
  if (generation === view.generation) return { outcome: 'unchanged', generation };
  return { outcome: to ? `upgrading ${view.app.version} → ${to.version}` : 'changed', generation };
}

/**
 * A live cluster is planned by its own workflow (the plan query: its planner, its member state, failed
 * notifies and config-error members included); only a cluster that does not exist yet is planned here,
 * from empty state, with the same planner.
 */
export async function planCommand(ctx: CliContext, _args: string[], flags: { file?: string[] }): Promise<void> {
  for (const m of await readManifests(flags.file)) {
    if (m.kind !== 'KdCluster') continue;
    printWarnings(ctx, m);
    const namespace = m.value.metadata.namespace ?? ctx.namespace;
    const name = m.value.metadata.name;
    const client = await ctx.temporal();
    const handle = client.workflow.getHandle(clusterWorkflowId(namespace, name));
    const notFound = (error: unknown) => {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    };
    // A new appVersion of a live cluster is planned with that version's snapshot, which the workflow does not read itself.
    const view = m.value.spec.appVersion === undefined ? undefined : await handle.query(specQuery).catch(notFound);
    const to = view && (await specUpgradeTarget(ctx, namespace, name, view, m.value.spec));
    const answer = await handle.query(planQuery, { spec: m.value.spec, ...(to ? { app: to } : {}) }).catch(notFound);
    let steps: string[];
    if (answer) {
      if ('issues' in answer) throw new ValidationError(answer.issues, name);
      steps = answer.steps;
    } else {
      const version = m.value.spec.appVersion;
      const field = version === undefined ? 'spec.app' : 'spec.appVersion';
      const app = (await ctx.catalog.get(namespace, m.value.spec.app, version, field)).app;
      const issues = [...newClusterIssues(name, m.value.spec, app), ...runtimeIssues(m.value.spec)];
      if (issues.length > 0) throw new ValidationError(issues, name);
      const desired = { namespace, name, app, spec: m.value.spec, generation: 1 };
      const planned = plan(desired, []);
      steps = [...planned.map(describeStep), ...hookPlanLines(applyOutcome, desired, [], planned, {})];
    }
    ctx.out(
      `cluster/${name}: ${steps.length === 0 ? 'no change' : `${steps.length} step(s), assuming every script succeeds`}`,
    );
    steps.forEach((step, i) => ctx.out(`  ${String(i + 1).padStart(3)}. ${step}`));
  }
}
