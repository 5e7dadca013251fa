import { DNS_LABEL } from '../api/names.ts';
import { UsageError } from './errors.ts';

/**
 * A name from the command line, checked as a manifest's would be (names become paths, object names
 * and workflow ids): one line naming the flag or argument, what is accepted and the value given.
 */
export async function checkName(what: string, where: string, value: string): Promise<string> {
  // A valid name is the common case: the rule alone, without loading the schemas (and zod) to say why not.
  if (value.length <= 63 && DNS_LABEL.test(value)) return value;
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
