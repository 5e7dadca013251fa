/**
 * KdApp objects and the shared catalog (docs/adr/0039): a KdApp object holds one version of an app,
 * the current one; each new generation of it is put into the namespace's catalog in Temporal, where
 * earlier versions stay after the object moves on, for the clusters created with them and for
 * upgrades and rollbacks. A version the catalog holds with another spec is refused: a Warning Event
 * on the KdApp, and its clusters wait (forward.ts) until the app gets a new version.
 */
import type { Logger } from 'pino';
import { CatalogRefusal, KdAppSpec } from '../api/index.ts';
import type { AppCatalog } from '../lib/app-catalog.ts';
import { unfetchablePackageIssues } from './package-check.ts';
import { keyOf, type CrObject } from './resources.ts';

export class CatalogMirror {
  private readonly catalog: Pick<AppCatalog, 'put'>;
  private readonly logger: Logger;
  private readonly onRefused: (app: CrObject, message: string) => void;
  /** The put of each object's newest generation, by namespace/name; settles to a refusal or undefined. */
  readonly puts = new Map<string, Promise<string | undefined>>();
  private readonly generations = new Map<string, string>();

  constructor(catalog: Pick<AppCatalog, 'put'>, logger: Logger, onRefused: (app: CrObject, message: string) => void) {
    this.catalog = catalog;
    this.logger = logger;
    this.onRefused = onRefused;
  }

  /** Puts the object's version once per generation (again after a failure that was not a refusal); resolves when done. */
  mirror(app: CrObject): Promise<string | undefined> {
    const key = keyOf(app);
    const generation = `${app.metadata.uid}/${app.metadata.generation}`;
    const pending = this.puts.get(key);
    if (pending && this.generations.get(key) === generation) return pending;
    this.generations.set(key, generation);
    const parsed = KdAppSpec.safeParse(app.spec);
    // An invalid or unfetchable app is refused by forward.ts with its own reason; nothing to put.
    if (!parsed.success || unfetchablePackageIssues(parsed.data).length > 0) {
      this.puts.delete(key);
      return Promise.resolve(undefined);
    }
    const namespace = app.metadata.namespace ?? 'default';
    const put = this.catalog
      .put(namespace, {
        apiVersion: 'kdflow.dev/v1beta1',
        kind: 'KdApp',
        metadata: { name: app.metadata.name, namespace },
        spec: parsed.data,
      })
      .then(
        (result) => {
          this.logger.info(
            { app: key, version: result.version, outcome: result.outcome },
            'app version in the catalog',
          );
          return undefined;
        },
        (error: unknown) => {
          if (error instanceof CatalogRefusal) {
            this.onRefused(app, error.message);
            return error.message;
          }
          // Not refused, not done (Temporal away): the next re-list tries again.
          this.generations.delete(key);
          this.logger.warn(
            { err: error, app: key },
            'could not put the app version into the catalog; retrying at the next re-list',
          );
          return undefined;
        },
      );
    this.puts.set(key, put);
    return put;
  }

  clear(): void {
    this.puts.clear();
    this.generations.clear();
  }

  forget(app: CrObject): void {
    this.puts.delete(keyOf(app));
    this.generations.delete(keyOf(app));
  }
}
