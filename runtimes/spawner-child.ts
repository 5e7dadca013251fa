/**
 * The local runtime's spawner (runtimes/spawner.ts): a small Node process that starts detached
 * processes for the worker. A fork from the worker costs ≈14 ms of its event loop once the Temporal
 * worker runs (docs/adr/0012); from this process ≈3 ms, and not on the worker's loop. It exits
 * when the worker goes; what it started lives on, detached, as before.
 */
import { spawn } from 'node:child_process';

interface Request {
  id: number;
  command: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  argv0?: string;
  /** Capture stdout and stderr (base64 in the exit message) and write this (base64) to stdin. */
  capture?: { stdin: string };
}

const MAX_CAPTURE = 1024 * 1024;

function collect(stream: NodeJS.ReadableStream | null): () => string {
  const chunks: Buffer[] = [];
  let size = 0;
  stream?.on('data', (chunk: Buffer) => {
    if (size < MAX_CAPTURE) chunks.push(chunk);
    size += chunk.length;
  });
  return () => Buffer.concat(chunks).toString('base64');
}

const send = (message: object) => {
  if (process.connected) process.send?.(message);
};

process.on('message', (request: Request) => {
  try {
    const child = spawn(request.command, request.args, {
      cwd: request.cwd,
      env: request.env ?? process.env,
      argv0: request.argv0,
      detached: true,
      stdio: request.capture ? 'pipe' : 'ignore',
    });
    child.once('spawn', () => send({ id: request.id, pid: child.pid }));
    child.once('error', (error) => send({ id: request.id, error: error.message }));
    if (request.capture) {
      const [stdout, stderr] = [collect(child.stdout), collect(child.stderr)];
      child.stdin?.on('error', () => {});
      child.stdin?.end(Buffer.from(request.capture.stdin, 'base64'));
      child.once('close', (code, signal) =>
        send({ id: request.id, exited: true, code, signal, stdout: stdout(), stderr: stderr() }),
      );
    } else child.once('exit', () => send({ id: request.id, exited: true }));
    child.unref();
  } catch (error) {
    send({ id: request.id, error: (error as Error).message });
  }
});
process.on('disconnect', () => process.exit(0));
