/**
 * Member names must be unique in a namespace: on Kubernetes they are the Pod, PVC and DNS names, and
 * a runtime that finds an object of that name would otherwise treat it as its own (ADR 0018).
 *
 * A member is `<cluster>-<role>-<ordinal>` and the ordinal is the only all-digit last part, so two
 * members of different clusters share a name exactly when their role prefixes `<cluster>-<role>-`
 * are equal (cluster `a` role `b-c` and cluster `a-b` role `c` both give `a-b-c-N`). Comparing
 * prefixes of every role the app defines, not only of today's members, catches every ordinal either
 * cluster could ever reach: an app is fixed for a cluster's life, so one check at creation holds
 * through every later grow of either cluster.
 */
import { dnsName, memberName } from './names.ts';
import type { FieldIssue } from './rules.ts';

/** A cluster as the rule sees it: its name and every role id of its app. */
export interface ClusterRoleNames {
  name: string;
  roles: readonly string[];
}

export interface MemberNameCollision {
  /** This cluster's role whose members would take the other's names. */
  role: string;
  other: string;
  otherRole: string;
  /** The first member name both would use. */
  member: string;
}

/** `<cluster>-<role>-`: every member name of the role is this followed by an ordinal. */
export function rolePrefix(cluster: string, roleId: string): string {
  return memberName(cluster, roleId, 0).slice(0, -1);
}

/**
 * Only a cluster whose DNS-safe name is the other's plus `-…` (or the reverse), or the same
 * (`a.b` and `a-b`), can share member names with it.
 */
export function namesMayCollide(a: string, b: string): boolean {
  const [x, y] = [dnsName(a), dnsName(b)];
  return a !== b && (x === y || x.startsWith(`${y}-`) || y.startsWith(`${x}-`));
}

export function memberNameCollisions(
  cluster: ClusterRoleNames,
  others: readonly ClusterRoleNames[],
): MemberNameCollision[] {
  const mine = new Map(cluster.roles.map((role) => [rolePrefix(cluster.name, role), role]));
  const found: MemberNameCollision[] = [];
  for (const other of others) {
    if (!namesMayCollide(cluster.name, other.name)) continue;
    for (const otherRole of other.roles) {
      const role = mine.get(rolePrefix(other.name, otherRole));
      if (role !== undefined)
        found.push({ role, other: other.name, otherRole, member: memberName(cluster.name, role, 0) });
    }
  }
  return found;
}

/** The collisions as issues on `metadata.name`, the one thing the user can change to avoid them. */
export function memberNameIssues(
  cluster: ClusterRoleNames,
  others: readonly ClusterRoleNames[],
  namespace: string,
): FieldIssue[] {
  // Two names with one DNS-safe form share the headless Service and domain whatever their roles.
  const sameDomain = others
    .filter((o) => o.name !== cluster.name && dnsName(o.name) === dnsName(cluster.name))
    .map((o) => ({
      path: 'metadata.name',
      message:
        `"${cluster.name}" and cluster "${o.name}" in namespace ${namespace} have the same DNS-safe name ` +
        `"${dnsName(cluster.name)}" (the headless Service and every FQDN); choose another cluster name`,
    }));
  return [
    ...sameDomain,
    ...memberNameCollisions(cluster, others).map((c) => ({
      path: 'metadata.name',
      message:
        `"${cluster.name}" would name role "${c.role}"'s members ${c.member}, ${rolePrefix(cluster.name, c.role)}1, …, ` +
        `which cluster "${c.other}" in namespace ${namespace} uses for its role "${c.otherRole}"; ` +
        `choose a cluster name whose "<cluster>-<role>-" member prefixes no other cluster has`,
    })),
  ];
}
