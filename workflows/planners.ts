/**
 * Planner versions (docs/adr/0014). A cluster lives for years, so its workflow's history is replayed
 * by workers much newer than the one that wrote it. A planner change that would alter the commands of
 * an existing history gets a new version here; a run keeps the version it started with (it is in the
 * carried state) and a new run, after continue-as-new, takes the newest. Old versions stay until no
 * retained history uses them, each with its replay fixtures in test/replay/histories/v<N>/.
 */
import { applyOutcome, nextStep, requestRetry, type plan } from './plan.ts';
import { applyOutcomeV3, nextStepV3 } from './plan-v3.ts';
import { nextStepV4 } from './plan-v4.ts';
import { withReconnect } from './reconnect.ts';

export interface Planner {
  nextStep: typeof nextStep;
  applyOutcome: typeof applyOutcome;
  plan: typeof plan;
  requestRetry: typeof requestRetry;
  /**
   * How the workflow publishes the live member count (the KdMembers search attribute): v2 upserts it
   * whenever it changes, v3 only with a phase change (an operation's start and end), one upsert
   * fewer per grow or shrink. An upsert is a command, so this is part of the version too.
   */
  countsWithPhaseOnly: boolean;
}

/** The version new runs take. */
export const PLANNER_VERSION = 4;

/**
 * The patch a fresh run (not continued as new) asks `patched()` for: a history that began before
 * v3 has no marker and replays on v2; a run that begins now records it and takes v3. Continued
 * runs carry their version in their input instead.
 */
export const PLANNER_V3_PATCH = 'kdflow-planner-v3';
/** v4's (a create configures every role at once: docs/adr/0047); a history with v3's marker replays on v3. */
export const PLANNER_V4_PATCH = 'kdflow-planner-v4';

/** The version a fresh run takes, given the workflow's `patched`: it records the newest version's patch. */
export function freshPlannerVersion(patched: (patchId: string) => boolean): number {
  if (patched(PLANNER_V4_PATCH)) return 4;
  return patched(PLANNER_V3_PATCH) ? 3 : 2;
}

const PLANNERS: Readonly<Record<number, Planner>> = Object.freeze(
  Object.assign(Object.create(null) as Record<number, Planner>, {
    // --reconnect wraps every version: it plans nothing for a cluster without connections (docs/adr/0044).
    2: { ...withReconnect({ nextStep, applyOutcome, requestRetry }), countsWithPhaseOnly: false },
    3: {
      ...withReconnect({ nextStep: nextStepV3, applyOutcome: applyOutcomeV3, requestRetry }),
      countsWithPhaseOnly: true,
    },
    4: {
      ...withReconnect({ nextStep: nextStepV4, applyOutcome: applyOutcomeV3, requestRetry }),
      countsWithPhaseOnly: true,
    },
  }),
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
