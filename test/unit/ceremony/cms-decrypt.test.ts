// The native CMS decryptor against what openssl itself makes: `openssl cms -encrypt` to the ceremony's recipient
// certificate, with each AES-CBC key size and KDF, and what it must refuse (3DES, another recipient, tampering).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { decryptEnveloped } from '../../../src/ceremony/cms-decrypt.ts';
import { newRecipient } from '../../../src/ceremony/recipient.ts';
import { OpenSsl } from '../../support/openssl.ts';

describe('decryptEnveloped opens what openssl cms -encrypt makes', () => {
  const openssl = new OpenSsl();
  after(() => {
    openssl.remove();
  });
  const now = new Date();
  const recipient = newRecipient('test ceremony recipient', now, new Date(now.getTime() + 3_600_000));
  const certificate = openssl.write('recipient.pem', recipient.pem);
  const share = randomBytes(33);
  const input = openssl.write('share.bin', share);
  const encrypt = (...options: string[]) =>
    openssl.text(['cms', '-encrypt', '-binary', ...options, '-in', input, '-outform', 'PEM', certificate]);

  it('openssl accepts the recipient certificate as it is', () => {
    assert.match(openssl.text(['x509', '-in', certificate, '-noout', '-text']), /Key Agreement/);
  });

  for (const cipher of ['-aes128', '-aes192', '-aes256']) {
    it(`${cipher}, recipient named by issuer and serial (openssl's default)`, () => {
      assert.deepEqual(decryptEnveloped(encrypt(cipher), recipient), share);
    });
  }

  it('recipient named by subject key identifier (-keyid)', () => {
    assert.deepEqual(decryptEnveloped(encrypt('-aes256', '-keyid'), recipient), share);
  });

  for (const kdf of ['sha256', 'sha384', 'sha512']) {
    it(`KDF dhSinglePass-stdDH-${kdf}kdf-scheme`, () => {
      const pem = encrypt('-aes256', '-recip', certificate, '-keyopt', `ecdh_kdf_md:${kdf}`);
      assert.deepEqual(decryptEnveloped(pem, recipient), share);
    });
  }

  it('refuses 3DES (openssl 3.0 without -aes256) and says what to run', () => {
    assert.throws(() => decryptEnveloped(encrypt(), recipient), /-aes256/);
  });

  it('refuses a message for another recipient', () => {
    const other = newRecipient('other', now, new Date(now.getTime() + 3_600_000));
    assert.throws(() => decryptEnveloped(encrypt('-aes256'), other), /not encrypted to this ceremony/);
  });

  it('a tampered message does not give the share back', () => {
    const der = Buffer.from(encrypt('-aes256').replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 20] = (der[der.length - 20] ?? 0) ^ 0x01;
    const pem = `-----BEGIN CMS-----\n${der.toString('base64')}\n-----END CMS-----\n`;
    let opened: Buffer | undefined;
    try {
      opened = decryptEnveloped(pem, recipient);
    } catch (error) {
      assert.match((error as Error).message, /altered/);
    }
    // CBC has no integrity: a flipped bit may still unpad. Then the share is wrong, which the authenticator catches.
    if (opened) assert.notDeepEqual(opened, share);
  });

  it('refuses what is not CMS, without naming its contents', () => {
    assert.throws(() => decryptEnveloped('hello', recipient), /not a CMS message/);
  });
});
