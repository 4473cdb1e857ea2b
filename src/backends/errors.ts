// The error taxonomy every backend speaks. Controllers branch on `code` (also usable as a condition reason) and on
// `retry`; they never parse messages. Messages name the operation and what went wrong, never a PIN or credential.

export const BACKEND_ERROR_CODES = [
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'Unsupported',
  'Retryable',
  'Misconfigured',
  'ModuleNotFound',
  'TokenNotFound',
  'PinIncorrect',
  'PinLocked',
  'PolicyViolation',
  'TargetMismatch',
] as const;
export type BackendErrorCode = (typeof BACKEND_ERROR_CODES)[number];

/**
 * How a caller should retry:
 * - `backoff`: transient; retry with the usual per-item exponential backoff.
 * - `afterChange`: fails the same way until the configuration, a credential or the backend itself changes; check again
 *   when something changed or after a long interval, never in a tight loop (HSMs lock a PIN after a few failures).
 * - `never`: the request cannot succeed on this backend.
 */
export type RetryPolicy = 'backoff' | 'afterChange' | 'never';

export class BackendError extends Error {
  readonly code: BackendErrorCode;
  readonly retry: RetryPolicy;

  constructor(code: BackendErrorCode, retry: RetryPolicy, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = `${code}Error`;
    this.code = code;
    this.retry = retry;
  }
}

/** The key (version) does not exist in the backend. */
export class NotFoundError extends BackendError {
  constructor(message: string, options?: ErrorOptions) {
    super('NotFound', 'afterChange', message, options);
  }
}

/** Something with this key's identity exists but cannot be adopted (other algorithm, other label, duplicates). */
export class AlreadyExistsError extends BackendError {
  constructor(message: string, options?: ErrorOptions) {
    super('AlreadyExists', 'afterChange', message, options);
  }
}

/** The backend refused the operation: key flags, token policy, or the credentials. */
export class PermissionDeniedError extends BackendError {
  constructor(
    message: string,
    options?: ErrorOptions,
    code: 'PermissionDenied' | 'PinIncorrect' | 'PinLocked' = 'PermissionDenied',
  ) {
    super(code, 'afterChange', message, options);
  }
}

/** The PIN (or password) was rejected. Retrying the same PIN brings the backend closer to locking it. */
export class PinIncorrectError extends PermissionDeniedError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options, 'PinIncorrect');
  }
}

/** The PIN is locked after too many failures; only an administrator (security officer) can unlock it. */
export class PinLockedError extends PermissionDeniedError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options, 'PinLocked');
  }
}

/** The backend does not offer this algorithm, usage or operation. */
export class UnsupportedError extends BackendError {
  constructor(message: string, options?: ErrorOptions) {
    super('Unsupported', 'never', message, options);
  }
}

/** A transient failure (device busy, session lost, network); the same call may succeed later. */
export class RetryableError extends BackendError {
  constructor(message: string, options?: ErrorOptions) {
    super('Retryable', 'backoff', message, options);
  }
}

/** The backend configuration is invalid or ambiguous. */
export class MisconfiguredError extends BackendError {
  constructor(
    message: string,
    options?: ErrorOptions,
    code: 'Misconfigured' | 'ModuleNotFound' | 'TokenNotFound' = 'Misconfigured',
  ) {
    super(code, 'afterChange', message, options);
  }
}

/** The backend's client library (e.g. the PKCS#11 module) is missing or cannot be loaded. */
export class ModuleNotFoundError extends MisconfiguredError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options, 'ModuleNotFound');
  }
}

/** The configured token, partition, vault or key ring is not there. */
export class TokenNotFoundError extends MisconfiguredError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options, 'TokenNotFound');
  }
}

/** A key does not have the protection Keyward requires (sensitive, never extractable, generated inside). */
export class PolicyViolationError extends BackendError {
  constructor(message: string, options?: ErrorOptions) {
    super('PolicyViolation', 'never', message, options);
  }
}

/**
 * The version was recorded on another target (token, vault, key ring) than the one the KeyBackend reaches now: the
 * KeyBackend was edited to point elsewhere, or a slot was renumbered onto another token.
 */
export class TargetMismatchError extends BackendError {
  constructor(message: string, options?: ErrorOptions) {
    super('TargetMismatch', 'afterChange', message, options);
  }
}

export function isBackendError(error: unknown): error is BackendError {
  return error instanceof BackendError;
}
