import { ClusterName, dnsLabel, zodIssues } from '../api/index.ts';
import { UsageError } from './errors.ts';

/**
 * A name from the command line, checked as a manifest's would be (names become paths, object names
 * and workflow ids): one line naming the flag or argument, what is accepted and the value given.
 */
export function checkName(what: string, where: string, value: string): string {
  // Cluster names may be dotted (`ubuntu18.04`), as KubeDirector's are; every other name is a DNS label.
  const checked = (what === 'cluster name' ? ClusterName(what) : dnsLabel(what)).safeParse(value);
  if (checked.success) return checked.data;
  const [issue] = zodIssues(checked.error, [], value);
  throw new UsageError(`${where}: ${issue?.message ?? `${what} is not valid`}`);
}

/** -n/--namespace, when given. */
export function checkNamespace(namespace: string | undefined): void {
  if (namespace !== undefined) checkName('namespace', '-n/--namespace', namespace);
}
