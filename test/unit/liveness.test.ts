/**
 * worker/liveness.ts: an activity that does not heartbeat for a while still does (repeating its
 * last details), and a stalled event loop is reported with its length.
 */
import { Context } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { livenessHeartbeats, watchEventLoop } from '../../worker/liveness.ts';

describe('liveness heartbeats', () => {
  it('beat for an activity that is busy elsewhere, with its last details', { timeout: 30_000 }, async () => {
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 400 }, { interceptors: [livenessHeartbeats()] });
    const beats: unknown[] = [];
    let enough!: () => void;
    const threeMore = new Promise<void>((resolve) => (enough = resolve));
    env.on('heartbeat', (details: unknown) => {
      beats.push(details);
      if (beats.length === 4) enough();
    });
    // Heartbeats once, then waits on something else (a slow API call, a thousand members) without beating.
    const result = await env.run(async () => {
      Context.current().heartbeat({ stage: 'create' });
      await threeMore;
      return 'done';
    });
    expect(result).toBe('done');
    expect(beats).toEqual([{ stage: 'create' }, { stage: 'create' }, { stage: 'create' }, { stage: 'create' }]);
  });

  it('send nothing for an activity that ends within its first beat period', async () => {
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 60_000 }, { interceptors: [livenessHeartbeats()] });
    const beats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => beats.push(details));
    const result = await env.run(async () => {
      Context.current().heartbeat({ stage: 'create' });
      Context.current().heartbeat({ stage: 'configmeta' });
      return 'done';
    });
    expect(result).toBe('done');
    expect(beats).toEqual([]);
  });

  it(
    "hold an early heartbeat for the first beat, then send the activity's own at once",
    { timeout: 30_000 },
    async () => {
      const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 400 }, { interceptors: [livenessHeartbeats()] });
      const beats: unknown[] = [];
      let first!: () => void;
      const beaten = new Promise<void>((resolve) => (first = resolve));
      env.on('heartbeat', (details: unknown) => {
        beats.push(details);
        first();
      });
      await env.run(async () => {
        Context.current().heartbeat({ stage: 'create' });
        Context.current().heartbeat({ stage: 'ready' });
        await beaten;
        // Past the first period: the activity's own heartbeat is not held.
        Context.current().heartbeat({ stage: 'package' });
      });
      expect(beats).toEqual([{ stage: 'ready' }, { stage: 'package' }]);
    },
  );

  it('leave activities without a heartbeat timeout alone', async () => {
    const env = new MockActivityEnvironment(
      { heartbeatTimeoutMs: undefined },
      { interceptors: [livenessHeartbeats(1)] },
    );
    const own = env.context.heartbeat;
    // No timer and no wrapped heartbeat: such an activity must not heartbeat at all.
    expect(await env.run(async () => Context.current().heartbeat === own)).toBe(true);
  });
});

describe('the event loop watch', () => {
  it('reports a stall of the loop with how long it lasted', async () => {
    const lines: { msg: string; stalledMs: number }[] = [];
    let reported!: () => void;
    const seen = new Promise<void>((resolve) => (reported = resolve));
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as { msg: string; stalledMs: number });
        reported();
        done();
      },
    });
    const watch = watchEventLoop(pino({ level: 'warn' }, sink), 500, 50);
    try {
      // What a long synchronous piece of work does to every heartbeat of the process.
      const until = performance.now() + 700;
      while (performance.now() < until);
      await seen;
    } finally {
      watch.stop();
    }
    expect(lines[0]?.msg).toMatch(/event loop stalled/);
    expect(lines[0]?.stalledMs).toBeGreaterThanOrEqual(500);
    expect(watch.maxStallMs()).toBeGreaterThanOrEqual(500);
  });
});
