/**
 * kdflow: the command line. One top-level handler turns every typed error into one line and an exit
 * code; a stack trace reaches the user only with KDFLOW_DEBUG=1.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { parseArgs } from 'node:util';
import { ValidationError } from '../api/index.ts';
import { logger } from '../lib/logger.ts';
import { appCommand } from './commands/app.ts';
import { applyCommand, planCommand } from './commands/apply.ts';
import { deleteCommand } from './commands/delete.ts';
import { getCommand } from './commands/get.ts';
import { historyCommand } from './commands/history.ts';
import { logsCommand } from './commands/logs.ts';
import { resizeCommand } from './commands/resize.ts';
import { retryCommand } from './commands/retry.ts';
import { waitCommand } from './commands/wait.ts';
import { CliContext } from './context.ts';
import { NotFoundError, UsageError, WaitError } from './errors.ts';

interface Flags {
  file?: string;
  output?: string;
  for?: string;
  timeout?: string;
  event?: string;
  limit?: string;
  all?: boolean;
}

const COMMANDS: Record<string, (ctx: CliContext, args: string[], flags: Flags) => Promise<void>> = {
  app: appCommand,
  apply: applyCommand,
  plan: planCommand,
  resize: resizeCommand,
  delete: deleteCommand,
  get: getCommand,
  wait: waitCommand,
  history: historyCommand,
  logs: logsCommand,
  retry: retryCommand,
  // Runs until SIGTERM: the CRD shim (kubectl → workflows, status back onto the CRs).
  shim: async () => (await import('../shim/main.ts')).runShim(),
};

const HELP = `kdflow — stateful app clusters on Temporal

  kdflow app apply|validate -f FILE     register (or check) an app type: KdApp or KubeDirectorApp, JSON or YAML
  kdflow app list
  kdflow apply -f FILE                  create a cluster, or change it to the file's spec
  kdflow plan -f FILE                   print the steps a change would run (dry run)
  kdflow resize NAME ROLE=N [ROLE=N…]
  kdflow delete NAME
  kdflow get [NAME] [-o table|json|yaml]
  kdflow wait NAME --for configured|deleted [--timeout 120s]
  kdflow history NAME [--limit N|--all] script runs from Temporal's history: member, argv, exit, time
  kdflow logs NAME MEMBER [--event configure|addnodes|delnodes]
  kdflow retry NAME [MEMBER]            run failed events again
  kdflow shim                           run the CRD shim: KdApp/KdCluster objects drive the workflows (kubeconfig as usual)

  -n, --namespace NS   (default "default")
  env: TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE, KDFLOW_HOME (~/.kdflow), KDFLOW_RUNTIME (local)`;

/** Exit codes: 1 invalid input or failed change, 2 usage, 3 Temporal unreachable or other failure, 4 not found, 5 wait failed. */
export async function main(argv: string[], out?: (line: string) => void, err?: (line: string) => void): Promise<number> {
  let ctx: CliContext | undefined;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        file: { type: 'string', short: 'f' },
        output: { type: 'string', short: 'o' },
        for: { type: 'string' },
        timeout: { type: 'string' },
        event: { type: 'string' },
        limit: { type: 'string' },
        all: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    const [command, ...args] = positionals;
    if (!command || values.help) {
      (out ?? console.log)(HELP);
      return command || values.help ? 0 : 2;
    }
    const run = COMMANDS[command];
    if (!run) throw new UsageError(`unknown command "${command}"; see kdflow --help`);
    ctx = new CliContext(values.namespace, out);
    await run(ctx, args, values);
    return 0;
  } catch (error) {
    return report(error, err);
  } finally {
    await ctx?.close();
  }
}

function report(error: unknown, err: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): number {
  const line = (text: string) => err(`kdflow: ${text}`);
  if (process.env.KDFLOW_DEBUG) logger.error({ err: error }, 'command failed');
  if (error instanceof ValidationError) {
    for (const text of error.message.split('\n')) line(text);
    return 1;
  }
  if (error instanceof WorkflowUpdateFailedError) {
    line(`change rejected: ${error.cause?.message ?? error.message}`);
    return 1;
  }
  if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
    line(error.message);
    return 2;
  }
  if (error instanceof NotFoundError) {
    line(error.message);
    return 4;
  }
  if (error instanceof WaitError) {
    line(error.message);
    return 5;
  }
  line(error instanceof Error ? error.message : String(error));
  return 3;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
