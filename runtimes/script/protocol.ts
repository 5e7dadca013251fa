/**
 * The script protocol, written once for every runtime (docs/adr/0021-one-script-protocol.md): a run
 * is started, adopted or answered from its record by the in-member `start` program, waited for on
 * the same exec, and stopped by `stop` on cancel. The runner in the member enforces the timeout and
 * records how the run ended, so a retried activity never runs a script twice and never restarts
 * its clock (ADR 0003, 0015).
 */
import { RuntimeError } from '../errors.ts';
import { signalName, sleep } from '../processes.ts';
import {
  KILL_GRACE_SECONDS,
  OUTPUT_TAIL_BYTES,
  type ExecResult,
  type MemberTarget,
  type RunControl,
  type Runtime,
  type ScriptRequest,
  type ScriptResult,
} from '../runtime.ts';
import { RUNNER, START, STOP, WAIT_STATUS } from './programs.ts';
import { TokenRequests } from './tokens.ts';

/** The runner ends a run at its timeout; the worker gives up waiting only this much later (a runner that hangs). */
const BACKSTOP_SECONDS = 30;
const REATTACH_MS = 1000;
/** How many times `stop` is run when its exec is cut short before it reports. */
const STOP_TRIES = 3;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The run's environment on top of the member's own (the container's on Kubernetes; PATH, HOME and
 * LANG on the local runtime): the role's variables, as the file the runner reads. A variable is a
 * line `NAME LINES` and then its value in LINES lines; the runner exports each value as it is, so
 * no shell ever parses one. The runner sets CONFIGMETA and GUESTCONFIG_DIR before them, and the tags
 * KDFLOW_MEMBER_ROOT and KDFLOW_RUN_ID after them, so a role variable cannot replace a tag.
 */
export function runEnvironment(request: ScriptRequest): string {
  return request.env
    .map(({ name, value }) => {
      if (!ENV_NAME.test(name))
        throw new RuntimeError('RuntimeFailure', `env name ${JSON.stringify(name)} is not a shell variable name`, true);
      const lines = value.split('\n');
      return `${name} ${lines.length}\n${lines.join('\n')}\n`;
    })
    .join('');
}

/** `sh -c START kdflow-start …`: every value a positional parameter. `keepBusy`: dots on an idle stream. */
export function startArgv(
  request: ScriptRequest,
  prefix: string[],
  envBytes = 0,
  mode: 'start' | 'attach' = 'start',
  keepBusy = true,
  /** Token requests the worker has already (docs/adr/0047). */
  knownTokens: string[] = [],
): string[] {
  return [
    'sh',
    '-c',
    START,
    'kdflow-start',
    mode,
    request.event,
    request.runId,
    String(request.timeoutSeconds),
    String(KILL_GRACE_SECONDS),
    String(OUTPUT_TAIL_BYTES),
    String(envBytes),
    RUNNER,
    WAIT_STATUS,
    keepBusy ? '1' : '0',
    knownTokens.join(' '),
    String(request.argv.length),
    ...request.argv,
    ...prefix,
  ];
}

function stopArgv(request: ScriptRequest, why: 'cancelled' | 'timeout'): string[] {
  return [
    'sh',
    '-c',
    STOP,
    'kdflow-stop',
    request.event,
    request.runId,
    why,
    String(KILL_GRACE_SECONDS),
    String(OUTPUT_TAIL_BYTES),
  ];
}

/**
 * The runner itself, as `start` launches it (a crash-window test stages one the way a dead worker
 * left it). BASE is `<member>/.kdflow/<event>` on the local runtime.
 */
export function runnerArgv(files: {
  status: string;
  runId: string;
  base: string;
  stdout: string;
  stderr: string;
  timeoutSeconds: number;
  script: string;
  argv: string[];
}): string[] {
  return [
    'sh',
    '-c',
    RUNNER,
    'kdflow-run',
    files.status,
    files.runId,
    files.base,
    files.stdout,
    files.stderr,
    String(files.timeoutSeconds),
    String(KILL_GRACE_SECONDS),
    WAIT_STATUS,
    files.script,
    String(files.argv.length),
    ...files.argv,
  ];
}

