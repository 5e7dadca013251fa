/**
 * How the script protocol reads what the member reports (runtimes/script/protocol.ts): the status
 * file's ending, the report's tails, the run's environment, and what a failure then says (what
 * status shows), down to an OOM kill the runtime reports. The runtime here is a stand-in whose exec
 * answers as the in-member `start` program does; the programs themselves run in the integration
 * and Kubernetes tests.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createActivities, type ScriptInput } from '../../activities/index.ts';
import { oomKilledSince } from '../../runtimes/kubernetes/readiness.ts';
import { RuntimeError } from '../../runtimes/errors.ts';
import type { ExecOptions, ExecResult, MemberTarget, Runtime } from '../../runtimes/runtime.ts';
import { howItEnded, parseReport, runEnvironment, runScript } from '../../runtimes/script/protocol.ts';

const report = (state: string, ended: string, out = '', err = '') =>
  Buffer.from(`...\nkdflow-run ${state} ${Buffer.byteLength(out)} ${Buffer.byteLength(err)} ${ended}\n${out}${err}`);

describe('the report of a run', () => {
  it('reads the state, how the run ended and both tails, byte for byte', () => {
    expect(parseReport(report('adopted', 'signal 9', 'out é\n', 'err\n'))).toEqual({
      state: 'adopted',
      ended: 'signal 9',
      stdoutTail: 'out é\n',
      stderrTail: 'err\n',
    });
    // Cut short (the stream dropped): no report, so the worker attaches again.
    expect(parseReport(report('started', '0', 'abc').subarray(0, -1))).toBeUndefined();
    expect(parseReport(Buffer.from('....'))).toBeUndefined();
  });

  it('tells an exit code from a signal from a timeout', () => {
    expect(howItEnded('137')).toEqual({ exitCode: 137, timedOut: false });
    expect(howItEnded('124')).toEqual({ exitCode: 124, timedOut: false });
    expect(howItEnded('signal 9')).toEqual({ exitCode: null, signal: 'SIGKILL', timedOut: false });
    expect(howItEnded('timeout')).toEqual({ exitCode: null, timedOut: true });
    expect(howItEnded('runner killed')).toEqual({ exitCode: null, timedOut: false });
  });

  it('carries the role env as lines the runner exports unparsed, and refuses a name a shell cannot hold', () => {
    const env = runEnvironment({
      runId: 'r',
      event: 'configure',
      argv: [],
      env: [
        { name: 'A', value: "it's $(x)" },
        { name: 'PEM', value: 'l1\nl2\n' },
      ],
      timeoutSeconds: 1,
    });
    expect(env).toBe("A 1\nit's $(x)\nPEM 3\nl1\nl2\n\n");
    expect(() =>
      runEnvironment({
        runId: 'r',
        event: 'configure',
        argv: [],
        env: [{ name: 'A-B', value: '' }],
        timeoutSeconds: 1,
      }),
    ).toThrow(/env name "A-B" is not a shell variable name/);
  });
});

describe('an OOM kill', () => {
  const pod = (terminated: object, where: 'state' | 'lastState' = 'lastState') => ({
    status: {
      containerStatuses: [
        { name: 'app', image: 'x', imageID: '', ready: true, restartCount: 1, [where]: { terminated } },
      ],
    },
  });
  const at = Date.parse('2026-12-01T02:00:00Z');

  it('is what the pod says since the run started: its container terminated OOMKilled, now or last', () => {
    expect(oomKilledSince(pod({ reason: 'OOMKilled', exitCode: 137, finishedAt: new Date(at + 5000) }), at)).toBe(true);
    expect(
      oomKilledSince(pod({ reason: 'OOMKilled', exitCode: 137, finishedAt: new Date(at + 5000) }, 'state'), at),
    ).toBe(true);
    // An OOM kill long before this run, another reason, or no pod: not this run's.
    expect(oomKilledSince(pod({ reason: 'OOMKilled', exitCode: 137, finishedAt: new Date(at - 60_000) }), at)).toBe(
      false,
    );
    expect(oomKilledSince(pod({ reason: 'Error', exitCode: 137, finishedAt: new Date(at + 5000) }), at)).toBe(false);
    expect(oomKilledSince(undefined, at)).toBe(false);
  });

  it('is named in the failure, apart from a plain SIGKILL and a timeout', async () => {
    const member: MemberTarget = { namespace: 'ns', cluster: 'c', name: 'c-r-0', role: 'r', ordinal: 0, fqdn: '' };
    const runtimeEnding = (ended: string, oom: boolean): Runtime =>
      ({
        kind: 'stand-in',
        scriptPrefix: () => [],
        exec: async (): Promise<ExecResult> => ({ exitCode: 0, stdout: report('started', ended), stderr: '' }),
        oomKilledSince: async () => oom,
      }) as unknown as Runtime;
    const failure = async (ended: string, oom: boolean) => {
      const activities = createActivities({
        runtime: runtimeEnding(ended, oom),
        home: '/nonexistent',
        logger: pino({ level: 'silent' }),
      });
      const script: ScriptInput = { runId: 'ns/c/configure', event: 'configure', env: [], timeoutSeconds: 30 };
      return (await new MockActivityEnvironment()
        .run(activities.runScript, { member, script })
        .catch((e: unknown) => e)) as ApplicationFailure;
    };
    expect((await failure('runner killed', true)).message).toBe(
      'configure on c-r-0 was killed for want of memory (OOMKilled)',
    );
    expect((await failure('signal 9', true)).type).toBe('ScriptFailed');
    expect((await failure('signal 9', false)).message).toBe('configure on c-r-0 exited on SIGKILL');
    expect((await failure('137', false)).message).toBe('configure on c-r-0 exited with 137');
    const timedOut = await failure('timeout', true);
    expect([timedOut.type, timedOut.message]).toEqual(['ScriptTimeout', 'configure on c-r-0 timed out after 30s']);
  });
});

describe('a cancel', () => {
  it('runs stop again when its exec is cut short (an API bound running out), so the run is stopped and recorded', async () => {
    const member: MemberTarget = { namespace: 'ns', cluster: 'c', name: 'c-r-0', role: 'r', ordinal: 0, fqdn: '' };
    const programs: string[] = [];
    const cancel = new AbortController();
    const runtime = {
      kind: 'stand-in',
      scriptPrefix: () => [],
      exec: async (_m: MemberTarget, argv: string[], options?: ExecOptions): Promise<ExecResult> => {
        const program = argv[3] ?? '';
        programs.push(program);
        if (program === 'kdflow-start') {
          // The run is under way: the waiter's exec lasts until the cancel cuts it (no report).
          cancel.abort();
          expect(options?.signal?.aborted).toBe(true);
          return { exitCode: null, stdout: Buffer.from('..'), stderr: '' };
        }
        if (programs.filter((p) => p === 'kdflow-stop').length === 1)
          throw new RuntimeError(
            'ApiTimeout',
            'exec sh in ns/c-r-0: no data and no pong on the exec stream within 60s',
          );
        return { exitCode: 0, stdout: report('stopped', 'cancelled'), stderr: '' };
      },
    } as unknown as Runtime;
    const request = { runId: 'ns/c/configure', event: 'configure', argv: [], env: [], timeoutSeconds: 30 };
    const error = await runScript(runtime, member, request, {
      signal: cancel.signal,
      heartbeat: () => undefined,
    }).catch((e: unknown) => e);
    expect(programs).toEqual(['kdflow-start', 'kdflow-stop', 'kdflow-stop']);
    expect(String(error)).toMatch(/configure on c-r-0 was cancelled/);
  });
});
