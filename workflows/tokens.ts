/**
 * The cluster's woken tokens (docs/adr/0047): `ccli --tokenwake` records one, `--tokenwait` asks.
 * Pure, kept in the workflow's state as `[key, status]` pairs, newest last, at most MAX_TOKENS keys:
 * the state stays bounded in bytes whatever the scripts do (a key is at most 253 + 1 + 64 chars).
 */
import { MAX_TOKENS, TOKEN_PATTERN, type TokenQuestion, type TokenStatus, type TokenWake } from '../api/contract.ts';

export type WokenTokens = [key: string, status: TokenStatus][];

const FQDN = /^[A-Za-z0-9.-]{1,253}$/;

/** Why a wake is refused, or undefined when it is well formed. */
export function wakeIssue(wake: TokenWake | undefined): string | undefined {
  if (!wake || typeof wake.token !== 'string' || !TOKEN_PATTERN.test(wake.token))
    return 'token: 1 to 64 of A-Z a-z 0-9 . _ -';
  if (wake.token.startsWith(OWN_PREFIX)) return `token: ${OWN_PREFIX}* are kdflow's own`;
  if (typeof wake.fqdn !== 'string' || !FQDN.test(wake.fqdn)) return 'fqdn: the waking member’s FQDN';
  if (wake.status !== 'success' && wake.status !== 'error') return 'status: success or error';
  return undefined;
}

/** The tokens after a wake: woken for the member (`FQDN/TOKEN`) and for any member (`* /TOKEN`); a wake again takes the newest status. */
export function woke(tokens: WokenTokens, wake: TokenWake): WokenTokens {
  const keys = [`${wake.fqdn}/${wake.token}`, `*/${wake.token}`];
  const kept = tokens.filter(([key]) => !keys.includes(key));
  return [...kept, ...keys.map((key): [string, TokenStatus] => [key, wake.status])].slice(-MAX_TOKENS);
}

/** kdflow's own tokens, which no script wakes: `FQDN/kdflow.configured` is the member's --configure having succeeded (`ccli --wait`). */
const OWN_PREFIX = 'kdflow.';
export const CONFIGURED_TOKEN = 'kdflow.configured';

/** Which of the keys asked about are woken; `configured` says which members' --configure succeeded. */
export function wokenOf(
  tokens: WokenTokens,
  question: TokenQuestion | undefined,
  configured: (fqdn: string) => boolean = () => false,
): Record<string, TokenStatus> {
  const asked = new Set(Array.isArray(question?.keys) ? question.keys.slice(0, MAX_TOKENS) : []);
  const answer: Record<string, TokenStatus> = Object.create(null) as Record<string, TokenStatus>;
  for (const [key, status] of tokens) if (asked.has(key)) answer[key] = status;
  for (const key of asked)
    if (
      typeof key === 'string' &&
      key.endsWith(`/${CONFIGURED_TOKEN}`) &&
      configured(key.slice(0, -CONFIGURED_TOKEN.length - 1))
    )
      answer[key] = 'success';
  return answer;
}
