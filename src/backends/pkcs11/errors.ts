// Maps PKCS#11 return values (CKR_*) to the backend error taxonomy. pkcs11js reports them as Pkcs11Error whose
// message is the CKR_ name and whose code is the number; nothing in them carries a PIN.

import pkcs11js from 'pkcs11js';
import {
  type BackendError,
  NotFoundError,
  PermissionDeniedError,
  PinIncorrectError,
  PinLockedError,
  RetryableError,
  TokenNotFoundError,
  UnsupportedError,
} from '../errors.ts';
import { CKR_ACTION_PROHIBITED, CKR_CURVE_NOT_SUPPORTED } from './constants.ts';

type ErrorFactory = new (message: string, options?: ErrorOptions) => BackendError;

const BY_CODE = new Map<number, ErrorFactory>([
  [pkcs11js.CKR_PIN_INCORRECT, PinIncorrectError],
  [pkcs11js.CKR_PIN_INVALID, PinIncorrectError],
  [pkcs11js.CKR_PIN_LEN_RANGE, PinIncorrectError],
  [pkcs11js.CKR_PIN_LOCKED, PinLockedError],
  [pkcs11js.CKR_PIN_EXPIRED, PermissionDeniedError],
  [pkcs11js.CKR_USER_PIN_NOT_INITIALIZED, PermissionDeniedError],
  [pkcs11js.CKR_KEY_FUNCTION_NOT_PERMITTED, PermissionDeniedError],
  [pkcs11js.CKR_ATTRIBUTE_SENSITIVE, PermissionDeniedError],
  [pkcs11js.CKR_KEY_UNEXTRACTABLE, PermissionDeniedError],
  [pkcs11js.CKR_TOKEN_WRITE_PROTECTED, PermissionDeniedError],
  [pkcs11js.CKR_ATTRIBUTE_READ_ONLY, PermissionDeniedError],
  [CKR_ACTION_PROHIBITED, PermissionDeniedError],
  [pkcs11js.CKR_MECHANISM_INVALID, UnsupportedError],
  [pkcs11js.CKR_MECHANISM_PARAM_INVALID, UnsupportedError],
  [pkcs11js.CKR_FUNCTION_NOT_SUPPORTED, UnsupportedError],
  [pkcs11js.CKR_KEY_SIZE_RANGE, UnsupportedError],
  [pkcs11js.CKR_KEY_TYPE_INCONSISTENT, UnsupportedError],
  [pkcs11js.CKR_DOMAIN_PARAMS_INVALID, UnsupportedError],
  [pkcs11js.CKR_TEMPLATE_INCONSISTENT, UnsupportedError],
  [pkcs11js.CKR_ATTRIBUTE_TYPE_INVALID, UnsupportedError],
  [pkcs11js.CKR_ATTRIBUTE_VALUE_INVALID, UnsupportedError],
  [CKR_CURVE_NOT_SUPPORTED, UnsupportedError],
  [pkcs11js.CKR_OBJECT_HANDLE_INVALID, NotFoundError],
  [pkcs11js.CKR_KEY_HANDLE_INVALID, NotFoundError],
  [pkcs11js.CKR_TOKEN_NOT_PRESENT, TokenNotFoundError],
  [pkcs11js.CKR_TOKEN_NOT_RECOGNIZED, TokenNotFoundError],
  [pkcs11js.CKR_DEVICE_REMOVED, TokenNotFoundError],
  [pkcs11js.CKR_SLOT_ID_INVALID, TokenNotFoundError],
]);

/** Errors after which a session cannot be trusted any more: close it and open another. */
const SESSION_FATAL = new Set<number>([
  pkcs11js.CKR_SESSION_HANDLE_INVALID,
  pkcs11js.CKR_SESSION_CLOSED,
  pkcs11js.CKR_USER_NOT_LOGGED_IN,
  pkcs11js.CKR_DEVICE_ERROR,
  pkcs11js.CKR_DEVICE_REMOVED,
  pkcs11js.CKR_TOKEN_NOT_PRESENT,
  pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED,
]);

export function isPkcs11Error(error: unknown, code?: number): error is pkcs11js.Pkcs11Error {
  return error instanceof pkcs11js.Pkcs11Error && (code === undefined || error.code === code);
}

export function isSessionFatal(error: unknown): boolean {
  return isPkcs11Error(error) && SESSION_FATAL.has(error.code);
}

/**
 * Turns a PKCS#11 failure into a BackendError whose message names the operation and the CKR_ code. Errors that are
 * not PKCS#11 failures (argument bugs in our own code) are returned unchanged.
 */
export function toBackendError(error: unknown, operation: string): unknown {
  if (!isPkcs11Error(error)) return error;
  const Factory = BY_CODE.get(error.code) ?? RetryableError;
  return new Factory(`${operation}: ${error.message}`, { cause: error });
}
