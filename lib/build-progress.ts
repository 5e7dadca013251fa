/**
 * A long build (the Temporal CLI, the Kubernetes harness) as one progress line instead of hundreds of
 * package names: the command's output goes to a log file, and stderr shows what is being built, how
 * many lines of output (for `go build -v`, packages) and the time so far — redrawn in place on a
 * terminal, a line a minute otherwise — then one line for the outcome; a failure shows the log's last
 * lines and names the file.
 *
 * `runWithProgress` is synchronous, as its callers are: it runs this file as a small Node process that
 * drives the build, so the progress keeps moving while the caller waits.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildSpec {
  /** What is built, for the progress line: "the Temporal CLI v1.5.1". */
  label: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Where the full output goes (created, truncated). */
  logFile: string;
  /** What a line of output is, for the progress line: "packages" for `go build -v` (default "lines of output"). */
  unit?: string;
}

const SELF = fileURLToPath(import.meta.url);
const TAIL_LINES = 20;

/** "2m05s", "45s". */
export function elapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export function progressLine(
  label: string,
  lines: number,
  ms: number,
  logFile: string,
  unit = 'lines of output',
): string {
  return `building ${label}: ${lines} ${unit}, ${elapsed(ms)} (log: ${logFile})`;
}

/** Runs the build with one progress line on stderr; returns its exit status (null when it was killed). */
export function runWithProgress(spec: BuildSpec): number | null {
  mkdirSync(path.dirname(spec.logFile), { recursive: true });
  const { env, ...rest } = spec;
  const driver = spawnSync(process.execPath, [SELF, JSON.stringify(rest)], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: env ?? process.env,
  });
  return driver.status;
}

/** The driver: the build's output to the log, progress to stderr. */
async function drive(spec: Omit<BuildSpec, 'env'>): Promise<number> {
  const tty = process.stderr.isTTY === true;
  const log = openSync(spec.logFile, 'w', 0o600);
  const started = Date.now();
  let lines = 0;
  const child = spawn(spec.command, spec.args, { cwd: spec.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const count = (chunk: Buffer) => {
    for (const byte of chunk) if (byte === 0x0a) lines += 1;
  };
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk: Buffer) => {
      count(chunk);
      try {
        writeSync(log, chunk);
      } catch {
        // A full disk must not stop the build; the log is a courtesy.
      }
    });
  }
  const draw = () => {
    const line = progressLine(spec.label, lines, Date.now() - started, spec.logFile, spec.unit);
    process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
  };
  draw();
  const timer = setInterval(draw, tty ? 1000 : 60_000);
  const status = await new Promise<number>((resolve) => {
    child.once('error', (error) => {
      process.stderr.write(`${tty ? '\r\x1b[K' : ''}could not run ${spec.command}: ${error.message}\n`);
      resolve(127);
    });
    child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  clearInterval(timer);
  closeSync(log);
  if (tty) process.stderr.write('\r\x1b[K');
  if (status !== 0) {
    const tail = readFileSync(spec.logFile, 'utf8').trimEnd().split('\n').slice(-TAIL_LINES);
    process.stderr.write(
      `building ${spec.label} failed (exit ${status}) after ${elapsed(Date.now() - started)}; the last lines of ${spec.logFile}:\n${tail.map((l) => `  ${l}`).join('\n')}\n`,
    );
  }
  return status;
}

if (import.meta.main) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as Omit<BuildSpec, 'env'>;
  process.exitCode = await drive(spec);
}
