import { parseAllDocuments } from 'yaml';
import { KdApp } from './app.ts';
import { KdCluster } from './cluster.ts';
import { API_VERSION } from './common.ts';
import { KUBEDIRECTOR_API_VERSION, convertKubeDirectorApp, convertKubeDirectorCluster } from './kubedirector.ts';
import { kubeDirectorWarnings } from './kubedirector-fields.ts';
import { ValidationError, type FieldIssue } from './rules.ts';
import { parseOrThrow } from './validate.ts';

/**
 * A valid manifest and what every command says about it before acting: fields dropped in conversion
 * and KubeDirector fields kdflow ignores or does not do yet (api/kubedirector-fields.ts).
 */
export type Manifest = (
  | { kind: 'KdApp'; value: KdApp; warnings: FieldIssue[] }
  | { kind: 'KdCluster'; value: KdCluster; warnings: FieldIssue[] }
) & {
  /** The file (and document) it was read from, for messages. */
  source: string;
};

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
    const value = parseOrThrow(KdApp, manifest, source);
    return { kind: 'KdApp', value, warnings: [...dropped, ...kubeDirectorWarnings('app', value.spec)], source };
  }
  if (apiVersion === KUBEDIRECTOR_API_VERSION && kind === 'KubeDirectorCluster') {
    const { manifest, dropped } = convertKubeDirectorCluster(doc);
    const value = parseOrThrow(KdCluster, manifest, source);
    return {
      kind: 'KdCluster',
      value,
      warnings: [...dropped, ...kubeDirectorWarnings('cluster', value.spec)],
      source,
    };
  }
  if (apiVersion === API_VERSION && kind === 'KdApp') {
    const value = parseOrThrow(KdApp, doc, source);
    return { kind, value, warnings: kubeDirectorWarnings('app', value.spec), source };
  }
  if (apiVersion === API_VERSION && kind === 'KdCluster') {
    const value = parseOrThrow(KdCluster, doc, source);
    return { kind, value, warnings: kubeDirectorWarnings('cluster', value.spec), source };
  }
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
