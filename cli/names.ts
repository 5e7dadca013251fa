import { CLUSTER_NAME_MAX, DNS_LABEL_MAX, clusterNamePattern, dnsLabelPattern } from '../api/fields.ts';
import { UsageError } from './errors.ts';

/**
 * A name from the command line, checked as a manifest's would be (names become paths, object names
 * and workflow ids): one line naming the flag or argument, what is accepted and the value given.
 */
export async function checkName(what: string, where: string, value: string): Promise<string> {
  // Cluster names may be dotted (`ubuntu18.04`), as KubeDirector's are; every other name is a DNS label.
  const cluster = what === 'cluster name';
  // A valid name is the common case: the rule alone (api/fields.ts), without loading the schemas and zod to say why not.
  const [max, pattern] = cluster
    ? [CLUSTER_NAME_MAX, clusterNamePattern(what)]
    : [DNS_LABEL_MAX, dnsLabelPattern(what)];
  if (value.length <= max && pattern.regex.test(value)) return value;
  const { ClusterName, dnsLabel, zodIssues } = await import('../api/index.ts');
  const checked = (cluster ? ClusterName(what) : dnsLabel(what)).safeParse(value);
  if (checked.success) return checked.data;
  const [issue] = zodIssues(checked.error, [], value);
  throw new UsageError(`${where}: ${issue?.message ?? `${what} is not valid`}`);
}

/** -n/--namespace, when given. */
export async function checkNamespace(namespace: string | undefined): Promise<void> {
  if (namespace !== undefined) await checkName('namespace', '-n/--namespace', namespace);
}
