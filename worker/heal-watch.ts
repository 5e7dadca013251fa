/**
 * The worker's heal watch (docs/adr/0049): one per worker, whatever the number of clusters. The
 * runtime's own watch (`Runtime.watchMembers`: a scan of member directories locally, a pod watch on
 * Kubernetes) says which member died; this sends the `memberDown` signal to its cluster's workflow
 * through the worker's Temporal connection. It takes no activity slot and no workflow task. Several
 * workers may report the same death; the workflow queues it once and checks it before it heals.
 */
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { clusterWorkflowId, memberDownSignal } from '../api/index.ts';
import { kdflowDataConverter, type EncryptionCodec } from '../lib/codec.ts';
import type { MemberDown, Runtime } from '../runtimes/runtime.ts';

export interface HealWatchOptions {
  runtime: Runtime;
  connection: NativeConnection;
  namespace: string;
  codec: EncryptionCodec;
  logger: Logger;
  /** Named in each report, for whoever reads the history. */
  identity: string;
}

const SEND_ATTEMPTS = 5;

export interface HealWatch {
  /** Ends the watch; resolves once it has. */
  stop(): Promise<void>;
}

/** Starts the watch if the runtime has one; `stop()` ends it (with the worker). */
export function startHealWatch(options: HealWatchOptions): HealWatch {
  const { runtime, logger } = options;
  const abort = new AbortController();
  if (!runtime.watchMembers) return { stop: () => Promise.resolve() };
  const client = new Client({
    connection: options.connection,
    namespace: options.namespace,
    dataConverter: kdflowDataConverter(options.codec),
  });

  const send = async (down: MemberDown) => {
    const workflowId = clusterWorkflowId(down.namespace, down.cluster);
    const report = { member: down.member, reason: down.reason, observer: options.identity };
    for (let attempt = 1; !abort.signal.aborted; attempt++) {
      try {
        await client.workflow.getHandle(workflowId).signal(memberDownSignal, report);
        logger.info({ workflowId, member: down.member, reason: down.reason }, 'member down: reported to its cluster');
        return;
      } catch (error) {
        // No such cluster (deleted, or members of a runtime used without a workflow): nothing to heal.
        if (error instanceof WorkflowNotFoundError) {
          logger.debug({ workflowId, member: down.member }, 'member down, but its cluster is not running');
          return;
        }
        if (attempt >= SEND_ATTEMPTS) {
          logger.warn({ err: error, workflowId, member: down.member }, 'member down: could not report it');
          return;
        }
        await delay(1000 * 2 ** (attempt - 1), undefined, { signal: abort.signal }).catch(() => undefined);
      }
    }
  };

  const pending = new Set<Promise<void>>();
  const onDown = (down: MemberDown) => {
    const sent = send(down).finally(() => pending.delete(sent));
    pending.add(sent);
  };
  const watching = (async () => {
    // A watch that fails (an API outage) starts again after a pause, for as long as the worker runs.
    while (!abort.signal.aborted) {
      try {
        await runtime.watchMembers?.(onDown, abort.signal);
      } catch (error) {
        if (abort.signal.aborted) break;
        logger.warn({ err: error }, 'heal watch failed; starting it again');
      }
      await delay(2000, undefined, { signal: abort.signal }).catch(() => undefined);
    }
  })();
  logger.debug({ runtime: runtime.kind }, 'heal watch started');
  return {
    async stop() {
      abort.abort();
      await watching;
      await Promise.allSettled([...pending]);
    },
  };
}
