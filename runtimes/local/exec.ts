/**
 * `exec` on the local runtime: argv as a process of the member. It enters the member's pid
 * namespace (pid-namespace containment) and carries the member's tag (tracked containment), so it
 * ends with the member; /proc and the mounts stay the host's (docs/adr/0021). It is started by the
 * spawner (ADR 0012), in a process group of its own that an abort ends whole.
 */
import { RuntimeError } from '../errors.ts';
import { spawnCaptured } from '../spawner.ts';
import type { ExecOptions, ExecResult } from '../runtime.ts';

/** The member's own environment, as a container's: never the worker's (tokens, API keys). */
export function memberEnv(root: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: root,
    LANG: 'C.UTF-8',
    KDFLOW_MEMBER_ROOT: root,
  };
}

export async function execIn(
  root: string,
  enter: string[],
  argv: string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const [command, ...args] = [...enter, ...argv] as [string, ...string[]];
  const started = await spawnCaptured({ command, args, cwd: root, env: memberEnv(root), stdin: options.stdin }).catch(
    (error: Error) => {
      throw new RuntimeError('RuntimeFailure', `could not run ${argv[0]} in ${root}: ${error.message}`);
    },
  );
  const abort = () => {
    try {
      process.kill(-started.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  };
  options.signal?.addEventListener('abort', abort, { once: true });
  if (options.signal?.aborted) abort();
  try {
    const ended = await started.ended;
    const stderr = ended.stderr.toString('utf8');
    return {
      exitCode: ended.code,
      stdout: ended.stdout,
      stderr,
      ...(ended.code === 0 ? {} : { message: ended.signal ? `ended by ${ended.signal}` : `exit ${ended.code}` }),
    };
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}
