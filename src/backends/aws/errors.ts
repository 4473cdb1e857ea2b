// Maps what the AWS SDK throws (service exceptions by error code, network and abort errors) onto the backend error
// taxonomy. The SDK has already retried throttling and 5xx with backoff by the time an error gets here (see
// client-config.ts), so a Retryable that reaches the caller means the service stayed busy.
//
// Messages of authentication and authorization failures are replaced: AWS puts principal ARNs, access key ids and
// request signatures in them, and none of that belongs in a condition or a log.

import {
  AlreadyExistsError,
  type BackendError,
  MisconfiguredError,
  NotFoundError,
  PermissionDeniedError,
  RetryableError,
  TokenNotFoundError,
  UnsupportedError,
} from '../errors.ts';

type ErrorFactory = new (message: string, options?: ErrorOptions) => BackendError;

const AUTH_CODES = new Set([
  'AccessDeniedException',
  'CloudHsmAccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignature',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'ExpiredToken',
  'MissingAuthenticationToken',
  'SignatureDoesNotMatch',
]);

const BY_CODE = new Map<string, ErrorFactory>([
  ['NotFoundException', NotFoundError],
  ['AlreadyExistsException', AlreadyExistsError],
  ['ThrottlingException', RetryableError],
  ['CloudHsmThrottlingException', RetryableError],
  ['KMSInternalException', RetryableError],
  ['DependencyTimeoutException', RetryableError],
  ['CloudHsmInternalFailureException', RetryableError],
  ['CloudHsmServiceException', RetryableError],
  ['DisabledException', PermissionDeniedError],
  ['KMSInvalidStateException', PermissionDeniedError],
  ['InvalidKeyUsageException', UnsupportedError],
  ['UnsupportedOperationException', UnsupportedError],
  ['ValidationException', UnsupportedError],
  ['InvalidRequestException', UnsupportedError],
  ['CloudHsmInvalidRequestException', UnsupportedError],
  ['LimitExceededException', MisconfiguredError],
  ['CustomKeyStoreNotFoundException', TokenNotFoundError],
  ['CustomKeyStoreInvalidStateException', MisconfiguredError],
  ['CloudHsmClusterInvalidConfigurationException', MisconfiguredError],
  ['CloudHsmClusterNotActiveException', MisconfiguredError],
  ['CloudHsmResourceNotFoundException', TokenNotFoundError],
  ['CredentialsProviderError', MisconfiguredError],
]);

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

interface SdkErrorShape {
  readonly name?: string;
  readonly message?: string;
  readonly code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/** The AWS error code (`ThrottlingException`, ...) of an SDK error, or undefined for other errors. */
export function awsErrorCode(error: unknown): string | undefined {
  return error instanceof Error && '$metadata' in error ? error.name : undefined;
}

/** Trims a service message to something a condition can hold. */
function brief(message: string | undefined): string {
  const text = (message ?? '').replace(/\s+/g, ' ').trim();
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

/**
 * `what` says what was being done, e.g. `KMS CreateKey`; `aborted` says whether the caller's signal (or the call's
 * deadline) ended the call.
 */
export function toBackendError(what: string, error: unknown, aborted = false): BackendError {
  const shape = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const name = shape.name ?? '';
  const status = shape.$metadata?.httpStatusCode;
  if (aborted || name === 'AbortError') {
    return new RetryableError(`${what} was cancelled or took too long`, { cause: error });
  }
  if (AUTH_CODES.has(name) || status === 401 || status === 403) {
    // The AWS message is dropped on purpose (see the header comment); the code says enough to act on.
    return new PermissionDeniedError(
      `AWS refused ${what} (${name || `HTTP ${status ?? '?'}`}): the credentials are invalid or expired, or their IAM or key policy does not allow this operation`,
    );
  }
  if (name === 'CredentialsProviderError') {
    return new MisconfiguredError(
      `no AWS credentials for ${what}: set credentialsSecretRef, or give the operator's service account an IAM role (IRSA or EKS Pod Identity)`,
    );
  }
  const Factory = BY_CODE.get(name);
  if (Factory) return new Factory(`${what} failed: ${name}: ${brief(shape.message)}`, { cause: error });
  if (status === 429 || (status !== undefined && status >= 500)) {
    return new RetryableError(`${what} failed: HTTP ${status} ${name}`, { cause: error });
  }
  if (
    NETWORK_CODES.has(shape.code ?? '') ||
    name === 'TimeoutError' ||
    name === 'RequestTimeout' ||
    name === 'RequestTimeoutException'
  ) {
    return new RetryableError(`${what} failed: ${shape.code ?? name}`, { cause: error });
  }
  return new RetryableError(`${what} failed: ${name || 'error'}: ${brief(shape.message)}`, { cause: error });
}
