import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { EC_FIELD_BYTES, derToRaw, rawToDer } from '../../../src/backends/ecdsa.ts';
import { UnsupportedError } from '../../../src/backends/errors.ts';

const CURVES = [
  ['EC_P256', 'P-256', 'sha256'],
  ['EC_P384', 'P-384', 'sha384'],
  ['EC_P521', 'P-521', 'sha512'],
] as const;

describe('ECDSA signature encodings', () => {
  for (const [algorithm, curve, hash] of CURVES) {
    it(`${algorithm}: raw r||s and DER convert both ways, as node:crypto makes and checks them`, () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      // Enough signatures that some have an r or s with a leading zero byte or the top bit set.
      for (let i = 0; i < 300; i++) {
        const message = Buffer.from(`message ${String(i)}`);
        const raw = sign(hash, message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        const der = rawToDer(raw);
        assert.ok(verify(hash, message, publicKey, der), 'DER from raw verifies');
        assert.deepEqual(derToRaw(der, EC_FIELD_BYTES[algorithm]), raw);
        const fromNode = sign(hash, message, privateKey);
        assert.deepEqual(rawToDer(derToRaw(fromNode, EC_FIELD_BYTES[algorithm])), fromNode);
      }
    });
  }

  it('refuses what is not a signature', () => {
    assert.throws(() => rawToDer(Buffer.alloc(63)), UnsupportedError);
    assert.throws(() => derToRaw(Buffer.from('3006020101020101ff', 'hex'), 32), UnsupportedError);
    assert.throws(() => derToRaw(Buffer.from('300602010102', 'hex'), 32), UnsupportedError);
    assert.throws(() => derToRaw(Buffer.alloc(0), 32), UnsupportedError);
  });
});
