/**
 * The app catalog on this machine: $KDFLOW_HOME/apps/<namespace>/<name>.json. A cluster keeps its own
 * snapshot of the app from the moment it is created, so editing the catalog never changes a live cluster.
 */
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { KdApp, ValidationError, parseOrThrow, type ConfigPackage } from '../api/index.ts';
import { cleanPackageCache, packageCacheDir, type CleanOptions } from '../runtimes/package-cache.ts';

export class AppCatalog {
  private readonly home: string;
  private readonly root: string;
  constructor(home: string) {
    this.home = home;
    this.root = path.join(home, 'apps');
  }

  async put(namespace: string, app: KdApp): Promise<void> {
    const dir = path.join(this.root, namespace);
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${app.metadata.name}.json`);
    await writeFile(`${file}.tmp`, `${JSON.stringify(app, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
    // An app that moved to another package leaves the old one unused. Housekeeping: never fails an apply.
    await pruneUnusedPackages(this.home).catch(() => undefined);
  }

  async get(namespace: string, name: string): Promise<KdApp> {
    const file = path.join(this.root, namespace, `${name}.json`);
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined)
      throw new ValidationError([
        {
          path: 'spec.app',
          message: `unknown app "${name}" in namespace "${namespace}"; apply it first with: kdflow app apply -f FILE`,
        },
      ]);
    return parseOrThrow(KdApp, JSON.parse(text), file);
  }

  /** The config package URL of every role of every app, in every namespace. */
  async packageURLs(): Promise<Set<string>> {
    const urls = new Set<string>();
    for (const namespace of await readdir(this.root).catch(() => [] as string[])) {
      for (const entry of await readdir(path.join(this.root, namespace)).catch(() => [] as string[])) {
        if (!entry.endsWith('.json')) continue;
        const app = await this.get(namespace, entry.slice(0, -'.json'.length)).catch(() => undefined);
        if (!app) continue;
        const { defaultConfigPackage, roles } = app.spec;
        for (const pkg of [defaultConfigPackage, ...roles.map((r) => r.configPackage)])
          if (pkg) urls.add(pkg.packageURL);
      }
    }
    return urls;
  }

  async list(namespace: string): Promise<KdApp[]> {
    const entries = await readdir(path.join(this.root, namespace)).catch(() => [] as string[]);
    return Promise.all(
      entries.filter((e) => e.endsWith('.json')).map((e) => this.get(namespace, e.slice(0, -'.json'.length))),
    );
  }
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
 * Removes cached packages no app in the catalog uses (see runtimes/package-cache.ts). Runs at worker
 * start and after every app apply; clusters keep working, since every install fetches its package again.
 */
export async function pruneUnusedPackages(home: string, options?: CleanOptions): Promise<string[]> {
  return cleanPackageCache(packageCacheDir(home), await new AppCatalog(home).packageURLs(), options);
}
