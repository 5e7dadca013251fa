/**
 * The engine on one machine: the Temporal dev server (started, or reused when one already answers on
 * the port) and a kdflow worker on the local runtime. `npm start` runs it under its demo; `kdflow dev`
 * runs it when nothing serves kdflow's task queue yet. Starting stops short, leaving nothing behind,
 * when the user asks to stop (Ctrl-C) in the middle of it.
 */
import { NativeConnection, type Worker } from '@temporalio/worker';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { temporalNamespace } from './config.ts';
import { stopWorker, unlessStopped, type StopRequest } from './stop.ts';
import { startDevServer, type DevServer } from './temporal-server.ts';
import { LocalRuntime } from '../runtimes/local.ts';
import { createKdflowWorker } from '../worker/worker.ts';

export interface LocalEngineOptions {
  home: string;
  logger: Logger;
  stop: StopRequest;
  port: number;
  uiPort: number;
  /** One line per stage, for the terminal. */
  say: (line: string) => void;
}

export interface LocalEngine {
  server: DevServer;
  runtime: LocalRuntime;
  /** The worker's run: resolves when it stops, rejects when it fails. */
  running: Promise<void>;
  /** Stops the worker, then the dev server when this engine started it. */
  close(): Promise<void>;
}

/** The engine, or undefined when a stop came while it was starting (whatever had started is stopped). */
export async function startLocalEngine(options: LocalEngineOptions): Promise<LocalEngine | undefined> {
  const { home, stop, say } = options;
  mkdirSync(home, { recursive: true });
  let server: DevServer | undefined;
  let connection: NativeConnection | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  const serverStarting = startDevServer({
    port: options.port,
    uiPort: options.uiPort,
    dbFile: path.join(home, 'temporal.db'),
    logFile: path.join(home, 'temporal.log'),
  });
  const close = async () => {
    await stopWorker(worker, running);
    await connection?.close();
    // A server still starting when the stop came is ours too: wait for it, then stop it.
    await (server ?? (await serverStarting.catch(() => undefined)))?.stop();
  };
  try {
    server = await unlessStopped(stop, serverStarting);
    if (!server) return void (await close());
    say(
      `[kdflow] Temporal dev server ${server.reused ? 'already running' : 'started'} on ${server.address} (SQLite ${path.join(home, 'temporal.db')})`,
    );
    connection = await unlessStopped(stop, NativeConnection.connect({ address: server.address }));
    if (!connection) return void (await close());
    const runtime = new LocalRuntime(home);
    worker = await unlessStopped(
      stop,
      createKdflowWorker({ connection, namespace: temporalNamespace(), runtime, home, logger: options.logger }),
    );
    if (!worker) return void (await close());
    running = worker.run();
    say(
      `[kdflow] worker running on the local runtime (containment: ${runtime.containment}, ${runtime.containmentReason}; member network: ${runtime.network}, ${runtime.networkReason})`,
    );
    return { server, runtime, running, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
