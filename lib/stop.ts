/**
 * How kdflow's long-running processes (npm start, the worker, the shim) stop: the first Ctrl-C
 * (SIGINT) or SIGTERM asks for a clean stop, whatever the process is doing at that moment (starting,
 * running, draining); the process then says one line and exits 0. A second signal exits at once,
 * with 130, for a stop that hangs. Exit 0 because Ctrl-C is the documented way to stop these
 * processes, not a failure: `npm start` would print an error block for any other code. docs/adr/0016-cli-stops-and-messages.md.
 */
import type { Worker } from '@temporalio/worker';

export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
/** What a shell reports for a process ended by Ctrl-C: 128 + SIGINT. */
export const FORCED_EXIT_CODE = 130;

export interface StopRequest {
  /** Resolves with the first signal. */
  readonly stopped: Promise<NodeJS.Signals>;
  /** Aborted at the first signal, for work that can be cut short. */
  readonly signal: AbortSignal;
  /** The first signal, once there was one. */
  readonly requested: NodeJS.Signals | undefined;
  /** Stops listening (tests; a process that is done). */
  dispose(): void;
}

export interface StopOptions {
  /** Said when a second signal ends the process at once. */
  onForce?: (signal: NodeJS.Signals) => void;
  /** process.exit, replaceable in tests. */
  exit?: (code: number) => void;
  /** The process to listen on, replaceable in tests. */
  target?: Pick<NodeJS.Process, 'on' | 'off'>;
}

/** Listen for Ctrl-C and SIGTERM from now on. Install it first, before anything slow starts. */
export function listenForStop(options: StopOptions = {}): StopRequest {
  const target = options.target ?? process;
  const controller = new AbortController();
  let requested: NodeJS.Signals | undefined;
  let resolve: (signal: NodeJS.Signals) => void = () => {};
  const stopped = new Promise<NodeJS.Signals>((r) => {
    resolve = r;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (requested) {
      options.onForce?.(signal);
      (options.exit ?? process.exit)(FORCED_EXIT_CODE);
      return;
    }
    requested = signal;
    controller.abort(new Error(`stopped by ${signal}`));
    resolve(signal);
  };
  for (const signal of STOP_SIGNALS) target.on(signal, onSignal);
  return {
    stopped,
    signal: controller.signal,
    get requested() {
      return requested;
    },
    dispose: () => {
      for (const signal of STOP_SIGNALS) target.off(signal, onSignal);
    },
  };
}

/** The part of a Temporal Worker that stopping needs. */
export type StoppableWorker = Pick<Worker, 'getState' | 'shutdown' | 'run'>;

/**
 * Stop a worker in whatever state it is: running (shut it down), never run (run and shut it down at
 * once, which releases it), or already stopping, draining or stopped (only wait). `running` is the
 * promise of its run(), when it was started; its failure is the caller's to report.
 */
export async function stopWorker(
  worker: StoppableWorker | undefined,
  running: Promise<void> | undefined,
): Promise<void> {
  if (!worker) return;
  let run = running;
  if (worker.getState() === 'INITIALIZED') run = worker.run();
  if (worker.getState() === 'RUNNING') worker.shutdown();
  await run;
}

/**
 * The value of `work`, or undefined when a stop comes first: starting up (a connection, bundling the
 * workflows) is not waited for once the user asked to stop. What `work` makes later is left to the
 * process's exit; nothing of it has started serving yet.
 */
export async function unlessStopped<T>(stop: StopRequest, work: Promise<T>): Promise<T | undefined> {
  if (stop.requested) {
    work.catch(() => {});
    return undefined;
  }
  const result = await Promise.race([work.then((value) => ({ value })), stop.stopped.then(() => undefined)]);
  if (!result) work.catch(() => {});
  return result?.value;
}
