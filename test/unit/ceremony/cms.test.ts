import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';

import { ShareRecipientError, encryptToPem } from '../../../src/ceremony/cms.ts';
import { participantKey } from '../../../src/ceremony/participants.ts';
import { OpenSsl } from '../../support/openssl.ts';

describe('shares encrypted as CMS', () => {
  const openssl = new OpenSsl();
  after(() => {
    openssl.remove();
  });

  for (const type of ['ec-p256', 'ec-p384', 'rsa'] as const) {
    it(`a ${type} custodian opens theirs with openssl cms -decrypt alone`, () => {
      const publicKey = openssl.keygen(type, type);
      const share = randomBytes(33);
      const cms = encryptToPem(participantKey({ name: type, publicKey }), share);
      assert.match(cms, /^-----BEGIN CMS-----\n/);
      assert.deepEqual(openssl.decryptShare(type, cms), share);
    });
  }

  it('nobody else opens it', () => {
    const alice = openssl.keygen('alice', 'ec-p256');
    openssl.keygen('mallory', 'ec-p256');
    const cms = encryptToPem(
      participantKey({ name: 'alice', publicKey: alice }),
      Buffer.from('secret share'),
    );
    assert.throws(() => openssl.decryptShare('mallory', cms));
  });

  it('a tampered share fails to decrypt rather than giving other bytes (AES-GCM)', () => {
    const bob = openssl.keygen('bob', 'ec-p256');
    const cms = encryptToPem(participantKey({ name: 'bob', publicKey: bob }), Buffer.from('secret share'));
    const der = Buffer.from(cms.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    // The ciphertext sits just before the 16-byte tag and its OCTET STRING header.
    const index = der.length - 16 - 2 - 3;
    der[index] = (der[index] ?? 0) ^ 0x01;
    const tampered = `-----BEGIN CMS-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CMS-----\n`;
    assert.throws(() => openssl.decryptShare('bob', tampered));
  });

  it('refuses an Ed25519 custodian with a message that says why', () => {
    const publicKey = openssl.keygen('ed', 'ed25519');
    assert.throws(
      () => encryptToPem(participantKey({ name: 'erin', publicKey }), Buffer.from('x')),
      (error: unknown) =>
        error instanceof ShareRecipientError &&
        /erin has an Ed25519 key, which can sign but cannot receive/.test(error.message),
    );
  });
});
