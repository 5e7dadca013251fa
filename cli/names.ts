import { DNS_LABEL_MAX, dnsLabelPattern } from '../api/fields.ts';
import { UsageError } from './errors.ts';

/**
 * A name from the command line, checked as a manifest's would be (names become paths, object names
 * and workflow ids): one line naming the flag or argument, what is accepted and the value given.
 */
export async function checkName(what: string, where: string, value: string): Promise<string> {
  // A valid name is the common case: the rule alone, without loading the schemas (and zod) to say why not.
  if (value.length <= DNS_LABEL_MAX && dnsLabelPattern(what).regex.test(value)) return value;
  const { dnsLabel, zodIssues } = await import('../api/index.ts');
  const checked = dnsLabel(what).safeParse(value);
  if (checked.success) return checked.data;
  const [issue] = zodIssues(checked.error, [], value);
  throw new UsageError(`${where}: ${issue?.message ?? `${what} is not valid`}`);
}

/** -n/--namespace, when given. */
export async function checkNamespace(namespace: string | undefined): Promise<void> {
  if (namespace !== undefined) await checkName('namespace', '-n/--namespace', namespace);
}
