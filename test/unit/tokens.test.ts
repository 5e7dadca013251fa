/** The cluster's woken tokens (workflows/tokens.ts, docs/adr/0047): a latch per key, bounded, checked. */
import { describe, expect, it } from 'vitest';
import { MAX_TOKENS } from '../../api/index.ts';
import { wakeIssue, woke, wokenOf, type WokenTokens } from '../../workflows/tokens.ts';

const F = 'm-worker-0.m.default.svc.cluster.local';

describe('woken tokens', () => {
  it('records a wake for the member and for any member; a later wake takes the newest status', () => {
    let tokens: WokenTokens = woke([], { fqdn: F, token: 'ready', status: 'error' });
    tokens = woke(tokens, { fqdn: F, token: 'ready', status: 'success' });
    expect(tokens).toEqual([
      [`${F}/ready`, 'success'],
      ['*/ready', 'success'],
    ]);
    expect(wokenOf(tokens, { keys: [`${F}/ready`, '*/ready', 'other/ready'] })).toEqual({
      [`${F}/ready`]: 'success',
      '*/ready': 'success',
    });
  });

  it('keeps at most MAX_TOKENS keys, the oldest forgotten first, and answers garbage with nothing', () => {
    let tokens: WokenTokens = [];
    for (let i = 0; i < MAX_TOKENS; i++) tokens = woke(tokens, { fqdn: F, token: `t${i}`, status: 'success' });
    expect(tokens.length).toBe(MAX_TOKENS);
    expect(wokenOf(tokens, { keys: ['*/t0', `*/t${MAX_TOKENS - 1}`] })).toEqual({
      [`*/t${MAX_TOKENS - 1}`]: 'success',
    });
    expect(wokenOf(tokens, undefined)).toEqual({});
    expect(wokenOf(tokens, { keys: 'x' as unknown as string[] })).toEqual({});
  });

  it('refuses a malformed wake, naming the field', () => {
    expect(wakeIssue({ fqdn: F, token: 'ok', status: 'success' })).toBeUndefined();
    expect(wakeIssue({ fqdn: F, token: 'a/b', status: 'success' })).toMatch(/^token:/);
    expect(wakeIssue({ fqdn: 'x y', token: 'ok', status: 'success' })).toMatch(/^fqdn:/);
    expect(wakeIssue({ fqdn: F, token: 'ok', status: 'maybe' as 'success' })).toMatch(/^status:/);
    expect(wakeIssue(undefined)).toMatch(/^token:/);
  });
});
