/**
 * The local runtime's ConfigMaps and Secrets (docs/adr/0044): what `kdflow apply -f` took, one JSON
 * file per object under the kdflow home, private to its user (0600 in 0700 directories: a Secret is
 * in here). The worker reads them when a cluster connects to them. Names are checked by the manifest
 * schemas (cluster-name rules) before they become file names, and again here.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { clusterNamePattern, dnsLabelPattern } from '../api/fields.ts';
import type { ObjectKind, StoredObject } from '../api/objects.ts';

const DIRS: Record<ObjectKind, string> = { ConfigMap: 'configmaps', Secret: 'secrets' };

function objectFile(home: string, kind: ObjectKind, namespace: string, name: string): string {
  if (!dnsLabelPattern('namespace').regex.test(namespace) || !clusterNamePattern('name').regex.test(name))
    throw new Error(`not a valid ${kind} namespace/name: ${JSON.stringify(`${namespace}/${name}`)}`);
  return path.join(home, 'objects', namespace, DIRS[kind], `${name}.json`);
}

export async function putObject(home: string, namespace: string, object: StoredObject): Promise<void> {
  const file = objectFile(home, object.kind, namespace, object.metadata.name);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await chmod(path.join(home, 'objects'), 0o700);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ ...object, metadata: { ...object.metadata, namespace } })}\n`, {
    mode: 0o600,
  });
  await rename(tmp, file);
}

/** The stored object, or undefined when there is none. */
export async function getObject(
  home: string,
  kind: ObjectKind,
  namespace: string,
  name: string,
): Promise<StoredObject | undefined> {
  const text = await readFile(objectFile(home, kind, namespace, name), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  return text === undefined ? undefined : (JSON.parse(text) as StoredObject);
}
