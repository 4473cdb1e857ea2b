// Maps Cloud KMS failures (gRPC status codes, as google-gax reports them) to the backend error taxonomy. Messages
// name the operation and the status; for authentication and permission failures they keep only the permission the
// server names, never anything about the credential. No error keeps the client's error as its cause: a token
// request's error holds the request, and with it the signed assertion.

import { status } from '@grpc/grpc-js';
import {
  AlreadyExistsError,
  type BackendError,
  MisconfiguredError,
  NotFoundError,
  PermissionDeniedError,
  RetryableError,
  UnsupportedError,
  isBackendError,
} from '../errors.ts';

type ErrorFactory = new (message: string, options?: ErrorOptions) => BackendError;

const BY_STATUS = new Map<status, ErrorFactory>([
  [status.NOT_FOUND, NotFoundError],
  [status.ALREADY_EXISTS, AlreadyExistsError],
  [status.INVALID_ARGUMENT, MisconfiguredError],
  [status.OUT_OF_RANGE, MisconfiguredError],
  // The version's state forbids the operation (disabled, destroyed): it fails the same way until the state changes.
  [status.FAILED_PRECONDITION, PermissionDeniedError],
  [status.UNIMPLEMENTED, UnsupportedError],
]);

/** Transient: the same call may succeed later. */
const RETRYABLE = new Set<status>([
  status.UNAVAILABLE,
  status.RESOURCE_EXHAUSTED,
  status.DEADLINE_EXCEEDED,
  status.ABORTED,
  status.INTERNAL,
  status.UNKNOWN,
  status.CANCELLED,
  status.DATA_LOSS,
]);

interface GrpcFailure {
  readonly code: status;
  readonly details?: string;
  readonly message: string;
  readonly statusDetails?: readonly unknown[];
}

export function grpcFailure(error: unknown): GrpcFailure | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' && status[code] !== undefined ? (error as Error & GrpcFailure) : undefined;
}

/** The permission a PERMISSION_DENIED names (`cloudkms.cryptoKeyVersions.useToSign`), if any. */
function permissionNamed(text: string): string | undefined {
  return /cloudkms\.[A-Za-z]+\.[A-Za-z]+/.exec(text)?.[0];
}

function authenticationError(
  operation: string,
  code: status | undefined,
  failure?: GrpcFailure,
): BackendError {
  if (code === status.PERMISSION_DENIED) {
    const permission = permissionNamed(failure?.details ?? failure?.message ?? '');
    return new PermissionDeniedError(
      `${operation}: Cloud KMS denied permission (PERMISSION_DENIED)${permission ? `; the caller needs ${permission}` : ''}. Grant the service account a Cloud KMS role on the key ring`,
    );
  }
  return new PermissionDeniedError(
    `${operation}: Cloud KMS did not accept the credentials (UNAUTHENTICATED). Check the service account key Secret, or the workload identity binding when no Secret is set`,
  );
}

/** The delay a RetryInfo detail asks for, in milliseconds (google.rpc.RetryInfo, the gRPC Retry-After). */
export function retryDelayMs(error: unknown): number | undefined {
  const details = grpcFailure(error)?.statusDetails ?? [];
  for (const detail of details) {
    const delay = (detail as { retryDelay?: { seconds?: unknown; nanos?: unknown } | null }).retryDelay;
    if (delay) return Number(delay.seconds ?? 0) * 1000 + Number(delay.nanos ?? 0) / 1e6;
  }
  return undefined;
}

/**
 * A BackendError for any failure of a Cloud KMS call. A failure without a gRPC status came from the client
 * itself: google-auth-library failing to get a token (its errors carry an HTTP `response`), or the channel.
 */
export function toBackendError(error: unknown, operation: string): BackendError {
  if (isBackendError(error)) return error;
  const failure = grpcFailure(error);
  if (failure === undefined) {
    if (error instanceof Error && 'response' in error) return authenticationError(operation, undefined);
    if (error instanceof Error && error.message.includes('default credentials')) {
      return new MisconfiguredError(
        `${operation}: no Application Default Credentials were found; set credentialsSecretRef or bind the operator's service account to a Google service account (workload identity)`,
      );
    }
    const name = error instanceof Error ? error.name : typeof error;
    return new RetryableError(`${operation}: the Cloud KMS client failed (${name})`);
  }
  const code = failure.code;
  const codeName = status[code];
  const details = failure.details ?? failure.message;
  // A token request that failed inside grpc-js's call credentials: say so without repeating what it said.
  if (/metadata from plugin/i.test(details)) {
    return /invalid_grant|unauthorized_client|invalid_client/.test(details)
      ? authenticationError(operation, status.UNAUTHENTICATED)
      : new RetryableError(
          `${operation}: could not get an access token for the Cloud KMS credentials (${codeName})`,
        );
  }
  if (code === status.PERMISSION_DENIED || code === status.UNAUTHENTICATED) {
    return authenticationError(operation, code, failure);
  }
  const message = `${operation}: ${codeName}: ${details}`;
  if (RETRYABLE.has(code)) return new RetryableError(message);
  const Factory = BY_STATUS.get(code) ?? RetryableError;
  return new Factory(message);
}
