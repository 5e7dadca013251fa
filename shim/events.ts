/** Kubernetes Events on a KdCluster (or a KdApp), so that `kubectl describe kdc NAME` tells its story. */
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_GROUP } from '../api/index.ts';
import { KINDS, VERSION, type CrObject } from './resources.ts';

export type EventType = 'Normal' | 'Warning';

export async function recordEvent(
  core: CoreV1Api,
  logger: Logger,
  cr: CrObject,
  type: EventType,
  reason: string,
  message: string,
  kind: string = KINDS.cluster.kind,
): Promise<void> {
  const namespace = cr.metadata.namespace ?? 'default';
  const now = new Date();
  try {
    await core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${cr.metadata.name}.`, namespace },
        involvedObject: {
          apiVersion: `${API_GROUP}/${VERSION}`,
          kind,
          name: cr.metadata.name,
          namespace,
          uid: cr.metadata.uid,
        },
        type,
        reason,
        // The API caps an event message at 1 KiB.
        message: message.length > 1000 ? `${message.slice(0, 997)}...` : message,
        source: { component: 'kdflow-shim' },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  } catch (error) {
    // An event is a courtesy: never let it fail a reconcile.
    logger.warn({ err: error, cluster: `${namespace}/${cr.metadata.name}`, reason }, 'could not record event');
  }
}
