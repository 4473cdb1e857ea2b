// Public keys out of PKCS#11 attributes as DER SubjectPublicKeyInfo. The attributes become a JWK and node:crypto
// writes the SPKI, so no hand-written ASN.1 encoder is involved.

import { createPublicKey, type JsonWebKey } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { UnsupportedError } from '../errors.ts';
import { bufferAttribute } from './attributes.ts';
import type { CurveParameters, RsaParameters } from './key-types.ts';

/**
 * CKA_EC_POINT is specified as a DER OCTET STRING around the point, but some modules return the bare point.
 * Accepts both; `length` is the bare point's length.
 */
export function decodeEcPoint(value: Buffer, length: number): Buffer {
  if (value.length === length) return value;
  if (value[0] === 0x04) {
    const lengthOctet = value.readUInt8(1);
    const headerLength = lengthOctet < 0x80 ? 2 : 2 + (lengthOctet & 0x7f);
    const contentLength = lengthOctet < 0x80 ? lengthOctet : value.readUIntBE(2, lengthOctet & 0x7f);
    if (contentLength === length && value.length === headerLength + length)
      return value.subarray(headerLength);
  }
  throw new UnsupportedError(
    `CKA_EC_POINT has ${value.length} bytes, neither a ${length}-byte point nor an OCTET STRING of one`,
  );
}

export function spkiFromAttributes(
  parameters: CurveParameters | RsaParameters,
  attributes: Map<number, Buffer>,
): Buffer {
  return createPublicKey({ key: jwkOf(parameters, attributes), format: 'jwk' }).export({
    type: 'spki',
    format: 'der',
  });
}

function jwkOf(parameters: CurveParameters | RsaParameters, attributes: Map<number, Buffer>): JsonWebKey {
  if (parameters.kind === 'rsa') {
    return {
      kty: 'RSA',
      n: bufferAttribute(attributes, pkcs11js.CKA_MODULUS).toString('base64url'),
      e: bufferAttribute(attributes, pkcs11js.CKA_PUBLIC_EXPONENT).toString('base64url'),
    };
  }
  const n = parameters.coordinateLength;
  const ecPoint = bufferAttribute(attributes, pkcs11js.CKA_EC_POINT);
  if (parameters.kind === 'edwards') {
    return { kty: 'OKP', crv: parameters.jwkCurve, x: decodeEcPoint(ecPoint, n).toString('base64url') };
  }
  const point = decodeEcPoint(ecPoint, 1 + 2 * n);
  if (point[0] !== 0x04) throw new UnsupportedError('CKA_EC_POINT is not an uncompressed point');
  return {
    kty: 'EC',
    crv: parameters.jwkCurve,
    x: point.subarray(1, 1 + n).toString('base64url'),
    y: point.subarray(1 + n).toString('base64url'),
  };
}
