import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import pkcs11js from 'pkcs11js';
import { UnsupportedError } from '../../../../src/backends/errors.ts';
import { KEY_PARAMETERS } from '../../../../src/backends/pkcs11/key-types.ts';
import { decodeEcPoint, spkiFromAttributes } from '../../../../src/backends/pkcs11/spki.ts';

/** CKA_EC_POINT as PKCS#11 specifies it: the point inside a DER OCTET STRING. */
function octetString(content: Buffer): Buffer {
  const length = content.length < 0x80 ? Buffer.from([content.length]) : Buffer.from([0x81, content.length]);
  return Buffer.concat([Buffer.from([0x04]), length, content]);
}

function jwk(key: ReturnType<typeof generateKeyPairSync>['publicKey']): Record<string, string> {
  return key.export({ format: 'jwk' }) as Record<string, string>;
}

describe('decodeEcPoint', () => {
  it('accepts the bare point and the OCTET STRING around it, short and long form', () => {
    const p256 = Buffer.concat([Buffer.from([0x04]), Buffer.alloc(64, 7)]);
    assert.deepEqual(decodeEcPoint(p256, 65), p256);
    assert.deepEqual(decodeEcPoint(octetString(p256), 65), p256);
    const p521 = Buffer.concat([Buffer.from([0x04]), Buffer.alloc(132, 9)]);
    assert.deepEqual(decodeEcPoint(octetString(p521), 133), p521);
  });

  it('refuses anything else', () => {
    assert.throws(() => decodeEcPoint(Buffer.alloc(40, 4), 65), UnsupportedError);
  });
});

describe('spkiFromAttributes', () => {
  for (const [algorithm, namedCurve] of [
    ['EC_P256', 'P-256'],
    ['EC_P384', 'P-384'],
    ['EC_P521', 'P-521'],
  ] as const) {
    it(`rebuilds the SPKI node:crypto writes for ${algorithm}`, () => {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve });
      const { x = '', y = '' } = jwk(publicKey);
      const point = Buffer.concat([
        Buffer.from([0x04]),
        Buffer.from(x, 'base64url'),
        Buffer.from(y, 'base64url'),
      ]);
      const parameters = KEY_PARAMETERS[algorithm];
      assert.ok(parameters.kind === 'ec');
      const spki = spkiFromAttributes(parameters, new Map([[pkcs11js.CKA_EC_POINT, octetString(point)]]));
      assert.deepEqual(spki, publicKey.export({ type: 'spki', format: 'der' }));
    });
  }

  it('rebuilds an Ed25519 SPKI', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const point = Buffer.from(jwk(publicKey).x ?? '', 'base64url');
    const parameters = KEY_PARAMETERS.ED25519;
    assert.ok(parameters.kind === 'edwards');
    const spki = spkiFromAttributes(parameters, new Map([[pkcs11js.CKA_EC_POINT, octetString(point)]]));
    assert.deepEqual(spki, publicKey.export({ type: 'spki', format: 'der' }));
  });

  it('rebuilds an RSA SPKI from modulus and exponent', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { n = '', e = '' } = jwk(publicKey);
    const parameters = KEY_PARAMETERS.RSA_2048;
    assert.ok(parameters.kind === 'rsa');
    const spki = spkiFromAttributes(
      parameters,
      new Map([
        [pkcs11js.CKA_MODULUS, Buffer.from(n, 'base64url')],
        [pkcs11js.CKA_PUBLIC_EXPONENT, Buffer.from(e, 'base64url')],
      ]),
    );
    assert.deepEqual(spki, publicKey.export({ type: 'spki', format: 'der' }));
  });
});
