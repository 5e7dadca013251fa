/**
 * Where a local member lives: `$KDFLOW_HOME/members/<namespace>/<cluster>/<member>/` is its volume,
 * with the guest paths under it (ADR 0005, 0006), `.kdflow/` for kdflow's own files, and a
 * `.<member>.member` file beside it that says the member was made. Names become paths only here,
 * and only as DNS labels (a cluster name as a DNS subdomain).
 */
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError } from '../errors.ts';
import type { MemberTarget } from '../runtime.ts';

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Cluster names may be dotted (`ubuntu18.04`): never "." or "..", as they start and end with a letter or digit. */
const CLUSTER_NAME = /^[a-z0-9]([-.a-z0-9]{0,61}[a-z0-9])?$/;

type MemberKey = Pick<MemberTarget, 'namespace' | 'cluster' | 'name'>;

export class MemberLayout {
  private readonly home: string;
  constructor(home: string) {
    this.home = home;
  }

  /** $KDFLOW_HOME/members: every namespace's clusters, for the heal watch. */
  membersDir(): string {
    return path.join(this.home, 'members');
  }

  /** $KDFLOW_HOME/members/<namespace>/<cluster>/<member>/ */
  memberRoot(member: MemberKey): string {
    return path.join(this.clusterDir(member.namespace, member.cluster), safeSegment('member name', member.name));
  }

  /**
   * Names become paths here, so each must be a DNS label (a cluster name a DNS subdomain): "..", "/"
   * or "" never reach path.join (nor rm).
   */
  clusterDir(namespace: string, cluster: string): string {
    return path.join(this.membersDir(), safeSegment('namespace', namespace), safeClusterSegment(cluster));
  }

  /** A guest path (/opt/guestconfig/…) inside the member's directory; never outside it. */
  guestPath(member: MemberKey, guest: string): string {
    const root = this.memberRoot(member);
    const resolved = path.join(root, guest);
    if (!resolved.startsWith(root + path.sep))
      throw new RuntimeError('RuntimeFailure', `path ${guest} leaves the member directory`, true);
    return resolved;
  }

  /** Beside the member's directory: says the member was made, so a directory removed under it is noticed. */
  memberRecord(member: MemberKey): string {
    return path.join(
      this.clusterDir(member.namespace, member.cluster),
      `.${safeSegment('member name', member.name)}.member`,
    );
  }

  /** kdflow's own files of the member (pid files, the protocol's `.running`). */
  stateFile(member: MemberKey, name: string): string {
    return path.join(this.memberRoot(member), '.kdflow', name);
  }
}

function safeSegment(what: string, value: string): string {
  if (!DNS_LABEL.test(value))
    throw new RuntimeError('RuntimeFailure', `${what} ${JSON.stringify(value)} is not a DNS-1123 label`, true);
  return value;
}

function safeClusterSegment(cluster: string): string {
  if (!CLUSTER_NAME.test(cluster))
    throw new RuntimeError(
      'RuntimeFailure',
      `cluster name ${JSON.stringify(cluster)} is not a DNS-1123 subdomain`,
      true,
    );
  return cluster;
}

export async function isDir(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

export async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** Read at once (a few bytes of a local file): the heal watch reads one per member every interval, and an async read is four trips through libuv's pool. */
export function readPid(file: string): number | undefined {
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = undefined;
  }
  const pid = Number(text?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
