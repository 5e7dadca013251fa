import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { FORCED_EXIT_CODE, listenForStop, stopWorker, unlessStopped, type StoppableWorker } from '../../lib/stop.ts';

type State = ReturnType<StoppableWorker['getState']>;

/** A worker that records what was asked of it, with the SDK's rule: shutdown() only while RUNNING. */
function fakeWorker(initial: State) {
  const calls: string[] = [];
  let state: State = initial;
  let finish: () => void = () => {};
  const worker: StoppableWorker = {
    getState: () => state,
    run: () => {
      calls.push('run');
      state = 'RUNNING';
      return new Promise<void>((resolve) => {
        finish = () => {
          state = 'STOPPED';
          resolve();
        };
      });
    },
    shutdown: () => {
      if (state !== 'RUNNING') throw new Error(`Not running. Current state: ${state}`);
      calls.push('shutdown');
      state = 'DRAINING';
      queueMicrotask(() => finish());
    },
  };
  return { worker, calls, finishRun: () => finish() };
}

describe('listenForStop', () => {
  it('resolves on the first signal, and exits 130 on the second', async () => {
    const target = new EventEmitter();
    const exits: number[] = [];
    const forced: string[] = [];
    const stop = listenForStop({
      target: target as unknown as NodeJS.Process,
      exit: (code) => void exits.push(code),
      onForce: (s) => void forced.push(s),
    });
    expect(stop.requested).toBeUndefined();
    target.emit('SIGTERM', 'SIGTERM');
    expect(await stop.stopped).toBe('SIGTERM');
    expect(stop.signal.aborted).toBe(true);
    expect(exits).toEqual([]);
    target.emit('SIGINT', 'SIGINT');
    expect([exits, forced]).toEqual([[FORCED_EXIT_CODE], ['SIGINT']]);
    stop.dispose();
    expect(target.listenerCount('SIGINT') + target.listenerCount('SIGTERM')).toBe(0);
  });

  it('cuts start-up work short without waiting for it', async () => {
    const target = new EventEmitter();
    const stop = listenForStop({ target: target as unknown as NodeJS.Process });
    const never = new Promise<string>(() => {});
    const pending = unlessStopped(stop, never);
    target.emit('SIGINT', 'SIGINT');
    expect(await pending).toBeUndefined();
    expect(await unlessStopped(stop, Promise.resolve('late'))).toBeUndefined();
    expect(
      await unlessStopped(
        listenForStop({ target: new EventEmitter() as unknown as NodeJS.Process }),
        Promise.resolve('done'),
      ),
    ).toBe('done');
  });
});

describe('stopWorker, whatever state the worker is in', () => {
  it('shuts a running worker down and waits for its run', async () => {
    const { worker, calls } = fakeWorker('INITIALIZED');
    const running = worker.run();
    await stopWorker(worker, running);
    expect([calls, worker.getState()]).toEqual([['run', 'shutdown'], 'STOPPED']);
  });

  it('runs and shuts down a worker that was created but never run, which releases it', async () => {
    const { worker, calls } = fakeWorker('INITIALIZED');
    await stopWorker(worker, undefined);
    expect(calls).toEqual(['run', 'shutdown']);
  });

  it('only waits for a worker that is already draining (the SDK stopped it, say)', async () => {
    const { worker, calls, finishRun } = fakeWorker('INITIALIZED');
    const running = worker.run();
    worker.shutdown();
    const stopping = stopWorker(worker, running);
    finishRun();
    await stopping;
    expect(calls).toEqual(['run', 'shutdown']);
  });

  it('does nothing for no worker or a stopped one', async () => {
    await stopWorker(undefined, undefined);
    const { worker, calls } = fakeWorker('STOPPED');
    await stopWorker(worker, Promise.resolve());
    expect(calls).toEqual([]);
  });
});
