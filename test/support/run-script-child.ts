/**
 * A stand-in worker for tests that need one to die: runs one script through the local runtime in
 * its own process, so a test can kill -9 it (and the runner) the way a crash would.
 * Usage: node run-script-child.ts HOME MEMBER_JSON REQUEST_JSON
 */
import { LocalRuntime } from '../../runtimes/local.ts';
import { runScript } from '../../runtimes/script/protocol.ts';
import type { MemberTarget, ScriptRequest } from '../../runtimes/runtime.ts';

const [home, member, request] = process.argv.slice(2) as [string, string, string];
const runtime = new LocalRuntime(home);
const result = await runScript(runtime, JSON.parse(member) as MemberTarget, JSON.parse(request) as ScriptRequest, {
  signal: new AbortController().signal,
  heartbeat: () => {},
});
process.stdout.write(`${JSON.stringify(result)}\n`);
