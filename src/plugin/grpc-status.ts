/**
 * The one table from pgstow errors to gRPC status codes. CloudNativePG does not interpret the codes of WAL
 * calls (any error is "not done"), but it shows the text in the Cluster's conditions and Backup status, and a
 * useful code tells an operator reading the sidecar's log what kind of failure it was.
 */
import { status as GrpcCode, type StatusObject } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import { ConfigError, ExitCode, errorMessage, isPgstowError, UsageError } from '../errors.js';
import {
  AccessDeniedError, BucketNotFoundError, IntegrityError, InvalidCredentialsError, ObjectExistsError,
} from '../storage/errors.js';

export { GrpcCode };

/** An error a handler throws to answer with a chosen code (e.g. OUT_OF_RANGE at the end of the WAL stream). */
export class GrpcStatusError extends Error {
  constructor(readonly code: GrpcCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
GrpcStatusError.prototype.name = 'GrpcStatusError';

const BY_ERROR_CODE: Readonly<Record<string, GrpcCode>> = {
  ERR_WAL_NOT_FOUND: GrpcCode.NOT_FOUND,
  ERR_OBJECT_NOT_FOUND: GrpcCode.NOT_FOUND,
  ERR_BACKUP_NOT_FOUND: GrpcCode.NOT_FOUND,
  ERR_WAL_CONFLICT: GrpcCode.ALREADY_EXISTS,
  ERR_WAL_ARCHIVE_NOT_EMPTY: GrpcCode.FAILED_PRECONDITION,
  ERR_KUBERNETES_FORBIDDEN: GrpcCode.FAILED_PRECONDITION,
  ERR_KUBERNETES_UNAUTHORIZED: GrpcCode.UNAUTHENTICATED,
  ERR_KUBERNETES_UNREACHABLE: GrpcCode.UNAVAILABLE,
  ERR_SHUTTING_DOWN: GrpcCode.UNAVAILABLE,
};

/** The status code for an error thrown by a handler. */
export function grpcCodeOf(err: unknown): GrpcCode {
  if (err instanceof GrpcStatusError) return err.code;
  if (err instanceof UsageError) return GrpcCode.INVALID_ARGUMENT;
  // A configuration that cannot work (missing ObjectStore, Secret or key; bad field): nothing to retry until fixed.
  if (err instanceof ConfigError) return GrpcCode.FAILED_PRECONDITION;
  if (err instanceof IntegrityError) return GrpcCode.DATA_LOSS;
  if (err instanceof ObjectExistsError) return GrpcCode.ALREADY_EXISTS;
  if (err instanceof AccessDeniedError) return GrpcCode.PERMISSION_DENIED;
  if (err instanceof InvalidCredentialsError) return GrpcCode.UNAUTHENTICATED;
  if (err instanceof BucketNotFoundError) return GrpcCode.FAILED_PRECONDITION;
  if (isPgstowError(err)) {
    const byCode = BY_ERROR_CODE[err.code];
    if (byCode !== undefined) return byCode;
    if (err.exitCode === ExitCode.NETWORK) return GrpcCode.UNAVAILABLE;
    if (err.exitCode === ExitCode.USAGE) return GrpcCode.INVALID_ARGUMENT;
  }
  return GrpcCode.INTERNAL;
}

/** The status object grpc-js sends: the code and one line naming the cause. */
export function toStatus(err: unknown, redact: (text: string) => string = (t) => t): Partial<StatusObject> {
  const details = redact(errorMessage(err).replace(/\s*\n\s*/g, '; '));
  return { code: grpcCodeOf(err), details, metadata: new Metadata() };
}
