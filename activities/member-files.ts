/**
 * What a member gets besides configmeta and its package, before --configure (docs/adr/0045):
 * - `fileInjections`: each `srcURL` into `destDir/<its file name>`, with `permissions`, as KubeDirector's
 *   in-pod `curl -L` does. http(s) is fetched by the worker; `file://` follows ADR 0029: inside the
 *   member's image on Kubernetes (copied inside the pod), on the worker's machine on the local runtime.
 * - the role's `secret` (or the cluster's `defaultSecret`) on the local runtime, which has no Secret
 *   volumes: the Secret `kdflow apply` stored, one file per key at `mountPath`, as a volume shows it.
 *   On Kubernetes it is a Secret volume of the Pod (runtimes/kubernetes/objects.ts).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FileInjection, MemberSecret, ObjectKind, StoredObject } from '../api/index.ts';
import { PACKAGE_LIMITS } from '../runtimes/config-package.ts';
import { RuntimeError } from '../runtimes/errors.ts';
import { fetchHttp, type FetchOptions } from '../runtimes/package-fetch.ts';
import type { MemberTarget, Runtime } from '../runtimes/runtime.ts';

/** A Secret volume's files are 0644 unless `defaultMode` says otherwise, as in Kubernetes. */
const SECRET_DEFAULT_MODE = 0o644;
const INJECTED_DEFAULT_MODE = 0o644;

/** Copies a file of the member's image into place, inside the member: values only as positional parameters. */
const COPY_IN_MEMBER = 'mkdir -p "$KDFLOW_MEMBER_ROOT$2" && cp "$KDFLOW_MEMBER_ROOT$1" "$KDFLOW_MEMBER_ROOT$2/$3"';
const CHANGE_OWNER = 'chown "$1" "$KDFLOW_MEMBER_ROOT$2"';
const CHANGE_GROUP = 'chgrp "$1" "$KDFLOW_MEMBER_ROOT$2"';
const CHANGE_MODE = 'chmod "$1" "$KDFLOW_MEMBER_ROOT$2"';

async function execOrFail(runtime: Runtime, member: MemberTarget, argv: string[], what: string): Promise<void> {
  const result = await runtime.exec(member, argv);
  if (result.exitCode !== 0)
    throw new RuntimeError(
      'FileInjectionFailed',
      `${what} on ${member.name} failed: ${result.stderr.trim().split('\n').at(-1) ?? result.message ?? `exit ${result.exitCode}`}`,
      true,
    );
}

/** The bytes of an http(s) source, bounded as a config package is. */
async function fetchBytes(url: string, options: FetchOptions): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const sink = {
    bytes: 0,
    limit: PACKAGE_LIMITS.archiveBytes,
    async write(chunk: Uint8Array) {
      sink.bytes += chunk.length;
      if (sink.bytes > sink.limit)
        throw new RuntimeError('FileInjectionFailed', `${url} is larger than ${sink.limit} bytes`, true);
      chunks.push(chunk);
    },
  };
  await fetchHttp(url, sink, options);
  return Buffer.concat(chunks);
}

export async function injectFiles(
  runtime: Runtime,
  member: MemberTarget,
  injections: FileInjection[],
  options: FetchOptions,
): Promise<void> {
  for (const injection of injections) {
    const name = path.posix.basename(new URL(injection.srcURL).pathname);
    const dest = path.posix.join(injection.destDir, name);
    const mode = injection.permissions?.fileMode ?? INJECTED_DEFAULT_MODE;
    if (injection.srcURL.startsWith('file://') && runtime.kind !== 'local') {
      // KubeDirector's rule: a file:// source is a path inside the member's image.
      const source = fileURLToPath(injection.srcURL);
      await execOrFail(
        runtime,
        member,
        ['sh', '-c', COPY_IN_MEMBER, 'kdflow', source, injection.destDir, name],
        `copying ${source} to ${dest}`,
      );
      await execOrFail(runtime, member, ['sh', '-c', CHANGE_MODE, 'kdflow', mode.toString(8), dest], `chmod ${dest}`);
    } else {
      const content = injection.srcURL.startsWith('file://')
        ? await readFile(fileURLToPath(injection.srcURL)).catch((error: NodeJS.ErrnoException) => {
            throw new RuntimeError(
              'FileInjectionFailed',
              `file injection ${injection.srcURL} cannot be read on the worker's machine (${error.code ?? error.message}; on the local runtime a file:// URL is a path there)`,
              true,
            );
          })
        : await fetchBytes(injection.srcURL, options);
      await runtime.writeFiles(member, [{ path: dest, content, mode }]);
    }
    const { fileOwner, fileGroup } = injection.permissions ?? {};
    if (fileOwner)
      await execOrFail(runtime, member, ['sh', '-c', CHANGE_OWNER, 'kdflow', fileOwner, dest], `chown ${dest}`);
    if (fileGroup)
      await execOrFail(runtime, member, ['sh', '-c', CHANGE_GROUP, 'kdflow', fileGroup, dest], `chgrp ${dest}`);
  }
}

/** The local runtime's stand-in for a Secret volume: the stored Secret's keys as files at `mountPath`. */
export async function writeSecretFiles(
  runtime: Runtime,
  member: MemberTarget,
  secret: MemberSecret,
  read: (kind: ObjectKind, namespace: string, name: string) => Promise<StoredObject | undefined>,
): Promise<void> {
  const object = await read('Secret', member.namespace, secret.name);
  if (!object)
    throw new RuntimeError(
      'SecretNotFound',
      `secret ${member.namespace}/${secret.name} not found: on the local runtime, kdflow apply -f its manifest (apiVersion v1, kind Secret) first`,
      true,
    );
  const mode = secret.defaultMode ?? SECRET_DEFAULT_MODE;
  await runtime.writeFiles(
    member,
    Object.entries(object.data)
      // A key is a file name in the volume: nothing that climbs out of it.
      .filter(([key]) => /^[-._a-zA-Z0-9]+$/.test(key) && key !== '.' && key !== '..')
      .map(([key, value]) => ({
        path: path.posix.join(secret.mountPath, key),
        content: Buffer.from(value, 'base64'),
        mode,
      })),
  );
}
