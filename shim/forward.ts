/**
 * One KdCluster object → its workflow. A new generation of the CR is validated with the same code as
 * the CLI and forwarded with update-with-start (one call creates the workflow or changes it);
 * `status.observedGeneration` records which generation was handled, so repeated and replayed watch
 * events are no-ops. Deletion waits, behind the finalizer, for the workflow's teardown.
 */
import {
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type CustomObjectsApi } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  KdAppSpec,
  KdClusterSpec,
  TASK_QUEUE,
  clusterStartOptions,
  clusterWorkflowId,
  deleteSignal,
  formatIssues,
  kubeDirectorWarnings,
  newClusterIssues,
  specChangeUpdate,
  withCondition,
  ValidationError,
  zodIssues,
  type AppSnapshot,
  type ClusterInput,
  type FieldIssue,
  type KdClusterCrStatus,
} from '../api/index.ts';
import { resolveAppVersion } from '../lib/app-catalog.ts';
import { memberNameCollisionIssues } from '../lib/member-name-check.ts';
import type { clusterWorkflow } from '../workflows/cluster.ts';
import { recordEvent } from './events.ts';
import { unfetchablePackageIssues } from './package-check.ts';
import { FINALIZER, KINDS, crApi, keyOf, type CrObject } from './resources.ts';

