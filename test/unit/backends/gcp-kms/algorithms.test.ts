import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALGORITHMS } from '../../../../src/backends/algorithms.ts';
import { UnsupportedError } from '../../../../src/backends/errors.ts';
import {
  keyTemplate,
  keywardAlgorithm,
  offeredAlgorithms,
} from '../../../../src/backends/gcp-kms/algorithms.ts';

describe('Keyward algorithms as Cloud KMS CryptoKeys', () => {
  it('maps each algorithm and usage set to a purpose and a version template algorithm', () => {
    assert.deepEqual(keyTemplate({ algorithm: 'EC_P256', usages: ['sign'] }), {
      purpose: 'ASYMMETRIC_SIGN',
      algorithm: 'EC_SIGN_P256_SHA256',
    });
    assert.deepEqual(
      keyTemplate({ algorithm: 'EC_P384', usages: ['sign', 'verify'] }).algorithm,
      'EC_SIGN_P384_SHA384',
    );
    assert.deepEqual(keyTemplate({ algorithm: 'ED25519', usages: ['sign'] }).algorithm, 'EC_SIGN_ED25519');
    assert.deepEqual(keyTemplate({ algorithm: 'RSA_3072', usages: ['sign', 'verify'] }), {
      purpose: 'ASYMMETRIC_SIGN',
      algorithm: 'RSA_SIGN_PKCS1_3072_SHA256',
    });
    assert.deepEqual(keyTemplate({ algorithm: 'RSA_4096', usages: ['decrypt', 'unwrap'] }), {
      purpose: 'ASYMMETRIC_DECRYPT',
      algorithm: 'RSA_DECRYPT_OAEP_4096_SHA256',
    });
    assert.deepEqual(keyTemplate({ algorithm: 'AES_256', usages: ['encrypt', 'decrypt'] }), {
      purpose: 'ENCRYPT_DECRYPT',
      algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION',
    });
    assert.deepEqual(keyTemplate({ algorithm: 'HMAC_SHA256', usages: ['sign'] }), {
      purpose: 'MAC',
      algorithm: 'HMAC_SHA256',
    });
  });

  it('refuses an RSA key for both purposes and P-521, which Cloud KMS does not have', () => {
    assert.throws(
      () => keyTemplate({ algorithm: 'RSA_2048', usages: ['sign', 'encrypt'] }),
      UnsupportedError,
    );
    assert.throws(() => keyTemplate({ algorithm: 'EC_P521', usages: ['sign'] }), /no EC_P521/);
  });

  it('offers every algorithm but P-521 at HSM and SOFTWARE, none at EXTERNAL', () => {
    const expected = ALGORITHMS.filter((a) => a !== 'EC_P521');
    assert.deepEqual(offeredAlgorithms('HSM'), expected);
    assert.deepEqual(offeredAlgorithms('SOFTWARE'), expected);
    assert.deepEqual(offeredAlgorithms('EXTERNAL'), []);
  });

  it('reads a template algorithm back as the Keyward algorithm, and no other', () => {
    for (const algorithm of offeredAlgorithms('HSM')) {
      const usages = algorithm === 'AES_256' ? (['encrypt'] as const) : (['sign'] as const);
      assert.equal(keywardAlgorithm(keyTemplate({ algorithm, usages: [...usages] }).algorithm), algorithm);
    }
    assert.equal(keywardAlgorithm('RSA_DECRYPT_OAEP_2048_SHA256'), 'RSA_2048');
    assert.equal(keywardAlgorithm('EC_SIGN_SECP256K1_SHA256'), undefined);
    assert.equal(keywardAlgorithm('RSA_SIGN_PSS_2048_SHA256'), undefined);
  });
});
