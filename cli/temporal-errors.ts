import { isGrpcServiceError } from '@temporalio/client';
import { TemporalUnreachableError } from './errors.ts';

const UNAVAILABLE = 14;

/** A gRPC call that failed because the server went away (it answered before: this is not a refused connect). */
export function unreachableTemporal(error: unknown, address: string): TemporalUnreachableError | undefined {
  const grpc = isGrpcServiceError(error)
    ? error
    : error instanceof Error && isGrpcServiceError(error.cause)
      ? error.cause
      : undefined;
  if (grpc?.code !== UNAVAILABLE) return undefined;
  return new TemporalUnreachableError(address, `unavailable: ${(grpc.details || grpc.message).split('\n')[0]}`);
}
