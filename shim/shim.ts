/**
 * The CRD shim: while it holds the Lease, it watches KdApp, KdCluster and KdAction objects, forwards
 * each new generation of a KdCluster to its workflow, starts each KdAction once (shim/actions.ts), and
 * writes status and Events back. Another shim waits
 * on the Lease, so two never forward at once; a restarted shim converges from a fresh list.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { KdAppSpec, formatIssues } from '../api/index.ts';
import { AppCatalog, sdkCatalogTransport } from '../lib/app-catalog.ts';
import { ActionRunner, isFinished } from './actions.ts';
import { CatalogMirror } from './catalog-mirror.ts';
import { recordEvent } from './events.ts';
import { APP_VERSION_CONFLICT, UNFETCHABLE_PACKAGE, reconcileCluster, type ForwardDeps } from './forward.ts';
import { unfetchablePackageIssues } from './package-check.ts';
import { startLeaderElection } from './lease.ts';
import { KINDS, crApi, keyOf, listPath, type CrObject } from './resources.ts';
import { StatusSync } from './status-sync.ts';
import { startWatchLoop } from './watch-loop.ts';

export interface ShimOptions {
  kc: KubeConfig;
  client: Client;
  logger: Logger;
  identity: string;
  leaseNamespace: string;
  leaseName?: string;
  taskQueue?: string;
  resyncMs?: number;
  statusEveryMs?: number;
}

/** One reconcile at a time per object; a change that arrives meanwhile runs once more after it. */
class KeyedQueue {
  private readonly busy = new Map<string, { next?: CrObject }>();
  private readonly work: (obj: CrObject) => Promise<void>;
  private readonly onError: (obj: CrObject, error: unknown) => void;
  constructor(work: (obj: CrObject) => Promise<void>, onError: (obj: CrObject, error: unknown) => void) {
    this.work = work;
    this.onError = onError;
  }
  push(obj: CrObject): void {
    const key = keyOf(obj);
    const slot = this.busy.get(key);
    if (slot) {
      slot.next = obj;
      return;
    }
    this.busy.set(key, {});
    void this.drain(key, obj);
  }
  private async drain(key: string, first: CrObject): Promise<void> {
    for (let obj: CrObject | undefined = first; obj;) {
      try {
        await this.work(obj);
      } catch (error) {
        this.onError(obj, error);
      }
      const slot = this.busy.get(key);
      obj = slot?.next;
      if (slot) slot.next = undefined;
    }
    this.busy.delete(key);
  }
}

export class Shim {
  private readonly options: ShimOptions;
  private readonly deps: ForwardDeps;
  private readonly mirror: CatalogMirror;
  private readonly clusters = new Map<string, CrObject>();
  private stopLeading?: () => void;
  /** The status pass in flight, so stop() never leaves a query running against a closed client. */
  private syncing: Promise<void> | undefined;
  private election?: ReturnType<typeof startLeaderElection>;

  constructor(options: ShimOptions) {
    this.options = options;
    this.deps = {
      client: options.client,
      core: options.kc.makeApiClient(CoreV1Api),
      custom: options.kc.makeApiClient(CustomObjectsApi),
      logger: options.logger,
      apps: new Map(),
      ...(options.taskQueue ? { taskQueue: options.taskQueue } : {}),
    };
    // Every KdApp generation becomes a version in the shared catalog, where earlier ones stay (docs/adr/0039).
    this.mirror = new CatalogMirror(
      new AppCatalog(sdkCatalogTransport(options.client, options.taskQueue)),
      options.logger,
      (app, message) => {
        options.logger.warn({ app: keyOf(app), message }, 'app version refused by the catalog');
        void recordEvent(this.deps.core, options.logger, app, 'Warning', APP_VERSION_CONFLICT, message, KINDS.app.kind);
      },
    );
    this.deps.appPuts = this.mirror.puts;
  }

  start(): void {
    this.election = startLeaderElection({
      kc: this.options.kc,
      namespace: this.options.leaseNamespace,
      name: this.options.leaseName ?? 'kdflow-shim',
      identity: this.options.identity,
      durationSeconds: 15,
      renewEveryMs: 2000,
      logger: this.options.logger,
      onStart: () => (this.stopLeading = this.lead()),
      onStop: () => {
        this.stopLeading?.();
        this.stopLeading = undefined;
      },
    });
  }

  isLeader(): boolean {
    return this.election?.isLeader() ?? false;
  }

  async stop(): Promise<void> {
    await this.election?.stop();
    await this.syncing;
  }

