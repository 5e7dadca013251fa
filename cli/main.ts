/**
 * kdflow: the command line. One top-level handler turns every typed error into one line and an exit
 * code; a stack trace reaches the user only with KDFLOW_DEBUG=1. Only what a command uses is loaded
 * (the Temporal client, zod, pino each take longer to load than a query takes to answer): ADR 0031.
 */
import { parseArgs } from 'node:util';
import type { CliContext } from './context.ts';
import { NotFoundError, TemporalUnreachableError, UsageError, WaitError } from './errors.ts';
import {
  COMMAND_SPECS,
  FLAGS,
  GLOBAL_FLAGS,
  commandHelp,
  mainHelp,
  shortsFor,
  type CommandSpec,
  type FlagName,
} from './usage.ts';

export type Flags = {
  [K in FlagName]?: (typeof FLAGS)[K] extends { multiple: true }
    ? string[]
    : (typeof FLAGS)[K] extends { value: string }
      ? string
      : boolean;
};
type Command = (ctx: CliContext, args: string[], flags: Flags) => Promise<void>;

// Each command is loaded when it runs: --help, a usage error or `app validate` never load Temporal's or Kubernetes' clients.
const COMMANDS: ReadonlyMap<string, () => Promise<Command>> = new Map<string, () => Promise<Command>>([
  ['app', async () => (await import('./commands/app.ts')).appCommand],
  ['apply', async () => (await import('./commands/apply.ts')).applyCommand],
  ['plan', async () => (await import('./commands/apply.ts')).planCommand],
  ['resize', async () => (await import('./commands/resize.ts')).resizeCommand],
  ['delete', async () => (await import('./commands/delete.ts')).deleteCommand],
  ['get', async () => (await import('./commands/get.ts')).getCommand],
  ['wait', async () => (await import('./commands/wait.ts')).waitCommand],
  ['history', async () => (await import('./commands/history.ts')).historyCommand],
  ['logs', async () => (await import('./commands/logs.ts')).logsCommand],
  ['retry', async () => (await import('./commands/retry.ts')).retryCommand],
  ['action', async () => (await import('./commands/action.ts')).actionCommand],
  ['upgrade', async () => (await import('./commands/rolling.ts')).upgradeCommand as Command],
  ['restart', async () => (await import('./commands/rolling.ts')).restartCommand as Command],
  ['cancel', async () => (await import('./commands/rolling.ts')).cancelCommand],
  // Runs until Ctrl-C, SIGTERM or q: the app author's loop (cli/dev/session.ts).
  ['dev', async () => (await import('./commands/dev.ts')).devCommand],
  ['completion', async () => (await import('./commands/completion.ts')).completionCommand],
  // Runs until Ctrl-C or SIGTERM: the CRD shim (kubectl → workflows, status back onto the CRs).
  ['shim', async () => async () => (await import('../shim/main.ts')).runShimProcess()],
  // Runs until Ctrl-C or SIGTERM: decrypts payloads for the Web UI (lib/codec-server.ts).
  ['codec-server', async () => (await import('./commands/codec-server.ts')).codecServerCommand],
]);

/** Exit codes: 1 invalid input or failed change, 2 usage, 3 Temporal unreachable or other failure, 4 not found, 5 wait failed. */
export async function main(
  argv: string[],
  out?: (line: string) => void,
  err?: (line: string) => void,
): Promise<number> {
  const say = out ?? ((line: string) => process.stdout.write(`${line}\n`));
  let ctx: CliContext | undefined;
  try {
    const { values, positionals, tokens } = parseCommandLine(argv);
    // Before anything else: the namespace becomes paths and workflow ids.
    if (values.namespace !== undefined) await (await import('./names.ts')).checkNamespace(values.namespace);
    const [command, ...args] = positionals;
    if (command === 'help') {
      const topic = args[0];
      if (args.length > 1) throw new UsageError('usage: kdflow help [COMMAND]');
      say(topic === undefined ? (values.help ? commandHelp(specOf('help')) : mainHelp()) : commandHelp(specOf(topic)));
      return 0;
    }
    if (!command) {
      say(mainHelp());
      return values.help ? 0 : 2;
    }
    const spec = specOf(command);
    if (values.help) {
      say(commandHelp(spec));
      return 0;
    }
    checkFlags(command, spec, tokens);
    if (spec.maxArgs !== undefined && args.length > spec.maxArgs) {
      throw new UsageError(
        `kdflow ${command} takes at most ${spec.maxArgs} argument${spec.maxArgs === 1 ? '' : 's'}, got ${args.length} (${args.join(' ')}); see kdflow ${command} --help`,
      );
    }
    const load = COMMANDS.get(command);
    if (!load) throw new UsageError(`unknown command "${command}"; see kdflow --help`);
    const [run, { CliContext }] = await Promise.all([load(), import('./context.ts')]);
    ctx = new CliContext(values.namespace, out);
    await run(ctx, args, values);
    return 0;
  } catch (error) {
    return await report(error, err);
  } finally {
    await ctx?.close();
  }
}

