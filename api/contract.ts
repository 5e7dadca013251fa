/**
 * What the workflow sandbox may import from api/: the shapes (as types), names, messages and rules
 * a cluster workflow needs, and nothing of the edges (KubeDirector conversion, manifests, CRDs, CR
 * status, configmeta) and no zod: the schemas are types here, and the workflow checks its input and
 * changes with light-check.ts (docs/adr/0013). Every module below is free of per-workflow state, so
 * the worker loads the workflow code once and every cached workflow shares it (workflows/preload.ts);
 * scripts/lint-workflows.ts keeps workflows/ on this file and this file free of zod.
 */
export * from './fields.ts';
export * from './cardinality.ts';
export * from './names.ts';
export * from './ranges.ts';
export * from './rules.ts';
export * from './light-check.ts';
export * from './messages.ts';
export * from './catalog.ts';
export * from './actions.ts';
export * from './hooks.ts';
export * from './search-attributes.ts';
export * from './rolling.ts';
export type { EventName, Resources, ScriptEvent } from './common.ts';
export type {
  ActionParam,
  AppAction,
  AppHook,
  AppHooks,
  AppRole,
  AppService,
  ConfigPackage,
  KdAppSpec,
  RetryKnobs,
  RoleOrder,
} from './app.ts';
export type { ClusterRole, EnvVar, KdClusterSpec } from './cluster.ts';
export type {
  ActionStatus,
  MemberActionResult,
  ClusterPhase,
  ClusterStatus,
  HookStatus,
  MemberState,
  MemberStatus,
  Rejection,
  RoleStatus,
  ScriptRun,
  StatusPage,
  StatusRequest,
} from './status.ts';
