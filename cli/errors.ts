/** A mistake in how the command was called: exit 2, like most CLIs. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Something the user asked about does not exist (a cluster, a member). */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** A wait that ended in a state that will not change by itself (config error), or ran out of time. */
export class WaitError extends Error {
  override readonly name = 'WaitError';
}
