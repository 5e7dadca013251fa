/**
 * A heartbeat says "this worker is alive and still on it", so a short heartbeat timeout finds a
 * killed worker quickly (docs/adr/0017). Two things keep a live worker from looking dead:
 *
 * - Every activity heartbeats at least once a second while it runs, whatever it does: creating a
 *   thousand members or waiting for a slow API call between its own progress heartbeats. The beat
 *   repeats the activity's last details, so what the Web UI shows does not flicker. A hung call is
 *   bounded by the activity's start-to-close timeout and the runtime's own timeouts, not by this.
 * - Nothing goes out in an activity's first beat period (a second): the activity's own heartbeats are
 *   kept and the first beat carries the newest. A heartbeat is a write on the server, and most
 *   activities (a script, a small launch) end well within a second, so this saves a server write per
 *   activity (docs/adr/0012) while the heartbeat timeout (10 s) still sees a live worker long before
 *   it would call it dead. A cancel reaches a running activity with a heartbeat's answer: up to a
 *   second later at the start.
 * - The event loop is watched: heartbeats are sent from it, so a stall longer than a heartbeat
 *   timeout fails every running activity. A stall of a second or more is logged with its length.
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { Logger } from 'pino';

/** How often a running activity heartbeats at least (the SDK sends at most one per throttle interval). */
export const LIVENESS_BEAT_MS = 1000;

type Beat = (details?: unknown) => void;

export function livenessHeartbeats(everyMs = LIVENESS_BEAT_MS): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const timeoutMs = ctx.info.heartbeatTimeoutMs;
        if (!timeoutMs || ctx.info.isLocal) return next(input);
        const own: Beat = ctx.heartbeat;
        const period = Math.min(everyMs, timeoutMs / 4);
        const started = Date.now();
        let last: unknown;
        let lastAt = started;
        // After the first period the activity's own heartbeats go out at once; before it they are kept
        // for the timer's first beat. Either way they are noted so the timer can repeat them.
        Object.defineProperty(ctx, 'heartbeat', {
          configurable: true,
          writable: true,
          value: (details?: unknown) => {
            last = details;
            if (Date.now() - started < period) return;
            lastAt = Date.now();
            own(details);
          },
        });
        const timer = setInterval(() => {
          if (Date.now() - lastAt < period) return;
          lastAt = Date.now();
          own(last);
        }, period);
        try {
          return await next(input);
        } finally {
          clearInterval(timer);
        }
      },
    },
  });
}

export interface LoopWatch {
  /** The longest stall seen so far, in milliseconds. */
  maxStallMs(): number;
  stop(): void;
}

/** Logs every event-loop stall of `reportMs` or more; the worker's heartbeats stop while it lasts. */
export function watchEventLoop(logger: Logger, reportMs = 1000, tickMs = 250): LoopWatch {
  let expected = performance.now() + tickMs;
  let max = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const stall = now - expected;
    expected = now + tickMs;
    if (stall > max) max = stall;
    if (stall >= reportMs)
      logger.warn(
        { stalledMs: Math.round(stall) },
        'the worker event loop stalled: activity heartbeats were not sent meanwhile',
      );
  }, tickMs);
  timer.unref();
  return { maxStallMs: () => Math.round(max), stop: () => clearInterval(timer) };
}
