import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { assertValidIdentity, identityDigest, identityLabel } from '../../../src/backends/identity.ts';
import { objectIdentity } from '../../../src/backends/pkcs11/object-identity.ts';
import { VENDOR_PROFILES } from '../../../src/backends/pkcs11/vendors.ts';
import { spkiFingerprint } from '../../../src/backends/public-key.ts';

const key = {
  uid: '6f1c2a9e-3b1d-4c55-9a07-1d2f3e4a5b6c',
  namespace: 'payments',
  name: 'signing',
  version: 3,
};

describe('key identity', () => {
  it('is SHA-256 of keyward/<uid>/<version>, independent of namespace and name', () => {
    const expected = createHash('sha256').update(`keyward/${key.uid}/3`).digest();
    assert.deepEqual(identityDigest(key), expected);
    assert.deepEqual(identityDigest({ ...key, namespace: 'other', name: 'renamed' }), expected);
    assert.notDeepEqual(identityDigest({ ...key, version: 4 }), expected);
    assert.notDeepEqual(identityDigest({ ...key, uid: `${key.uid}x` }), expected);
  });

  it('labels keys <namespace>/<name>/v<version>', () => {
    assert.equal(identityLabel(key), 'payments/signing/v3');
  });

  it('rejects identities without uid or with a bad version', () => {
    assert.throws(() => {
      assertValidIdentity({ ...key, uid: '' });
    }, TypeError);
    assert.throws(() => {
      assertValidIdentity({ ...key, version: 0 });
    }, TypeError);
    assert.throws(() => {
      assertValidIdentity({ ...key, version: 1.5 });
    }, TypeError);
    assertValidIdentity(key);
  });
});

describe('PKCS#11 object identity', () => {
  it('uses the first 16 digest bytes as CKA_ID and the identity label on both halves', () => {
    const oid = objectIdentity(key, VENDOR_PROFILES.softhsm2);
    assert.deepEqual(oid.ids, [identityDigest(key).subarray(0, 16)]);
    assert.equal(oid.label, 'payments/signing/v3');
    assert.equal(oid.publicLabel, oid.label);
  });

  it('gives the public half its own label where the token wants unique labels (CloudHSM)', () => {
    const oid = objectIdentity(key, VENDOR_PROFILES.cloudhsm);
    assert.equal(oid.publicLabel, 'payments/signing/v3/pub');
    assert.notEqual(oid.publicLabel, oid.label);
  });

  it('shortens long labels to the token limit, keeping them distinct', () => {
    const long = { ...key, namespace: 'n'.repeat(63), name: 'a'.repeat(253) };
    const profile = VENDOR_PROFILES.yubihsm2;
    const a = objectIdentity(long, profile);
    const b = objectIdentity({ ...long, uid: 'another-uid' }, profile);
    assert.equal(a.ids[0]?.length, 2);
    assert.equal(a.ids.length, 8, 'a colliding 16-bit id has 7 alternatives');
    assert.match(a.label, /~[0-9a-f]{8}\/v3$/, 'the version stays at the end of a shortened label');
    assert.equal(a.label.length, 40);
    assert.equal(b.label.length, 40);
    assert.notEqual(a.label, b.label);
    assert.ok(objectIdentity(long, VENDOR_PROFILES.cloudhsm).publicLabel.length <= 127);
  });
});

describe('SPKI fingerprint', () => {
  it('is SHA256: and the unpadded base64 digest', () => {
    const spki = Buffer.from('not really an spki');
    const digest = createHash('sha256').update(spki).digest('base64');
    assert.ok(digest.endsWith('='));
    assert.equal(spkiFingerprint(spki), `SHA256:${digest.replace(/=+$/, '')}`);
  });
});