/** Whether an argv is a runner's, and of which status file and run id (the local runtime finds runners by it). */
export function runnerOf(argv: string[]): { status: string; runId: string } | undefined {
  const at = argv.indexOf('kdflow-run');
  return at >= 3 && argv[at - 3] === 'sh' && argv[at - 2] === '-c'
    ? { status: argv[at + 1] ?? '', runId: argv[at + 2] ?? '' }
    : undefined;
}

interface Report {
  state: 'recorded' | 'adopted' | 'started' | 'stopped' | 'token';
  ended: string;
  stdoutTail: string;
  stderrTail: string;
}

/** `\nkdflow-run STATE OUT_BYTES ERR_BYTES ENDED\n` then the two tails; dots before it only kept the stream open. */
export function parseReport(stdout: Buffer): Report | undefined {
  const at = stdout.indexOf('\nkdflow-run ');
  if (at < 0) return undefined;
  const end = stdout.indexOf('\n', at + 1);
  if (end < 0) return undefined;
  const match = /^kdflow-run (recorded|adopted|started|stopped|token) (\d+) (\d+) (.*)$/.exec(
    stdout.subarray(at + 1, end).toString('utf8'),
  );
  if (!match) return undefined;
  const [outBytes, errBytes] = [Number(match[2]), Number(match[3])];
  const body = stdout.subarray(end + 1);
  if (body.length < outBytes + errBytes) return undefined;
  return {
    state: match[1] as Report['state'],
    ended: match[4] as string,
    stdoutTail: body.subarray(0, outBytes).toString('utf8'),
    stderrTail: body.subarray(outBytes, outBytes + errBytes).toString('utf8'),
  };
}

/** How the status file's `<how it ended>` reads as a result. */
export function howItEnded(ended: string): Pick<ScriptResult, 'exitCode' | 'signal' | 'timedOut'> {
  if (/^\d+$/.test(ended)) return { exitCode: Number(ended), timedOut: false };
  const signal = /^signal (\d+)$/.exec(ended);
  if (signal) return { exitCode: null, signal: signalName(Number(signal[1])), timedOut: false };
  return { exitCode: null, timedOut: ended === 'timeout' };
}

export async function runScript(
  runtime: Runtime,
  member: MemberTarget,
  request: ScriptRequest,
  control: RunControl,
): Promise<ScriptResult> {
  const attemptStart = Date.now();
  const deadline = attemptStart + (request.timeoutSeconds + 2 * KILL_GRACE_SECONDS + BACKSTOP_SECONDS) * 1000;
  const stdin = new TextEncoder().encode(runEnvironment(request));
  const prefix = runtime.scriptPrefix(member);
  const keepBusy = runtime.execStreamsStayOpen !== true;
  let argv = startArgv(request, prefix, stdin.length, 'start', keepBusy);
  const beat = setInterval(() => control.heartbeat({ member: member.name, event: request.event }), 1000);
  const tokens = new TokenRequests(runtime, member, control.tokens);
  try {
    for (;;) {
      const result = await execUntil(runtime, member, argv, stdin, control.signal, deadline);
      const report = parseReport(result.stdout);
      // The script asked for a token (docs/adr/0047): answered or waited for, and the run attached again.
      if (report?.state === 'token') {
        await tokens.take(report.stdoutTail);
        argv = startArgv(request, prefix, stdin.length, 'attach', keepBusy, tokens.known());
        continue;
      }
      // A run this attempt started and attached to again for a token ended here, not in an earlier attempt.
      if (report?.state === 'recorded' && tokens.attached()) report.state = 'adopted';
      if (report) return await toResult(runtime, member, request, report, attemptStart);
      if (result.exitCode === 3)
        throw new RuntimeError('ScriptMissing', `${member.name}: ${result.stderr.trim()}`, true);
      if (control.signal.aborted || Date.now() >= deadline) {
        const why = control.signal.aborted ? 'cancelled' : 'timeout';
        const stopped = await stopRun(runtime, member, stopArgv(request, why));
        if (why === 'cancelled')
          throw new RuntimeError('RuntimeFailure', `${request.event} on ${member.name} was cancelled`);
        return await toResult(runtime, member, request, stopped ?? emptyReport('timeout'), attemptStart);
      }
      if (result.exitCode !== null && result.exitCode !== 0)
        throw new RuntimeError(
          'RuntimeFailure',
          `${member.name}: could not start ${request.event}: ${result.stderr.trim() || result.message || `exit ${result.exitCode}`}`,
        );
      // The exec ended without a report (its stream dropped, or the member's processes were killed):
      // attach again. The run goes on in the member and is adopted, or its runner is gone and it ends.
      argv = startArgv(request, prefix, stdin.length, 'attach', keepBusy, tokens.known());
      await sleep(REATTACH_MS);
    }
  } finally {
    clearInterval(beat);
    tokens.stop();
  }
}

