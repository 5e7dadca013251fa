/**
 * What a cluster asks for that the runtime in use cannot give, said when it is applied rather than as
 * a failed member later (docs/adr/0045): raw block devices exist only on Kubernetes.
 */
import type { FieldIssue, KdClusterSpec } from '../api/index.ts';
import { runtimeKind } from './config.ts';

export function runtimeIssues(spec: KdClusterSpec, runtime = runtimeKind()): FieldIssue[] {
  if (runtime !== 'local') return [];
  return spec.roles.flatMap((role, i): FieldIssue[] =>
    role.blockStorage
      ? [
          {
            path: `spec.roles[${i}].blockStorage`,
            message:
              'raw block devices need the Kubernetes runtime (PVCs in Block mode); the local runtime has none: drop blockStorage from the role, or run with KDFLOW_RUNTIME=kubernetes',
          },
        ]
      : [],
  );
}
