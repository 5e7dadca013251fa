/**
 * An app version means one set of package bytes (docs/adr/0039): an http(s) package applied without a
 * `sha256` is fetched once by `kdflow app apply` and pinned to the digest it has then, so that every
 * worker, and every later install of that version (a grow, a retry, a rollback), gets those bytes or
 * refuses. A version already in the catalog keeps the pin it has for the same URL (nothing is fetched).
 * file:// URLs and directories are not pinned: they are paths where the package is read (ADR 0029),
 * the author's loop edits them in place.
 */
import { createHash } from 'node:crypto';
import { ValidationError, type ConfigPackage, type FieldIssue, type KdAppSpec } from '../api/index.ts';
import { PACKAGE_LIMITS } from '../runtimes/config-package.ts';
import { fetchHttp } from '../runtimes/package-fetch.ts';

export interface Pin {
  path: string;
  url: string;
  sha256: string;
}

/** The SHA-256 of what an http(s) URL serves, within the package size limit. */
export async function httpDigest(url: string): Promise<string> {
  const hash = createHash('sha256');
  const sink = {
    bytes: 0,
    limit: PACKAGE_LIMITS.archiveBytes,
    async write(chunk: Uint8Array) {
      sink.bytes += chunk.byteLength;
      if (sink.bytes > sink.limit) throw new Error(`${url} is larger than ${sink.limit} bytes`);
      hash.update(chunk);
    },
  };
  await fetchHttp(url, sink, {});
  return hash.digest('hex');
}

/** The app with every http(s) package pinned, and the pins made now (none for packages pinned already). */
export async function pinPackages(
  app: KdAppSpec,
  known: KdAppSpec | undefined,
  digest: (url: string) => Promise<string> = httpDigest,
): Promise<{ app: KdAppSpec; pinned: Pin[] }> {
  const knownPins = new Map<string, string>();
  for (const pkg of packagesOf(known))
    if (pkg.pkg.sha256 && isHttp(pkg.pkg.packageURL)) knownPins.set(pkg.pkg.packageURL, pkg.pkg.sha256);
  const pinned: Pin[] = [];
  const issues: FieldIssue[] = [];
  const fetched = new Map<string, Promise<string>>();
  const pin = async (path: string, pkg: ConfigPackage | undefined): Promise<ConfigPackage | undefined> => {
    if (!pkg || pkg.sha256 || !isHttp(pkg.packageURL)) return pkg;
    const url = pkg.packageURL;
    const reused = knownPins.get(url);
    if (reused) return { ...pkg, sha256: reused };
    try {
      if (!fetched.has(url)) fetched.set(url, digest(url));
      const sha256 = await (fetched.get(url) as Promise<string>);
      if (!pinned.some((p) => p.url === url)) pinned.push({ path, url, sha256 });
      return { ...pkg, sha256 };
    } catch (error) {
      issues.push({
        path: `${path}.packageURL`,
        message: `could not fetch ${url} to pin its sha256 (${(error as Error).message}); give configPackage.sha256 in the app to apply it without fetching`,
      });
      return pkg;
    }
  };
  const out: KdAppSpec = {
    ...app,
    defaultConfigPackage: await pin('spec.defaultConfigPackage', app.defaultConfigPackage),
    roles: await Promise.all(
      app.roles.map(async (r, i) => ({
        ...r,
        configPackage: await pin(`spec.roles[${i}].configPackage`, r.configPackage),
      })),
    ),
  };
  if (out.defaultConfigPackage === undefined) delete out.defaultConfigPackage;
  for (const r of out.roles) if (r.configPackage === undefined) delete r.configPackage;
  if (issues.length > 0) throw new ValidationError(issues);
  return { app: out, pinned };
}

const isHttp = (url: string) => /^https?:\/\//i.test(url);

function packagesOf(app: KdAppSpec | undefined): { pkg: NonNullable<ConfigPackage> }[] {
  if (!app) return [];
  return [app.defaultConfigPackage, ...app.roles.map((r) => r.configPackage)].flatMap((pkg) => (pkg ? [{ pkg }] : []));
}
