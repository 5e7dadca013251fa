/**
 * Holds chosen activity calls until the test releases them, so that a test drives the workflow's
 * wiring by events instead of by scripts that sleep (as samples-typescript's mocked-activity tests
 * do): it waits for a call to arrive, acts (a resize, a delete), then lets the call go on to the
 * real activity. A held call the workflow cancels ends cancelled, as a real one would (the worker's
 * liveness heartbeats carry the cancellation).
 */
import { Context } from '@temporalio/activity';
import type { Activities } from '../activities/index.ts';

type Name = keyof Activities;
type Input<N extends Name> = Parameters<Activities[N]>[0];

export interface HeldCall {
  name: Name;
  input: unknown;
}

export class ActivityGate {
  private readonly rules = new Map<Name, (input: never) => boolean>();
  private readonly held: (HeldCall & { release(): void })[] = [];
  private readonly watchers: ((call: HeldCall) => boolean)[] = [];

  /** From now on, calls of `name` for which `when` holds wait for `release()`. */
  hold<N extends Name>(name: N, when: (input: Input<N>) => boolean = () => true): void {
    this.rules.set(name, when as (input: never) => boolean);
  }

  /** The next held call of `name` (one already waiting, or the next to arrive). */
  arrived(name: Name): Promise<HeldCall> {
    const waiting = this.held.find((call) => call.name === name);
    if (waiting) return Promise.resolve(waiting);
    return new Promise((resolve) => this.watchers.push((call) => (call.name === name ? (resolve(call), true) : false)));
  }

  /** Holds nothing more, and lets every waiting call go on. */
  release(): void {
    this.rules.clear();
    for (const call of this.held.splice(0)) call.release();
  }

  /** For the harness's worker: every activity, the held ones behind the gate. */
  readonly wrap = (activities: Activities): Activities => {
    const wrapped = { ...activities };
    for (const name of Object.keys(activities) as Name[]) {
      const real = activities[name] as (input: unknown) => Promise<unknown>;
      (wrapped as Record<Name, unknown>)[name] = async (input: unknown) => {
        const rule = this.rules.get(name);
        if (rule?.(input as never)) await this.wait({ name, input });
        return real(input);
      };
    }
    return wrapped;
  };

  private async wait(call: HeldCall): Promise<void> {
    const released = new Promise<void>((release) => this.held.push({ ...call, release }));
    const watcher = this.watchers.findIndex((watch) => watch(call));
    if (watcher >= 0) this.watchers.splice(watcher, 1);
    await Promise.race([released, Context.current().cancelled]);
  }
}
