import { parseAllDocuments } from 'yaml';
import { KdApp } from './app.ts';
import { KdCluster } from './cluster.ts';
import { API_VERSION } from './common.ts';
import { KUBEDIRECTOR_API_VERSION, convertKubeDirectorApp, convertKubeDirectorCluster } from './kubedirector.ts';
import { ValidationError } from './rules.ts';
import { parseOrThrow } from './validate.ts';

export type Manifest =
  { kind: 'KdApp'; value: KdApp; dropped: string[] } | { kind: 'KdCluster'; value: KdCluster; dropped: string[] };

/** Parse the text of a JSON or YAML file (one or more documents) into validated kdflow kinds. */
export function parseManifests(text: string, source: string): Manifest[] {
  const docs = parseAllDocuments(text);
  const out: Manifest[] = [];
  docs.forEach((doc, index) => {
    const where = docs.length > 1 ? `${source} (document ${index + 1})` : source;
    if (doc.errors.length > 0) {
      throw new ValidationError(
        [{ path: '', message: `not valid JSON or YAML: ${doc.errors[0]?.message.split('\n')[0]}` }],
        where,
      );
    }
    let raw: unknown;
    try {
      raw = doc.toJS();
    } catch (error) {
      // Such as the yaml library's guard against alias ("billion laughs") expansion.
      throw new ValidationError([{ path: '', message: `not valid JSON or YAML: ${(error as Error).message}` }], where);
    }
    if (raw === null || raw === undefined) return;
    out.push(toManifest(raw, where));
  });
  if (out.length === 0) throw new ValidationError([{ path: '', message: 'the file holds no manifest' }], source);
  return out;
}

export function toManifest(raw: unknown, source: string): Manifest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ValidationError(
      [{ path: '', message: 'a manifest must be an object with apiVersion, kind, metadata and spec' }],
      source,
    );
  }
  const doc = raw as Record<string, unknown>;
  const { apiVersion, kind } = doc;
  if (apiVersion === KUBEDIRECTOR_API_VERSION && kind === 'KubeDirectorApp') {
    const { manifest, dropped } = convertKubeDirectorApp(doc);
    return { kind: 'KdApp', value: parseOrThrow(KdApp, manifest, source), dropped };
  }
  if (apiVersion === KUBEDIRECTOR_API_VERSION && kind === 'KubeDirectorCluster') {
    const { manifest, dropped } = convertKubeDirectorCluster(doc);
    return { kind: 'KdCluster', value: parseOrThrow(KdCluster, manifest, source), dropped };
  }
  if (apiVersion === API_VERSION && kind === 'KdApp')
    return { kind, value: parseOrThrow(KdApp, doc, source), dropped: [] };
  if (apiVersion === API_VERSION && kind === 'KdCluster')
    return { kind, value: parseOrThrow(KdCluster, doc, source), dropped: [] };
  const path = apiVersion !== API_VERSION && apiVersion !== KUBEDIRECTOR_API_VERSION ? 'apiVersion' : 'kind';
  throw new ValidationError(
    [
      {
        path,
        message: `expected apiVersion ${API_VERSION} (kind KdApp or KdCluster) or ${KUBEDIRECTOR_API_VERSION} (kind KubeDirectorApp or KubeDirectorCluster), got ${JSON.stringify(apiVersion)} / ${JSON.stringify(kind)}`,
      },
    ],
    source,
  );
}
