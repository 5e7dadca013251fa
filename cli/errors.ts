// The CLI's own errors: plain classes, so that loading them loads nothing else.

/** A mistake in how the command was called: exit 2, like most CLIs. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Something the user asked about does not exist (a cluster, a member, a member's files): exit 4. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** A wait that ended in a state that will not change by itself (config error), or ran out of time. */
export class WaitError extends Error {
  override readonly name = 'WaitError';
}

/** Temporal did not answer: exit 3, with what was tried and what to do. */
export class TemporalUnreachableError extends Error {
  override readonly name = 'TemporalUnreachableError';
  constructor(address: string, reason: string) {
    super(
      `cannot reach Temporal at ${address} (${reason}); is the server running? npm run temporal:dev (or npm start), or set TEMPORAL_ADDRESS`,
    );
  }
}
