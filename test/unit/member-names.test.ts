import { describe, expect, it } from 'vitest';
import { memberName, memberNameCollisions, memberNameIssues, namesMayCollide, rolePrefix } from '../../api/index.ts';
import { foreignOwner } from '../../runtimes/kubernetes/objects.ts';

describe('member names unique in a namespace', () => {
  it('finds cluster "a" role "b-c" and cluster "a-b" role "c" both naming a-b-c-N, either way round', () => {
    const a = { name: 'a', roles: ['b-c', 'd'] };
    const ab = { name: 'a-b', roles: ['c'] };
    expect(memberNameCollisions(a, [ab])).toEqual([{ role: 'b-c', other: 'a-b', otherRole: 'c', member: 'a-b-c-0' }]);
    expect(memberNameCollisions(ab, [a])).toEqual([{ role: 'c', other: 'a', otherRole: 'b-c', member: 'a-b-c-0' }]);
    // The prefix covers every ordinal either could grow to.
    expect(memberName('a', 'b-c', 7)).toBe(memberName('a-b', 'c', 7));
    expect(rolePrefix('a', 'b-c')).toBe('a-b-c-');
  });

  it('maps "_" in role ids to "-" as member names do', () => {
    expect(memberNameCollisions({ name: 'x', roles: ['y_z'] }, [{ name: 'x-y', roles: ['z'] }])).toHaveLength(1);
  });

  it('lets through names that only look alike: a different split, a longer role, the same cluster', () => {
    // a-b-N and a-b-c-N never meet: the ordinal is the only all-digit last part.
    expect(memberNameCollisions({ name: 'a', roles: ['b'] }, [{ name: 'a-b', roles: ['c'] }])).toEqual([]);
    expect(memberNameCollisions({ name: 'a', roles: ['b-c'] }, [{ name: 'a-b', roles: ['c-d', 'cc'] }])).toEqual([]);
    expect(memberNameCollisions({ name: 'spark', roles: ['worker'] }, [{ name: 'spark', roles: ['worker'] }])).toEqual(
      [],
    );
    expect(memberNameCollisions({ name: 'ab', roles: ['c'] }, [{ name: 'a', roles: ['b-c'] }])).toEqual([]);
  });

  it('needs one name to be the other plus "-…" before any spec is worth reading', () => {
    expect(namesMayCollide('a', 'a-b')).toBe(true);
    expect(namesMayCollide('a-b', 'a')).toBe(true);
    expect(namesMayCollide('a', 'ab')).toBe(false);
    expect(namesMayCollide('a', 'a')).toBe(false);
  });

  it('says which field, which cluster and which member name', () => {
    const [issue, ...rest] = memberNameIssues(
      { name: 'a', roles: ['b-c'] },
      [
        { name: 'a-b', roles: ['c'] },
        { name: 'zz', roles: ['c'] },
      ],
      'ns',
    );
    expect(rest).toEqual([]);
    expect(issue?.path).toBe('metadata.name');
    expect(issue?.message).toContain('a-b-c-0');
    expect(issue?.message).toContain('cluster "a-b" in namespace ns');
    expect(issue?.message).toContain('role "c"');
  });
});

describe('whose a Kubernetes object is', () => {
  const labels = (cluster?: string, member?: string) => ({
    'app.kubernetes.io/managed-by': 'kdflow',
    ...(cluster ? { 'kdflow.dev/cluster': cluster } : {}),
    ...(member ? { 'kdflow.dev/member': member } : {}),
  });
  it('takes a member object as ours only with both our cluster and our member label', () => {
    expect(foreignOwner(labels('a', 'a-b-c-0'), 'a', 'a-b-c-0')).toBeUndefined();
    expect(foreignOwner(labels('a-b', 'a-b-c-0'), 'a', 'a-b-c-0')).toBe('cluster "a-b" (member a-b-c-0)');
    expect(foreignOwner(labels('a', 'a-x-0'), 'a', 'a-b-c-0')).toBe('cluster "a" (member a-x-0)');
    expect(foreignOwner(undefined, 'a', 'a-b-c-0')).toMatch(/no kdflow cluster/);
  });

  it('takes the headless Service as ours only without a member label', () => {
    expect(foreignOwner(labels('a'), 'a')).toBeUndefined();
    // Cluster "a-b-0-web" and the endpoint Service of a's member a-b-0 share a name.
    expect(foreignOwner(labels('a', 'a-b-0'), 'a-b-0-web')).toBe('cluster "a" (member a-b-0)');
    expect(foreignOwner(labels('a', 'a-b-0'), 'a')).toBe('cluster "a" (member a-b-0)');
  });
});
