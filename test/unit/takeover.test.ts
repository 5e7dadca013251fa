/** worker/takeover.ts: which worker identities name a process that is certainly gone. */
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { pidSpace, processStart, workerGone, workerIdentity } from '../../worker/takeover.ts';

const host = os.hostname();
// Above the largest pid Linux hands out (pid_max is at most 2^22): no process has it.
const NO_SUCH_PID = 4_194_305;
const here = pidSpace() as string;

describe('worker identity', () => {
  it('names this process by pid, start time, boot and pid namespace, and this process is not gone', () => {
    const identity = workerIdentity();
    expect(here).toMatch(/^[0-9a-f-]{36}\/\d+$/);
    expect(identity).toBe(`${process.pid}@${host} kdflow-worker ${processStart(process.pid)} ${here}`);
    expect(workerGone(identity)).toBe(false);
  });

  it('is gone when no process here has the pid, or the pid now belongs to a process started at another time', () => {
    expect(workerGone(`${NO_SUCH_PID}@${host} kdflow-worker 12345 ${here}`)).toBe(true);
    expect(workerGone(`${process.pid}@${host} kdflow-worker 1 ${here}`)).toBe(true);
  });

  it('is never gone when it cannot be known: another boot or pid namespace (whatever the host name), or no start time', () => {
    const [boot, namespace] = here.split('/');
    expect(workerGone(`${NO_SUCH_PID}@${host} kdflow-worker 12345 ${boot}/${Number(namespace) + 1}`)).toBe(false);
    expect(
      workerGone(`${NO_SUCH_PID}@${host} kdflow-worker 12345 00000000-0000-0000-0000-000000000000/${namespace}`),
    ).toBe(false);
    expect(workerGone(`${NO_SUCH_PID}@${host}`)).toBe(false);
    expect(workerGone('')).toBe(false);
  });
});
