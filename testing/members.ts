/** A member as the runtime sees it, for tests that drive a runtime directly (no workflow): role `r`, ordinal 0, image `local`. */
import { memberFqdn } from '../api/index.ts';
import type { MemberSpec } from '../runtimes/runtime.ts';

export function memberSpec(namespace: string, cluster: string, name: string): MemberSpec {
  return {
    namespace,
    cluster,
    name,
    role: 'r',
    ordinal: 0,
    fqdn: memberFqdn(name, cluster, namespace),
    image: 'local',
    persistDirs: [],
  };
}
