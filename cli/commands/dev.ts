/**
 * `kdflow dev -f APP -f CLUSTER`: the app author's loop on the local runtime (cli/dev/session.ts).
 * It uses the engine that serves kdflow's task queue (`npm start` in another terminal), or runs one
 * of its own (the dev server and a worker, in KDFLOW_HOME) when none does. Ctrl-C, SIGTERM or `q`
 * deletes the cluster, stops what it started, and exits 0: nothing is left running.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { TASK_QUEUE, clusterWorkflowId } from '../../api/index.ts';
import { runtimeKind, temporalAddress, temporalNamespace } from '../../lib/config.ts';
import type { LocalEngine } from '../../lib/local-engine.ts';
import { tcpRefusal } from '../../lib/reachability.ts';
import { listenForStop } from '../../lib/stop.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { ActionKey } from '../dev/action-key.ts';
import { KEYS_HELP, readKeys, type DevKey } from '../dev/keys.ts';
import { DevSession } from '../dev/session.ts';

const USAGE = 'usage: kdflow dev -f APP_FILE -f CLUSTER_FILE (one cluster; the app may be in the catalog already)';

export async function devCommand(ctx: CliContext, _args: string[], flags: { file?: string[] }): Promise<void> {
  if (!flags.file || flags.file.length === 0) throw new UsageError(USAGE);
  if (runtimeKind() !== 'local')
    throw new UsageError(
      `kdflow dev runs on the local runtime; KDFLOW_RUNTIME is "${runtimeKind()}" (unset it, or set it to local)`,
    );
  const stop = listenForStop({ onForce: () => process.stderr.write('kdflow: stopped at once (second Ctrl-C)\n') });
  const say = ctx.out;
  let engine: LocalEngine | undefined;
  let session: DevSession | undefined;
  let stopKeys: (() => void) | undefined;
  try {
    engine = await ownEngineIfNeeded(ctx, stop);
    if (stop.requested) return;
    const client = await ctx.temporal();
    const { report } = await import('../main.ts');
    session = new DevSession({
      ctx,
      client,
      files: flags.file,
      colour: process.stdout.isTTY === true && !process.env.NO_COLOR,
      report: async (error) => void (await report(error)),
    });
    const actionKey = actionKeyOf(ctx, session);
    const quit = new Promise<void>((resolve) => {
      stopKeys = readKeys((key, input) => {
        if (key === 'quit') return resolve();
        // A key a failure came from is told as the CLI tells errors, and the loop goes on.
        onKey(ctx, session as DevSession, actionKey, key, input).catch((error: unknown) => report(error));
      });
    });
    say(
      `[kdflow] dev: watching ${flags.file.join(', ')} and the app's config package; ${stopKeys ? KEYS_HELP : 'Ctrl-C stops'}`,
    );
    session.saved('start');
    const ends: Promise<unknown>[] = [stop.stopped, quit];
    if (engine) ends.push(engine.running.then(() => Promise.reject(new Error('the worker stopped'))));
    await Promise.race(ends);
  } finally {
    stopKeys?.();
    if (session?.cluster) say(`── stopping: deleting cluster/${session.cluster.name}`);
    await session?.stop().catch(() => undefined);
    await engine?.close().catch(() => undefined);
    stop.dispose();
  }
  say('kdflow: stopped');
}

/** A worker serving kdflow's task queue means the engine runs (npm start); otherwise this process runs one. */
async function ownEngineIfNeeded(
  ctx: CliContext,
  stop: ReturnType<typeof listenForStop>,
): Promise<LocalEngine | undefined> {
  const address = temporalAddress();
  if (!(await tcpRefusal(address))) {
    const client = await ctx.temporal();
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace: temporalNamespace(),
      taskQueue: { name: TASK_QUEUE },
      taskQueueType: 1, // workflow tasks
    });
    if ((pollers ?? []).length > 0) {
      ctx.out(`[kdflow] using the engine at ${address} (members in ${path.join(ctx.home, 'members')})`);
      return undefined;
    }
  }
  const [{ startLocalEngine }, { fileLogger }, { installRuntime }] = await Promise.all([
    import('../../lib/local-engine.ts'),
    import('../../lib/logger.ts'),
    import('../../lib/telemetry.ts'),
  ]);
  await mkdir(ctx.home, { recursive: true, mode: 0o700 });
  const logFile = path.join(ctx.home, 'worker.log');
  const logger = fileLogger(logFile);
  installRuntime({ logger, sdkLogLevel: 'WARN' });
  ctx.out(`[kdflow] no worker serves ${address}: running one here (home ${ctx.home}, worker log ${logFile})`);
  const engine = await startLocalEngine({
    home: ctx.home,
    logger,
    stop,
    port: Number(address.split(':').at(-1)),
    uiPort: Number(process.env.KDFLOW_UI_PORT ?? 8233),
    say: ctx.out,
  });
  if (engine && !engine.server.reused) ctx.out(`[kdflow] Web UI: ${engine.server.uiUrl}`);
  return engine;
}

/** The `a` key's state, on the cluster the session runs now. */
function actionKeyOf(ctx: CliContext, session: DevSession): ActionKey {
  return new ActionKey({
    say: ctx.out,
    follow: (id) => session.follow(id),
    get cluster() {
      return session.cluster?.name ?? '';
    },
    handle: async () => {
      const target = session.cluster;
      if (!target) return undefined;
      return (await ctx.temporal()).workflow.getHandle(clusterWorkflowId(target.namespace, target.name));
    },
  });
}

async function onKey(
  ctx: CliContext,
  session: DevSession,
  actionKey: ActionKey,
  key: Exclude<DevKey, 'quit'>,
  input: string,
): Promise<void> {
  const target = session.cluster;
  if (key === 'pick') return actionKey.picked(input);
  actionKey.cancel();
  if (key === 'help') return ctx.out(KEYS_HELP);
  if (key === 'rerun') return session.saved('re-run (Enter)');
  if (!target) return ctx.out('── no cluster yet: save a manifest that validates');
  if (key === 'action') return actionKey.pressed();
  if (key === 'next-role') {
    session.roleIndex = (session.roleIndex + 1) % target.roles.length;
    return ctx.out(`── role ${target.roles[session.roleIndex]} selected for + and -`);
  }
  const role = target.roles[session.roleIndex % target.roles.length] as string;
  const { specQuery } = await import('../../api/messages.ts');
  const handle = (await ctx.temporal()).workflow.getHandle(clusterWorkflowId(target.namespace, target.name));
  const view = await handle.query(specQuery).catch(() => undefined);
  const members = view?.spec.roles.find((r) => r.id === role)?.members;
  if (members === undefined) return ctx.out(`── cluster/${target.name} is not running`);
  const count = key === 'grow' ? members + 1 : members - 1;
  ctx.out(`── ${key === 'grow' ? 'grow' : 'shrink'} ${role}: ${members} → ${count}`);
  session.markStart();
  // The same command a user would type, with its checks and messages.
  const { main } = await import('../main.ts');
  await main(['resize', target.name, `${role}=${count}`, '-n', target.namespace], ctx.out);
}
