/**
 * What the workflow sandbox may import from api/: the shapes, names, messages and rules a cluster
 * workflow needs, and nothing of the edges (KubeDirector conversion, manifests, CRDs, CR status,
 * configmeta). workflows/preload.ts loads it once per worker, shared by every cached workflow
 * (docs/adr/0013); scripts/lint-workflows.ts keeps workflows/ on it.
 */
export * from './common.ts';
export * from './cardinality.ts';
export * from './app.ts';
export * from './cluster.ts';
export * from './names.ts';
export * from './ranges.ts';
export * from './status.ts';
export * from './validate.ts';
export * from './messages.ts';
export * from './search-attributes.ts';
