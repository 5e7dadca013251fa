/**
 * Planner versions (docs/adr/0014). A cluster lives for years, so its workflow's history is replayed
 * by workers much newer than the one that wrote it. A planner change that would alter the commands of
 * an existing history gets a new version here; a run keeps the version it started with (it is in the
 * carried state) and a new run, after continue-as-new, takes the newest. Old versions stay until no
 * retained history uses them, each with its replay fixtures in test/replay/histories/v<N>/.
 */
import { applyOutcome, nextStep, plan, requestRetry } from './plan.ts';

export interface Planner {
  nextStep: typeof nextStep;
  applyOutcome: typeof applyOutcome;
  plan: typeof plan;
  requestRetry: typeof requestRetry;
}

/** The version new runs take. */
export const PLANNER_VERSION = 2;

const PLANNERS: Readonly<Record<number, Planner>> = Object.freeze(
  Object.assign(Object.create(null) as Record<number, Planner>, { 2: { nextStep, applyOutcome, plan, requestRetry } }),
);

/** Versions this build can replay: the replay test checks each has fixtures and that they replay. */
export const SUPPORTED_PLANNER_VERSIONS = Object.keys(PLANNERS).map(Number);

export function plannerFor(version: number): Planner {
  const planner = PLANNERS[version];
  // A plain Error fails the workflow task, not the workflow: it is retried until a worker that knows
  // the version (a newer build, during a rollback) picks it up. Nothing is lost.
  if (!planner)
    throw new Error(
      `this worker has no planner version ${version} (it knows ${SUPPORTED_PLANNER_VERSIONS.join(', ')}); run a newer kdflow worker`,
    );
  return planner;
}
