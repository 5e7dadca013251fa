/** runtimes/kubernetes/exec.ts: which failures to start an exec are the API server's outage (tried again) and which are answers. */
import { describe, expect, it } from 'vitest';
import { apiUnreachable } from '../../runtimes/kubernetes/exec.ts';

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });

describe('apiUnreachable', () => {
  it('is true when no connection was made, or the server refused the upgrade with 429 or 5xx', () => {
    expect(apiUnreachable(refused)).toBe(true);
    // The websocket rejects with an ErrorEvent-like object whose `error` carries the code.
    expect(apiUnreachable({ type: 'error', message: 'connection failed', error: { code: 'ECONNRESET' } })).toBe(true);
    expect(apiUnreachable(new Error('socket hang up'))).toBe(true);
    expect(apiUnreachable(new Error('Unexpected server response: 503'))).toBe(true);
    expect(apiUnreachable(new Error('Unexpected server response: 429'))).toBe(true);
  });

  it('is false for what the server answered: a missing pod, no permission, a bad request', () => {
    expect(apiUnreachable(new Error('Unexpected server response: 404'))).toBe(false);
    expect(apiUnreachable(new Error('Unexpected server response: 403'))).toBe(false);
    expect(apiUnreachable(new Error('Unexpected server response: 400'))).toBe(false);
    expect(apiUnreachable('pods "x" not found')).toBe(false);
  });
});
