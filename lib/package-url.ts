/**
 * What a config package's `file://` URL means (docs/adr/0029). In KubeDirector it is a path inside the
 * member's image. The local runtime has no image: there it is a path on the worker's machine, and a
 * relative `file://x.tgz` or a plain directory is the CLI's convenience, resolved against the manifest
 * when the app is applied (lib/app-catalog.ts). So an image-style path that is not on this machine
 * (`file:///opt/configscripts/x.tgz`) can never work locally: it is refused when the app or a cluster
 * of it is applied, saying why and what to use, instead of ending in a late `config error`.
 */
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FieldIssue, KdAppSpec } from '../api/index.ts';
import { runtimeKind } from './config.ts';

/** Every package URL of an app with its field path. */
function packageURLs(app: KdAppSpec): { path: string; url: string }[] {
  return [
    ...(app.defaultConfigPackage
      ? [{ path: 'spec.defaultConfigPackage.packageURL', url: app.defaultConfigPackage.packageURL }]
      : []),
    ...app.roles.flatMap((role, i) =>
      role.configPackage
        ? [{ path: `spec.roles[${i}].configPackage.packageURL`, url: role.configPackage.packageURL }]
        : [],
    ),
  ];
}

/** The app's `file://` packages that cannot be read on the local runtime; none on another runtime. */
export async function localPackageIssues(app: KdAppSpec, runtime = runtimeKind()): Promise<FieldIssue[]> {
  if (runtime !== 'local') return [];
  const issues: FieldIssue[] = [];
  for (const { path, url } of packageURLs(app)) {
    if (!url.startsWith('file://')) continue;
    let local: string;
    try {
      local = fileURLToPath(url);
    } catch {
      issues.push({ path, message: `${url} is not a valid file:// URL` });
      continue;
    }
    if (await stat(local).catch(() => undefined)) continue;
    issues.push({
      path,
      message:
        `${url} is not on this machine. On the local runtime a file:// URL is a path on the worker's machine ` +
        `(KubeDirector's file:// is a path inside the member's image, and local members have no image): ` +
        `give the package's path here (file:///abs/path/x.tgz, or file://x.tgz or a directory relative to the manifest), ` +
        `or an http(s):// URL`,
    });
  }
  return issues;
}
