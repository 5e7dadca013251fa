/**
 * A KdApp applied with kubectl arrives without the directory of its manifest, so a relative package
 * location (`file://./appconfig`, `appconfig`) can never be fetched: not by the worker, wherever it
 * runs, and not from a pod. The CLI resolves such paths against the manifest when it applies the app
 * (lib/app-catalog.ts); the shim cannot, and refuses the app by name and field instead of letting every
 * member fail in `config error` later.
 */
import { fileURLToPath } from 'node:url';
import type { FieldIssue, KdAppSpec } from '../api/index.ts';

/** Why `url` can never be fetched, or undefined when it can be (an absolute file:// URL or path, or http(s)://). */
export function unfetchableReason(url: string): string | undefined {
  if (/^https?:\/\//i.test(url)) return undefined;
  if (url.startsWith('file:')) {
    try {
      fileURLToPath(url);
      return undefined;
    } catch {
      return 'a relative file:// URL';
    }
  }
  if (url.startsWith('/')) return undefined;
  return /^[a-z][a-z0-9+.-]*:/i.test(url) ? 'a scheme kdflow does not fetch' : 'a relative path';
}

const HINT =
  "kubectl does not send the manifest's directory, so give an absolute file:///path the worker can read, or an http(s):// URL (kdflow app apply -f resolves relative paths; the shim cannot)";

/** Each package location of the app that can never be fetched, named by its field. */
export function unfetchablePackageIssues(app: KdAppSpec): FieldIssue[] {
  const packages: [string, string | undefined][] = [
    ['spec.defaultConfigPackage.packageURL', app.defaultConfigPackage?.packageURL],
    ...app.roles.map((role, i): [string, string | undefined] => [
      `spec.roles[${i}].configPackage.packageURL`,
      role.configPackage?.packageURL,
    ]),
  ];
  return packages.flatMap(([path, url]) => {
    const reason = url === undefined ? undefined : unfetchableReason(url);
    return reason ? [{ path, message: `got "${url}", ${reason}, which can never be fetched; ${HINT}` }] : [];
  });
}
