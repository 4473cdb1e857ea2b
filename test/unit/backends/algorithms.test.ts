import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ALGORITHMS,
  ALLOWED_USAGES,
  KEY_USAGES,
  archivedUsages,
  disallowedUsages,
  isAlgorithm,
  isAsymmetric,
  isKeyUsage,
  signatureDigest,
} from '../../../src/backends/algorithms.ts';

describe('algorithms', () => {
  it('uses the exact API names', () => {
    assert.deepEqual(
      [...ALGORITHMS],
      [
        'EC_P256',
        'EC_P384',
        'EC_P521',
        'ED25519',
        'RSA_2048',
        'RSA_3072',
        'RSA_4096',
        'AES_256',
        'HMAC_SHA256',
      ],
    );
    assert.deepEqual([...KEY_USAGES], ['sign', 'verify', 'encrypt', 'decrypt', 'wrap', 'unwrap']);
    assert.equal(isAlgorithm('EC_P256'), true);
    assert.equal(isAlgorithm('ec_p256'), false);
    assert.equal(isKeyUsage('unwrap'), true);
    assert.equal(isKeyUsage('derive'), false);
  });

  it('allows EC and Ed25519 and HMAC to sign/verify only, AES to encrypt/decrypt/wrap/unwrap, RSA everything', () => {
    for (const algorithm of ['EC_P256', 'EC_P384', 'EC_P521', 'ED25519', 'HMAC_SHA256'] as const) {
      assert.deepEqual(ALLOWED_USAGES[algorithm], ['sign', 'verify']);
    }
    assert.deepEqual(ALLOWED_USAGES.AES_256, ['encrypt', 'decrypt', 'wrap', 'unwrap']);
    for (const algorithm of ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const) {
      assert.deepEqual(ALLOWED_USAGES[algorithm], KEY_USAGES);
    }
  });

  it('names the usages an algorithm does not allow', () => {
    assert.deepEqual(disallowedUsages('EC_P256', ['sign', 'encrypt', 'wrap']), ['encrypt', 'wrap']);
    assert.deepEqual(disallowedUsages('AES_256', ['encrypt', 'sign']), ['sign']);
    assert.deepEqual(disallowedUsages('RSA_4096', [...KEY_USAGES]), []);
  });

  it('archived versions keep only what reads the past', () => {
    assert.deepEqual(archivedUsages([...KEY_USAGES]), ['verify', 'decrypt', 'unwrap']);
    assert.deepEqual(archivedUsages(['sign', 'verify']), ['verify']);
    assert.deepEqual(archivedUsages(['encrypt', 'wrap']), []);
  });

  it('knows which algorithms are key pairs and which digest each signature uses', () => {
    assert.deepEqual(
      ALGORITHMS.filter((algorithm) => !isAsymmetric(algorithm)),
      ['AES_256', 'HMAC_SHA256'],
    );
    assert.equal(signatureDigest('EC_P256'), 'sha256');
    assert.equal(signatureDigest('EC_P384'), 'sha384');
    assert.equal(signatureDigest('EC_P521'), 'sha512');
    assert.equal(signatureDigest('RSA_3072'), 'sha256');
    assert.equal(signatureDigest('HMAC_SHA256'), 'sha256');
    assert.equal(signatureDigest('ED25519'), undefined);
    assert.equal(signatureDigest('AES_256'), undefined);
  });
});
