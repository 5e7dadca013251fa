/** worker/takeover.ts: which worker identities name a process that is certainly gone. */
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { processStart, workerGone, workerIdentity } from '../../worker/takeover.ts';

const host = os.hostname();
// Above the largest pid Linux hands out (pid_max is at most 2^22): no process has it.
const NO_SUCH_PID = 4_194_305;

describe('worker identity', () => {
  it('names this process by pid, host and start time, and this process is not gone', () => {
    const identity = workerIdentity();
    expect(identity).toBe(`${process.pid}@${host} kdflow-worker ${processStart(process.pid)}`);
    expect(workerGone(identity)).toBe(false);
  });

  it('is gone when no process has the pid, or the pid now belongs to a process started at another time', () => {
    expect(workerGone(`${NO_SUCH_PID}@${host} kdflow-worker 12345`)).toBe(true);
    expect(workerGone(`${process.pid}@${host} kdflow-worker 1`)).toBe(true);
  });

  it('is never gone when it cannot be known: another host, or an identity without a start time', () => {
    expect(workerGone(`${NO_SUCH_PID}@another-host kdflow-worker 12345`)).toBe(false);
    expect(workerGone(`${NO_SUCH_PID}@${host}`)).toBe(false);
    expect(workerGone('')).toBe(false);
  });
});