export interface ForwardDeps {
  client: Client;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  logger: Logger;
  /** The KdApp objects the shim has seen, by namespace/name. */
  apps: Map<string, CrObject>;
  /**
   * Each KdApp object's put into the shared catalog (shim/catalog-mirror.ts), by namespace/name: it
   * settles to the catalog's refusal, or undefined once the version is there.
   */
  appPuts?: Map<string, Promise<string | undefined>>;
  taskQueue?: string;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export async function patchClusterStatus(
  deps: ForwardDeps,
  cr: CrObject,
  status: Record<string, unknown>,
): Promise<void> {
  await deps.custom.patchNamespacedCustomObjectStatus(
    {
      ...crApi(KINDS.cluster.plural),
      namespace: cr.metadata.namespace ?? 'default',
      name: cr.metadata.name,
      body: { status },
    },
    mergePatch,
  );
}

async function patchFinalizers(deps: ForwardDeps, cr: CrObject, finalizers: string[]): Promise<CrObject> {
  return (await deps.custom.patchNamespacedCustomObject(
    {
      ...crApi(KINDS.cluster.plural),
      namespace: cr.metadata.namespace ?? 'default',
      name: cr.metadata.name,
      body: { metadata: { finalizers, resourceVersion: cr.metadata.resourceVersion } },
    },
    mergePatch,
  )) as CrObject;
}

/**
 * A refusal for want of a usable KdApp: it heals without a new generation of the cluster (the app
 * is applied or fixed), so such a cluster is looked at again whenever its app changes.
 */
export const UNKNOWN_APP = 'UnknownApp';
/** The KdApp names a config package no one can fetch (a relative file:// URL); it heals when the app is fixed. */
export const UNFETCHABLE_PACKAGE = 'UnfetchablePackage';
/** The KdApp gives a version the shared catalog holds with another spec; it heals when the app gets a new version. */
export const APP_VERSION_CONFLICT = 'AppVersionConflict';
/** The cluster's spec.appVersion is a version the catalog does not hold; it heals when that version is applied. */
export const UNKNOWN_APP_VERSION = 'UnknownAppVersion';
const APP_REFUSALS: readonly string[] = [UNKNOWN_APP, UNFETCHABLE_PACKAGE, APP_VERSION_CONFLICT, UNKNOWN_APP_VERSION];

/**
 * The workflow input for this CR, or the field-named issues (and the refusal's reason) that keep it
 * from being forwarded. `pinned`: the catalog's snapshot of the CR's spec.appVersion, when the KdApp
 * object holds another version (see `pinnedAppVersion`).
 */
export function clusterInputOf(
  cr: CrObject,
  apps: Map<string, CrObject>,
  pinned?: AppSnapshot,
): { input: ClusterInput } | { issues: FieldIssue[]; reason: string } {
  const namespace = cr.metadata.namespace ?? 'default';
  const parsed = KdClusterSpec.safeParse(cr.spec);
  if (!parsed.success) return { issues: zodIssues(parsed.error, ['spec'], cr.spec), reason: 'InvalidSpec' };
  const appCr = apps.get(`${namespace}/${parsed.data.app}`);
  if (!appCr)
    return {
      issues: [
        {
          path: 'spec.app',
          message: `unknown app "${parsed.data.app}": no KdApp of that name in namespace ${namespace}`,
        },
      ],
      reason: UNKNOWN_APP,
    };
  const app = pinned ? { success: true as const, data: pinned.app } : KdAppSpec.safeParse(appCr.spec);
  if (!app.success)
    return {
      issues: [
        {
          path: 'spec.app',
          message: `KdApp ${parsed.data.app} is invalid: ${formatIssues(zodIssues(app.error, ['spec'], appCr.spec))}`,
        },
      ],
      reason: UNKNOWN_APP,
    };
  const unfetchable = unfetchablePackageIssues(app.data);
  if (unfetchable.length > 0)
    return {
      issues: unfetchable.map((issue) => ({ ...issue, path: `KdApp ${parsed.data.app}: ${issue.path}` })),
      reason: UNFETCHABLE_PACKAGE,
    };
  const issues = newClusterIssues(cr.metadata.name, parsed.data, app.data);
  if (issues.length > 0) return { issues, reason: 'InvalidSpec' };
  return { input: { namespace, name: cr.metadata.name, appName: parsed.data.app, app: app.data, spec: parsed.data } };
}

/**
 * The catalog's snapshot of the CR's spec.appVersion when the KdApp object holds another version (a
 * KdApp object holds one version; the catalog keeps the others, docs/adr/0039), undefined when the
 * object's own version is the one; the catalog's refusal of an unknown version names those it has.
 */
async function pinnedAppVersion(
  deps: ForwardDeps,
  cr: CrObject,
): Promise<{ snapshot?: AppSnapshot } | { issues: FieldIssue[] }> {
  const spec = (cr.spec ?? {}) as { app?: unknown; appVersion?: unknown };
  if (typeof spec.app !== 'string' || typeof spec.appVersion !== 'string') return {};
  const namespace = cr.metadata.namespace ?? 'default';
  const object = deps.apps.get(`${namespace}/${spec.app}`);
  if (!object || (object.spec as { version?: unknown } | undefined)?.version === spec.appVersion) return {};
  try {
    return { snapshot: await resolveAppVersion(deps.client, namespace, spec.app, spec.appVersion) };
  } catch (error) {
    if (error instanceof ValidationError) return { issues: error.issues };
    throw error;
  }
}

export async function reconcileCluster(deps: ForwardDeps, observed: CrObject): Promise<void> {
  let cr = observed;
  if (cr.metadata.deletionTimestamp) return teardown(deps, cr);
  const finalizers = cr.metadata.finalizers ?? [];
  if (!finalizers.includes(FINALIZER)) cr = await patchFinalizers(deps, cr, [...finalizers, FINALIZER]);

  const generation = cr.metadata.generation ?? 1;
  const status = (cr.status ?? {}) as KdClusterCrStatus;
  const valid = status.conditions?.find((c) => c.type === 'Valid');
  // A generation is handled once, unless it waits for its app: the app's arrival is not a new generation.
  if (status.observedGeneration === generation && !(valid?.status === 'False' && APP_REFUSALS.includes(valid.reason)))
    return;
  const now = new Date().toISOString();
  const refuse = async (reason: string, message: string) => {
    // Looked at again (its app changed, a re-list) and still refused for the same reason: told once is enough.
    if (
      status.observedGeneration === generation &&
      valid?.status === 'False' &&
      valid.reason === reason &&
      valid.message === message
    )
      return;
    const conditions = withCondition(
      status.conditions,
      { type: 'Valid', status: 'False', reason, message, observedGeneration: generation },
      now,
    );
    await patchClusterStatus(deps, cr, { observedGeneration: generation, conditions, lastError: message });
    await recordEvent(deps.core, deps.logger, cr, 'Warning', reason, message);
    deps.logger.warn({ cluster: keyOf(cr), generation, reason, message }, 'change not forwarded');
  };

  const pinned = await pinnedAppVersion(deps, cr);
  if ('issues' in pinned) return refuse(UNKNOWN_APP_VERSION, formatIssues(pinned.issues));
  const verdict = clusterInputOf(cr, deps.apps, pinned.snapshot);
  if ('issues' in verdict) return refuse(verdict.reason, formatIssues(verdict.issues));
  const { input } = verdict;
  // A spec.appVersion travels with its snapshot: if the cluster runs another version, the change is an upgrade to it.
  const target =
    input.spec.appVersion === undefined
      ? undefined
      : { name: input.appName, version: input.app.version, app: input.app };
  // The cluster pins the app version the shared catalog holds: never one the catalog refused.
  const conflict = await deps.appPuts?.get(`${input.namespace}/${input.appName}`);
  if (conflict) return refuse(APP_VERSION_CONFLICT, `KdApp ${input.appName}: ${conflict}`);
  const collisions = await memberNameCollisionIssues(deps.client, input.namespace, input.name, input.app);
  if (collisions.length > 0) return refuse('MemberNameCollision', formatIssues(collisions));
  const workflowId = clusterWorkflowId(input.namespace, input.name);
  let accepted: number;
  try {
    ({ generation: accepted } = await deps.client.workflow.executeUpdateWithStart(specChangeUpdate, {
      args: [{ spec: input.spec, ...(target ? { app: target } : {}) }],
      startWorkflowOperation: new WithStartWorkflowOperation<typeof clusterWorkflow>('clusterWorkflow', {
        ...clusterStartOptions(input),
        taskQueue: deps.taskQueue ?? TASK_QUEUE,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    }));
  } catch (error) {
    // The workflow refuses what the CR's schema cannot express, such as a changed app.
    if (error instanceof WorkflowUpdateFailedError)
      return refuse('ChangeRejected', error.cause?.message ?? error.message);
    throw error;
  }
  // Fields kdflow ignores or does not do yet are named here and in an Event, never dropped silently.
  const warnings = formatIssues([
    ...kubeDirectorWarnings('cluster', cr.spec),
    ...kubeDirectorWarnings('app', input.app).map((w) => ({ ...w, path: `app ${input.appName}: ${w.path}` })),
  ]).replaceAll('\n', '; ');
  const message =
    `generation ${generation} sent to workflow ${workflowId} (workflow generation ${accepted})` +
    (warnings ? `; warnings: ${warnings}` : '');
  const conditions = withCondition(
    status.conditions,
    { type: 'Valid', status: 'True', reason: 'Forwarded', message, observedGeneration: generation },
    now,
  );
  await patchClusterStatus(deps, cr, { observedGeneration: generation, workflowId, conditions, lastError: null });
  await recordEvent(deps.core, deps.logger, cr, 'Normal', 'Forwarded', message);
  if (warnings) await recordEvent(deps.core, deps.logger, cr, 'Warning', 'UnsupportedFields', warnings);
  deps.logger.info({ cluster: keyOf(cr), generation, workflowId, workflowGeneration: accepted }, 'change forwarded');
}

/** The finalizer holds the CR until the workflow has torn every member down. */
async function teardown(deps: ForwardDeps, cr: CrObject): Promise<void> {
  const finalizers = cr.metadata.finalizers ?? [];
  if (!finalizers.includes(FINALIZER)) return;
  const namespace = cr.metadata.namespace ?? 'default';
  const handle = deps.client.workflow.getHandle(clusterWorkflowId(namespace, cr.metadata.name));
  try {
    await handle.signal(deleteSignal);
    await recordEvent(
      deps.core,
      deps.logger,
      cr,
      'Normal',
      'Deleting',
      'delete sent to the workflow; members are being torn down',
    );
    await handle.result();
  } catch (error) {
    // No workflow (never forwarded, or already gone): nothing to tear down.
    if (!(error instanceof WorkflowNotFoundError))
      deps.logger.warn(
        { err: error, cluster: keyOf(cr) },
        'workflow did not end cleanly; removing the finalizer anyway',
      );
  }
  await patchFinalizers(
    deps,
    cr,
    finalizers.filter((f) => f !== FINALIZER),
  );
  deps.logger.info({ cluster: keyOf(cr) }, 'torn down; finalizer removed');
}
