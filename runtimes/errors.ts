/** Failures a runtime can name. Activities turn them into ApplicationFailures of the same type. */
export type RuntimeErrorType =
  | 'PackageInvalid'
  | 'PackageUnavailable'
  | 'MemberNotReady'
  | 'ScriptMissing'
  | 'RuntimeFailure'
  // A member's file injection or secret (docs/adr/0045).
  | 'FileInjectionFailed'
  | 'SecretNotFound'
  /** A call to the API server ran out of its own bound (docs/adr/0043); always retryable. */
  | 'ApiTimeout';

export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
  readonly type: RuntimeErrorType;
  /** Retrying cannot help (a bad package stays bad). */
  readonly permanent: boolean;
  constructor(type: RuntimeErrorType, message: string, permanent = false) {
    super(message);
    this.type = type;
    this.permanent = permanent;
  }
}
