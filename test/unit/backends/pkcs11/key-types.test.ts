import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pkcs11js from 'pkcs11js';
import { ALGORITHMS } from '../../../../src/backends/algorithms.ts';
import { CKK_EC_EDWARDS } from '../../../../src/backends/pkcs11/constants.ts';
import {
  KEY_PARAMETERS,
  algorithmOf,
  supportedAlgorithms,
} from '../../../../src/backends/pkcs11/key-types.ts';

function ulong(value: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(BigInt(value));
  return buffer;
}

describe('PKCS#11 key types', () => {
  it('recognizes each algorithm from its key type and parameters', () => {
    for (const algorithm of ALGORITHMS) {
      const parameters = KEY_PARAMETERS[algorithm];
      const attributes = new Map<number, Buffer>();
      if (parameters.kind === 'ec' || parameters.kind === 'edwards')
        attributes.set(pkcs11js.CKA_EC_PARAMS, parameters.ecParams);
      if (parameters.kind === 'rsa')
        attributes.set(pkcs11js.CKA_MODULUS, Buffer.alloc(parameters.modulusBits / 8, 0xff));
      if (parameters.kind === 'secret') attributes.set(pkcs11js.CKA_VALUE_LEN, ulong(parameters.valueLength));
      assert.equal(algorithmOf(parameters.keyType, attributes), algorithm);
    }
  });

  it('recognizes Ed25519 named by PrintableString', () => {
    const byName = Buffer.concat([Buffer.from([0x13, 0x0c]), Buffer.from('edwards25519')]);
    assert.equal(algorithmOf(CKK_EC_EDWARDS, new Map([[pkcs11js.CKA_EC_PARAMS, byName]])), 'ED25519');
  });

  it('does not recognize keys Keyward does not make', () => {
    const rsa1024 = new Map([[pkcs11js.CKA_MODULUS, Buffer.alloc(128, 0xff)]]);
    assert.equal(algorithmOf(pkcs11js.CKK_RSA, rsa1024), undefined);
    const rsa2047 = new Map([
      [pkcs11js.CKA_MODULUS, Buffer.concat([Buffer.from([0x7f]), Buffer.alloc(255, 0xff)])],
    ]);
    assert.equal(algorithmOf(pkcs11js.CKK_RSA, rsa2047), undefined);
    const aes128 = new Map([[pkcs11js.CKA_VALUE_LEN, ulong(16)]]);
    assert.equal(algorithmOf(pkcs11js.CKK_AES, aes128), undefined);
    const secp256k1 = new Map([[pkcs11js.CKA_EC_PARAMS, Buffer.from('06052b8104000a', 'hex')]]);
    assert.equal(algorithmOf(pkcs11js.CKK_EC, secp256k1), undefined);
  });

  it('offers only the algorithms whose mechanisms the token lists', () => {
    const mechanisms = new Set([pkcs11js.CKM_EC_KEY_PAIR_GEN, pkcs11js.CKM_ECDSA, pkcs11js.CKM_AES_KEY_GEN]);
    assert.deepEqual(supportedAlgorithms(mechanisms), ['EC_P256', 'EC_P384', 'EC_P521', 'AES_256']);
  });
});
