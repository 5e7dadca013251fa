/**
 * The failure converter of a worker or client with a payload key (lib/codec.ts), loaded by the SDK
 * with require() from `failureConverterPath`: a failure's message and stack trace go into its
 * `encodedAttributes` payload, which the codec encrypts. Decoding needs nothing special: every
 * DefaultFailureConverter reads encodedAttributes back.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