function specOf(command: string): CommandSpec {
  const spec = COMMAND_SPECS.get(command);
  if (!spec) throw new UsageError(`unknown command "${command}"; see kdflow --help`);
  return spec;
}

type Token = { kind: 'option'; name: string; rawName: string } | { kind: 'positional' | 'option-terminator' };

/** parseArgs' options for `command`: every flag (checkFlags says which the command takes), each short letter once. */
function parseOptions(command: string | undefined) {
  const shorts = new Map([...shortsFor(command)].map(([short, name]) => [name, short]));
  return Object.fromEntries(
    Object.entries(FLAGS).map(([name, flag]) => [
      name,
      {
        type: 'value' in flag ? ('string' as const) : ('boolean' as const),
        ...('multiple' in flag ? { multiple: true } : {}),
        ...(shorts.has(name as FlagName) ? { short: shorts.get(name as FlagName) } : {}),
      },
    ]),
  );
}

function parseCommandLine(argv: string[]): { values: Flags; positionals: string[]; tokens: Token[] } {
  // The command first, as the default letters read it; then the line again with the command's own letters.
  const command = parseArgs({ args: argv, allowPositionals: true, strict: false, options: parseOptions(undefined) })
    .positionals[0];
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      tokens: true,
      options: parseOptions(command),
    });
    return { values: parsed.values as Flags, positionals: parsed.positionals, tokens: parsed.tokens as Token[] };
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (!code.startsWith('ERR_PARSE_ARGS')) throw error;
    // Point at the command's own help when the command can be made out.
    const help = command && COMMAND_SPECS.has(command) ? `kdflow ${command} --help` : 'kdflow --help';
    const message = (error as Error).message;
    const unknown = /^Unknown option '([^']+)'/.exec(message);
    if (unknown) throw new UsageError(`unknown flag ${unknown[1]}; see ${help}`);
    const option = /^Option '(?:-(\w), )?--([\w-]+)/.exec(message);
    if (option && /argument missing/.test(message))
      throw new UsageError(`flag ${option[1] ? `-${option[1]}/` : ''}--${option[2]} needs a value; see ${help}`);
    if (option) throw new UsageError(`flag --${option[2]} takes no value; see ${help}`);
    throw new UsageError(`${message.split('.')[0]}; see ${help}`);
  }
}

function checkFlags(command: string, spec: CommandSpec, tokens: Token[]): void {
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const name = token.name as FlagName;
    if (!spec.flags.includes(name) && !GLOBAL_FLAGS.includes(name))
      throw new UsageError(`kdflow ${command} does not take ${token.rawName}; see kdflow ${command} --help`);
  }
}

/** Our own errors and the exit code each ends the CLI with; the message is the whole report. */
const EXIT_CODES: [abstract new (...args: never[]) => Error, number][] = [
  [UsageError, 2],
  [NotFoundError, 4],
  [WaitError, 5],
  [TemporalUnreachableError, 3],
];

export async function report(
  error: unknown,
  err: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<number> {
  const line = (text: string) => err(`kdflow: ${text}`);
  if (process.env.KDFLOW_DEBUG) (await import('../lib/logger.ts')).logger.error({ err: error }, 'command failed');
  for (const [type, code] of EXIT_CODES)
    if (error instanceof type) {
      line(error.message);
      return code;
    }
  // Errors of the libraries: loaded here, on the way out, so that a command that succeeds never loads them.
  const [
    { ValidationError },
    { WorkflowUpdateFailedError },
    { UpdateFailedError },
    { unreachableTemporal },
    { temporalAddress },
  ] = await Promise.all([
    import('../api/rules.ts'),
    import('@temporalio/client'),
    import('../lib/temporal-grpc.ts'),
    import('./temporal-errors.ts'),
    import('../lib/config.ts'),
  ]);
  if (error instanceof ValidationError) {
    for (const text of error.message.split('\n')) line(text);
    return 1;
  }
  if (error instanceof WorkflowUpdateFailedError || error instanceof UpdateFailedError) {
    line(`change rejected: ${(error.cause as Error | undefined)?.message ?? error.message}`);
    return 1;
  }
  const unreachable = unreachableTemporal(error, temporalAddress());
  if (unreachable) {
    line(unreachable.message);
    return 3;
  }
  line(error instanceof Error ? error.message : String(error));
  return 3;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
