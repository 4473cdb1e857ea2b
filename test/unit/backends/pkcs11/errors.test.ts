import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pkcs11js from 'pkcs11js';
import {
  BackendError,
  NotFoundError,
  PermissionDeniedError,
  PinIncorrectError,
  PinLockedError,
  RetryableError,
  TokenNotFoundError,
  UnsupportedError,
} from '../../../../src/backends/errors.ts';
import { isSessionFatal, toBackendError } from '../../../../src/backends/pkcs11/errors.ts';

function ckr(name: keyof typeof pkcs11js & `CKR_${string}`): pkcs11js.Pkcs11Error {
  return new pkcs11js.Pkcs11Error(name, pkcs11js[name], 'C_Test');
}

describe('PKCS#11 errors', () => {
  it('maps return values onto the taxonomy, naming the operation and the CKR_ code', () => {
    const cases = [
      ['CKR_PIN_INCORRECT', PinIncorrectError, 'PinIncorrect', 'afterChange'],
      ['CKR_PIN_LOCKED', PinLockedError, 'PinLocked', 'afterChange'],
      ['CKR_KEY_FUNCTION_NOT_PERMITTED', PermissionDeniedError, 'PermissionDenied', 'afterChange'],
      ['CKR_MECHANISM_INVALID', UnsupportedError, 'Unsupported', 'never'],
      ['CKR_OBJECT_HANDLE_INVALID', NotFoundError, 'NotFound', 'afterChange'],
      ['CKR_TOKEN_NOT_PRESENT', TokenNotFoundError, 'TokenNotFound', 'afterChange'],
      ['CKR_DEVICE_ERROR', RetryableError, 'Retryable', 'backoff'],
      ['CKR_GENERAL_ERROR', RetryableError, 'Retryable', 'backoff'],
    ] as const;
    for (const [name, type, code, retry] of cases) {
      const error = toBackendError(ckr(name), 'sign with team/key/v1');
      assert.ok(error instanceof type, name);
      assert.ok(error instanceof BackendError);
      assert.equal(error.code, code);
      assert.equal(error.retry, retry);
      assert.equal(error.message, `sign with team/key/v1: ${name}`);
    }
  });

  it('a wrong PIN is also a PermissionDenied', () => {
    assert.ok(toBackendError(ckr('CKR_PIN_INCORRECT'), 'log in') instanceof PermissionDeniedError);
  });

  it('leaves errors that are not PKCS#11 failures alone', () => {
    const bug = new TypeError('Parameter 1 MUST be Buffer');
    assert.equal(toBackendError(bug, 'x'), bug);
  });

  it('knows which failures leave a session unusable', () => {
    assert.equal(isSessionFatal(ckr('CKR_SESSION_HANDLE_INVALID')), true);
    assert.equal(isSessionFatal(ckr('CKR_USER_NOT_LOGGED_IN')), true);
    assert.equal(isSessionFatal(ckr('CKR_KEY_FUNCTION_NOT_PERMITTED')), false);
    assert.equal(isSessionFatal(new Error('CKR_SESSION_HANDLE_INVALID')), false);
  });
});