/**
 * `stop`, run again when its exec is cut short (a dropped stream, or an API bound running out on
 * Kubernetes, docs/adr/0043): no activity attempt follows a cancel to finish it. Every step of `stop`
 * looks before it acts (the runner, the run's processes, the record), so a second run of it finishes
 * what the first began. A permanent error, or the last try's, is thrown.
 */
async function stopRun(runtime: Runtime, member: MemberTarget, argv: string[]): Promise<Report | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      const report = parseReport((await runtime.exec(member, argv)).stdout);
      if (report || attempt >= STOP_TRIES) return report;
    } catch (error) {
      if (attempt >= STOP_TRIES || !(error instanceof RuntimeError) || error.permanent) throw error;
    }
    await sleep(REATTACH_MS);
  }
}

/** One exec of `start`, cut short by a cancel or the backstop deadline. */
async function execUntil(
  runtime: Runtime,
  member: MemberTarget,
  argv: string[],
  stdin: Uint8Array,
  cancel: AbortSignal,
  deadline: number,
): Promise<ExecResult> {
  const cut = new AbortController();
  const onCancel = () => cut.abort();
  cancel.addEventListener('abort', onCancel, { once: true });
  if (cancel.aborted) cut.abort();
  const timer = setTimeout(() => cut.abort(), Math.max(0, deadline - Date.now()));
  try {
    return await runtime.exec(member, argv, { stdin, signal: cut.signal });
  } finally {
    clearTimeout(timer);
    cancel.removeEventListener('abort', onCancel);
  }
}

function emptyReport(ended: string): Report {
  return { state: 'stopped', ended, stdoutTail: '', stderrTail: '' };
}

async function toResult(
  runtime: Runtime,
  member: MemberTarget,
  request: ScriptRequest,
  report: Report,
  attemptStart: number,
): Promise<ScriptResult> {
  const ended = howItEnded(report.ended);
  const result: ScriptResult = {
    ...ended,
    stdoutTail: report.stdoutTail,
    stderrTail: report.stderrTail,
    recorded: report.state === 'recorded',
  };
  // A SIGKILL the runtime can explain: the member ran out of memory (the pod's OOMKilled). An adopted
  // run may have started up to its timeout before this attempt did.
  const killed = ended.signal === 'SIGKILL' || ended.exitCode === 137 || report.ended === 'runner killed';
  if (killed && runtime.oomKilledSince) {
    const since = attemptStart - request.timeoutSeconds * 1000;
    if (await runtime.oomKilledSince(member, since).catch(() => false)) result.oomKilled = true;
  }
  return result;
}
