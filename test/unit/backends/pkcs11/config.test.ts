import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MisconfiguredError } from '../../../../src/backends/errors.ts';
import { type Pkcs11Config, validatePkcs11Config } from '../../../../src/backends/pkcs11/config.ts';

const valid: Pkcs11Config = { vendor: 'softhsm2', token: { label: 'keyward-dev' }, pin: Buffer.from('1234') };

function rejects(config: Pkcs11Config, message: RegExp): void {
  assert.throws(
    () => {
      validatePkcs11Config(config);
    },
    (error: unknown) => error instanceof MisconfiguredError && message.test(error.message),
  );
}

describe('PKCS#11 config', () => {
  it('accepts one token selector, a PIN and a session bound', () => {
    validatePkcs11Config(valid);
    validatePkcs11Config({ ...valid, token: { serial: 'abc' }, maxSessions: 16 });
    validatePkcs11Config({ ...valid, token: { slotId: 0 } });
  });

  it('rejects unknown vendors, ambiguous or empty selectors, empty PINs and bad session bounds', () => {
    rejects({ ...valid, vendor: 'acme' as Pkcs11Config['vendor'] }, /unknown PKCS#11 vendor "acme"/);
    rejects({ ...valid, token: { label: 'a', slotId: 1 } }, /exactly one/);
    rejects({ ...valid, token: {} as Pkcs11Config['token'] }, /exactly one/);
    rejects({ ...valid, token: { label: '' } }, /label/);
    rejects({ ...valid, token: { slotId: -1 } }, /slotId/);
    rejects({ ...valid, pin: Buffer.from('') }, /PIN is empty/);
    rejects({ ...valid, maxSessions: 0 }, /maxSessions/);
    rejects({ ...valid, maxSessions: 2.5 }, /maxSessions/);
  });

  it('checks vendor PIN formats without echoing the PIN', () => {
    const pin = 'secret-password-only';
    assert.throws(
      () => {
        validatePkcs11Config({ ...valid, vendor: 'cloudhsm', pin: Buffer.from(pin) });
      },
      (error: unknown) =>
        error instanceof MisconfiguredError &&
        /<crypto user name>:<password>/.test(error.message) &&
        !error.message.includes(pin),
    );
    validatePkcs11Config({ ...valid, vendor: 'cloudhsm', pin: Buffer.from('crypto_user:password') });
    rejects({ ...valid, vendor: 'yubihsm2', pin: Buffer.from('password') }, /authentication key id/);
    validatePkcs11Config({ ...valid, vendor: 'yubihsm2', pin: Buffer.from('0001password') });
  });

  it('refuses a PIN with surrounding whitespace or control characters before any login spends a retry', () => {
    rejects({ ...valid, pin: Buffer.from('1234\n') }, /whitespace \(a newline from `echo`\?\)/);
    rejects({ ...valid, pin: Buffer.from(' 1234') }, /starts or ends with whitespace/);
    rejects({ ...valid, pin: Buffer.from('12\u000034') }, /control characters/);
    validatePkcs11Config({ ...valid, pin: Buffer.from('12 34') });
  });
});
