/**
 * The worker's half of `ccli --tokenwake` and `--tokenwait` (docs/adr/0047), on every runtime. The
 * script's request (`$k/tokens/ID.req`) ends the `start` exec early with a `token` report; a wake
 * is recorded by the cluster workflow (an update) before it is answered, and a wait is answered
 * once the workflow says the token is woken (a query, once a second while any wait is open). The
 * answer is a file the ANSWER program writes in the member, through `Runtime.exec`.
 *
 * Durable: an unanswered request stays in the member, so an attempt that follows a lost worker gets
 * it again from its first `start` (which knows no request) and answers it.
 */
import { TOKEN_PATTERN, type TokenStatus, type TokenWake } from '../../api/messages.ts';
import { sleep } from '../processes.ts';
import type { MemberTarget, Runtime, TokenBook } from '../runtime.ts';
import { ANSWER } from './programs.ts';

const POLL_MS = 1000;
const WAKE_TRY_MS = 30_000;
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const FQDN = /^(\*|[A-Za-z0-9.-]{1,253})$/;

interface Wait {
  key: string;
}

export class TokenRequests {
  private readonly runtime: Runtime;
  private readonly member: MemberTarget;
  private readonly book: TokenBook | undefined;
  private readonly seen = new Set<string>();
  private readonly waits = new Map<string, Wait>();
  private polling: Promise<void> | undefined;
  private stopped = false;
  private took = false;

  constructor(runtime: Runtime, member: MemberTarget, book: TokenBook | undefined) {
    this.runtime = runtime;
    this.member = member;
    this.book = book;
  }

  /** The request ids this attempt has, for `start`'s KNOWN. */
  known(): string[] {
    return [...this.seen];
  }

  /** Whether a token report came in this attempt (the run was live in it). */
  attached(): boolean {
    return this.took;
  }

  /** A `token` report's body: one line per unanswered request, `ID KIND FQDN TOKEN [STATUS]`. */
  async take(body: string): Promise<void> {
    this.took = true;
    for (const line of body.split('\n')) {
      const [id, kind, fqdn, token, status] = line.trim().split(/\s+/);
      if (!id || !REQUEST_ID.test(id) || this.seen.has(id)) continue;
      this.seen.add(id);
      if (!token || !TOKEN_PATTERN.test(token) || !fqdn || !FQDN.test(fqdn)) {
        await this.answer(id, `a malformed token request: ${line.trim().slice(0, 120)}`);
        continue;
      }
      if (!this.book) {
        await this.answer(id, 'token waits need the cluster workflow (this run has none)');
        continue;
      }
      if (kind === 'wake') {
        await this.wake({ fqdn, token, status: status === 'error' ? 'error' : 'success' });
        await this.answer(id, 'ok');
      } else if (kind === 'wait') {
        this.waits.set(id, { key: `${fqdn}/${token}` });
        this.polling ??= this.poll();
      } else await this.answer(id, `unknown token request "${kind}"`);
    }
  }

  /**
   * A busy or restarting server is asked again for up to WAKE_TRY_MS (a configure that runs once
   * must not fail on a hiccup); after that the attempt fails, the request stays, and the next
   * attempt wakes it.
   */
  private async wake(wake: TokenWake): Promise<void> {
    const book = this.book as TokenBook;
    const until = Date.now() + WAKE_TRY_MS;
    for (;;) {
      try {
        return await book.wake(wake);
      } catch (error) {
        if (this.stopped || Date.now() >= until) throw error;
        await sleep(POLL_MS);
      }
    }
  }

  /** The run ended (or this attempt did): open waits are no longer watched. */
  stop(): void {
    this.stopped = true;
  }

  private async poll(): Promise<void> {
    const book = this.book as TokenBook;
    while (!this.stopped && this.waits.size > 0) {
      const open = [...this.waits];
      let woken: Record<string, TokenStatus> = {};
      try {
        woken = await book.woken([...new Set(open.map(([, w]) => w.key))]);
      } catch {
        // The workflow is busy or being taken over: asked again next round; the waiter has its own timeout.
      }
      for (const [id, wait] of open) {
        const status = woken[wait.key];
        if (status === undefined) continue;
        try {
          await this.answer(id, status);
          this.waits.delete(id);
        } catch {
          // The member is busy or gone: tried again next round while the run lasts.
        }
      }
      if (this.waits.size > 0) await sleep(POLL_MS);
    }
    this.polling = undefined;
  }

  private async answer(id: string, answer: string): Promise<void> {
    const result = await this.runtime.exec(this.member, ['sh', '-c', ANSWER, 'kdflow-answer', id, answer]);
    if (result.exitCode !== 0)
      throw new Error(`could not answer token request ${id} on ${this.member.name}: ${result.stderr.trim()}`);
  }
}
