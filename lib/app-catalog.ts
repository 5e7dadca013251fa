/**
 * The shared app catalog, as clients see it (docs/adr/0039): one catalog workflow per namespace in
 * Temporal (`kdcatalog:NAMESPACE`, workflows/catalog.ts) holds every version of every app, so every
 * CLI, worker and shim that reaches the namespace sees the same catalog, whatever its KDFLOW_HOME. A
 * cluster keeps its own snapshot of the app version it was created with, so changing the catalog
 * never changes a live cluster.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Client } from '@temporalio/client';
// zod-free imports only: `kdflow app list` and `app get` load no schema (ADR 0036).
import type { ConfigPackage, KdApp } from '../api/app.ts';
import {
  CatalogRefusal,
  catalogWorkflowId,
  unknownVersionMessage,
  type AppSnapshot,
  type AppVersionAnswer,
  type CatalogListing,
  type DeleteAppVersionResult,
  type PutAppResult,
} from '../api/catalog.ts';
import { appVersionQuery, catalogListQuery, deleteAppVersionUpdate, putAppUpdate } from '../api/messages.ts';
import { TASK_QUEUE } from '../api/names.ts';
import { ValidationError } from '../api/rules.ts';
import { cleanPackageCache, packageCacheDir, type CleanOptions } from '../runtimes/package-cache.ts';

/** How the catalog reaches Temporal: the CLI reads through its lean client, everything else through the SDK's. */
export interface CatalogTransport {
  /** A query of the namespace's catalog workflow; undefined when that workflow does not exist yet (an empty catalog). */
  query(namespace: string, query: string, args: unknown[]): Promise<unknown>;
  /** An update of the catalog workflow, starting it when there is none. Refusals throw CatalogRefusal. */
  update(namespace: string, update: string, args: unknown[]): Promise<unknown>;
}

export class AppCatalog {
  private readonly transport: CatalogTransport;
  constructor(transport: CatalogTransport) {
    this.transport = transport;
  }

  /** Adds the app's version (or makes an identical one current again); a different spec under a version there is refused. */
  async put(namespace: string, app: KdApp): Promise<PutAppResult> {
    return (await this.transport.update(namespace, putAppUpdate.name, [
      { name: app.metadata.name, app: app.spec },
    ])) as PutAppResult;
  }

  /** One version of an app (the current one when `version` is absent), or what versions there are instead. */
  async find(namespace: string, name: string, version?: string): Promise<AppVersionAnswer> {
    const answer = (await this.transport.query(namespace, appVersionQuery.name, [
      { name, ...(version !== undefined ? { version } : {}) },
    ])) as AppVersionAnswer | undefined;
    return answer ?? { versions: [] };
  }

  /** One version of an app, or a ValidationError on `field` naming the versions there are. */
  async get(namespace: string, name: string, version?: string, field = 'spec.app'): Promise<AppSnapshot> {
    const answer = await this.find(namespace, name, version);
    if ('snapshot' in answer) return answer.snapshot;
    throw new ValidationError([{ path: field, message: unknownVersionMessage({ name, version }, answer, namespace) }]);
  }

  async list(namespace: string): Promise<CatalogListing[]> {
    return ((await this.transport.query(namespace, catalogListQuery.name, [])) as CatalogListing[] | undefined) ?? [];
  }

  async delete(namespace: string, name: string, version: string): Promise<DeleteAppVersionResult> {
    return (await this.transport.update(namespace, deleteAppVersionUpdate.name, [
      { name, version },
    ])) as DeleteAppVersionResult;
  }
}

/** The SDK's client as a catalog transport: for workers, the shim, tests, and the CLI's writes. */
export function sdkCatalogTransport(client: Client, taskQueue = TASK_QUEUE): CatalogTransport {
  return {
    async query(namespace, query, args) {
      const { WorkflowNotFoundError } = await import('@temporalio/client');
      try {
        return await client.workflow.getHandle(catalogWorkflowId(namespace)).query(query, ...args);
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return undefined;
        throw catalogReadError(namespace, error);
      }
    },
    async update(namespace, update, args) {
      const { WithStartWorkflowOperation, WorkflowUpdateFailedError, ApplicationFailure } =
        await import('@temporalio/client');
      try {
        return await client.workflow.executeUpdateWithStart(update, {
          args,
          startWorkflowOperation: new WithStartWorkflowOperation('catalogWorkflow', {
            workflowId: catalogWorkflowId(namespace),
            taskQueue,
            args: [],
            workflowIdConflictPolicy: 'USE_EXISTING',
            staticSummary: `app catalog of namespace ${namespace}`,
          }),
        });
      } catch (error) {
        const cause = error instanceof WorkflowUpdateFailedError ? error.cause : undefined;
        if (cause instanceof ApplicationFailure && cause.type)
          throw new CatalogRefusal(cause.type as CatalogRefusal['type'], cause.message);
        throw error;
      }
    },
  };
}

/** A query that did not get an answer: most often no worker polls the task queue. */
export function catalogReadError(namespace: string, error: unknown): Error {
  const reason = (error as Error)?.message ?? String(error);
  return new Error(
    `could not read the app catalog of namespace ${namespace} (${reason.split('\n')[0]}); the catalog workflow answers through a kdflow worker: is one running? (npm run worker)`,
    { cause: error },
  );
}

/**
 * The app snapshot a cluster is created from, or an upgrade or rollback moves it to: `version` of app
 * `name` in `namespace`, the current version when absent. Throws a ValidationError on `spec.app`
 * (unknown app) or `spec.appVersion` (unknown version) naming the versions there are.
 */
export async function resolveAppVersion(
  client: Client,
  namespace: string,
  name: string,
  version?: string,
): Promise<AppSnapshot> {
  const catalog = new AppCatalog(sdkCatalogTransport(client));
  return catalog.get(namespace, name, version, version === undefined ? 'spec.app' : 'spec.appVersion');
}

/** file://./x and plain relative paths are relative to the manifest; the stored app holds absolute URLs. */
export function resolvePackageURLs(app: KdApp, manifestDir: string): KdApp {
  const resolve = (pkg: ConfigPackage | undefined): ConfigPackage | undefined => {
    if (!pkg) return pkg;
    const url = pkg.packageURL;
    if (/^(https?|file):\/\/\//.test(url) || /^https?:\/\//.test(url)) return pkg;
    const relative = url.startsWith('file://') ? url.slice('file://'.length) : url;
    return { ...pkg, packageURL: pathToFileURL(path.resolve(manifestDir, relative)).href };
  };
  return {
    ...app,
    spec: {
      ...app.spec,
      defaultConfigPackage: resolve(app.spec.defaultConfigPackage),
      roles: app.spec.roles.map((r) => ({ ...r, configPackage: resolve(r.configPackage) })),
    },
  };
}

/**
 * Removes cached packages not fetched within the grace period (see runtimes/package-cache.ts). Runs at
 * worker start. Nothing is read back from the cache (every install fetches again), so the shared
 * catalog need not be asked which packages are in use.
 */
export async function pruneUnusedPackages(home: string, options?: CleanOptions): Promise<string[]> {
  return cleanPackageCache(packageCacheDir(home), [], options);
}