  private lead(): () => void {
    const { logger } = this.options;
    const resyncMs = this.options.resyncMs ?? 60_000;
    this.clusters.clear();
    this.deps.apps.clear();
    this.mirror.clear();
    const queue = new KeyedQueue(
      (obj) => reconcileCluster(this.deps, obj),
      (obj, error) => {
        logger.warn({ err: error, cluster: keyOf(obj) }, 'reconcile failed; retrying');
        // Conflicts and outages heal on a retry with the newest copy of the object.
        setTimeout(() => {
          const latest = this.clusters.get(keyOf(obj));
          if (latest && stillLeading()) queue.push(latest);
        }, 1000);
      },
    );
    let leading = true;
    const stillLeading = () => leading;
    const watch = (plural: string, onObject: (obj: CrObject, deleted: boolean) => void, onList?: () => void) =>
      startWatchLoop({
        kc: this.options.kc,
        path: listPath(plural),
        list: () => this.list(plural),
        resyncMs,
        logger,
        onObject,
        ...(onList ? { onList } : {}),
      });
    const watchClusters = () =>
      watch(KINDS.cluster.plural, (obj, deleted) => {
        if (deleted) {
          this.clusters.delete(keyOf(obj));
          return;
        }
        this.clusters.set(keyOf(obj), obj);
        queue.push(obj);
      });
    let clusters: { stop(): void } | undefined;
    const apps = watch(
      KINDS.app.plural,
      (obj, deleted) => {
        if (deleted) {
          this.deps.apps.delete(keyOf(obj));
          this.mirror.forget(obj);
        } else {
          this.deps.apps.set(keyOf(obj), obj);
          this.warnIfUnfetchable(obj);
          void this.mirror.mirror(obj);
        }
        // A cluster refused for want of this app is looked at again.
        for (const cr of this.clusters.values())
          if (
            cr.metadata.namespace === obj.metadata.namespace &&
            (cr.spec as { app?: string } | undefined)?.app === obj.metadata.name
          )
            queue.push(cr);
      },
      // Clusters only once every app is known: a new leader must not refuse a cluster for an app it has not listed yet.
      () => {
        if (stillLeading()) clusters ??= watchClusters();
      },
    );
    const runner = new ActionRunner(this.deps);
    const actionObjects = new Map<string, CrObject>();
    const actionQueue = new KeyedQueue(
      (obj) => runner.reconcile(obj),
      (obj, error) => {
        logger.warn({ err: error, action: keyOf(obj) }, 'action reconcile failed; retrying');
        setTimeout(() => {
          const latest = actionObjects.get(keyOf(obj));
          if (latest && stillLeading()) actionQueue.push(latest);
        }, 1000);
      },
    );
    const actions = watch(KINDS.action.plural, (obj, deleted) => {
      if (deleted) {
        actionObjects.delete(keyOf(obj));
        runner.forget(obj);
        return;
      }
      actionObjects.set(keyOf(obj), obj);
      actionQueue.push(obj);
    });
    const sync = new StatusSync(this.deps);
    const timer = setInterval(() => {
      // A running KdAction is followed every tick (one small query while its cluster's status stands still).
      for (const obj of actionObjects.values()) if (!isFinished(runner.statusOf(obj))) actionQueue.push(obj);
      if (this.syncing) return;
      this.syncing = sync.tick([...this.clusters.values()]).finally(() => (this.syncing = undefined));
    }, this.options.statusEveryMs ?? 1000);
    return () => {
      leading = false;
      clearInterval(timer);
      apps.stop();
      clusters?.stop();
      actions.stop();
    };
  }

  /** Apps already told about, by uid and generation: a re-list does not repeat the Event. */
  private readonly warnedApps = new Set<string>();

  /** A Warning Event on a KdApp whose package can never be fetched, once per generation; its clusters are refused too (forward.ts). */
  private warnIfUnfetchable(app: CrObject): void {
    const parsed = KdAppSpec.safeParse(app.spec);
    if (!parsed.success) return;
    const issues = unfetchablePackageIssues(parsed.data);
    const key = `${app.metadata.uid}/${app.metadata.generation}`;
    if (issues.length === 0 || this.warnedApps.has(key)) return;
    this.warnedApps.add(key);
    const message = formatIssues(issues);
    this.options.logger.warn({ app: keyOf(app), message }, 'app package can never be fetched');
    void recordEvent(this.deps.core, this.options.logger, app, 'Warning', UNFETCHABLE_PACKAGE, message, KINDS.app.kind);
  }

  private async list(plural: string): Promise<{ items: CrObject[]; resourceVersion?: string }> {
    const listed = (await this.deps.custom.listClusterCustomObject(crApi(plural))) as {
      items: CrObject[];
      metadata?: { resourceVersion?: string };
    };
    return {
      items: listed.items,
      ...(listed.metadata?.resourceVersion ? { resourceVersion: listed.metadata.resourceVersion } : {}),
    };
  }
}
