// The pieces of the GCP backend that sit on the wire: CRC32C, ECDSA over a digest, gRPC status mapping, endpoints.
import assert from 'node:assert/strict';
import { createECDH, createHash, generateKeyPairSync, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { Metadata, status } from '@grpc/grpc-js';
import { derToRaw } from '../../../../src/backends/ecdsa.ts';
import {
  MisconfiguredError,
  NotFoundError,
  PermissionDeniedError,
  RetryableError,
} from '../../../../src/backends/errors.ts';
import { parseEndpoint } from '../../../../src/backends/gcp-kms/client.ts';
import { crc32c, crc32cMatches } from '../../../../src/backends/gcp-kms/crc32c.ts';
import {
  CURVES,
  multiplyAdd,
  toBigInt,
  verifyDigest,
} from '../../../../src/backends/gcp-kms/ecdsa-digest.ts';
import { toBackendError } from '../../../../src/backends/gcp-kms/errors.ts';

function grpcError(code: status, details: string): Error {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), {
    code,
    details,
    metadata: new Metadata(),
  });
}

describe('CRC32C', () => {
  it('matches the RFC 3720 check values', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
  });

  it('compares with an Int64Value as protobufjs decodes it (number, string, Long)', () => {
    const data = Buffer.from('payload');
    assert.ok(crc32cMatches(data, { value: crc32c(data) }));
    assert.ok(crc32cMatches(data, { value: String(crc32c(data)) }));
    assert.ok(crc32cMatches(data, { value: { toString: () => String(crc32c(data)) } }));
    assert.equal(crc32cMatches(data, { value: crc32c(data) ^ 1 }), false);
    assert.equal(crc32cMatches(data, undefined), false);
  });
});

describe('ECDSA over a digest', () => {
  for (const [curve, namedCurve, hash] of [
    ['P-256', 'prime256v1', 'sha256'],
    ['P-384', 'secp384r1', 'sha384'],
  ] as const) {
    it(`${curve}: k·G agrees with node:crypto, and node's signatures verify over their digest`, () => {
      const ecdh = createECDH(namedCurve);
      ecdh.generateKeys();
      const point = multiplyAdd(CURVES[curve], toBigInt(ecdh.getPrivateKey()), CURVES[curve].g);
      assert.equal(point?.x, toBigInt(ecdh.getPublicKey().subarray(1, 1 + CURVES[curve].size)));

      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const message = Buffer.from('signed by node');
      const raw = derToRaw(sign(hash, message, privateKey), CURVES[curve].size);
      const digest = createHash(hash).update(message).digest();
      assert.ok(verifyDigest(publicKey, digest, raw));
      assert.equal(verifyDigest(publicKey, createHash(hash).update('other').digest(), raw), false);
      const tampered = Buffer.from(raw);
      tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;
      assert.equal(verifyDigest(publicKey, digest, tampered), false);
      assert.equal(verifyDigest(publicKey, digest, raw.subarray(1)), false);
    });
  }
});

describe('gRPC status to the error taxonomy', () => {
  it('retries transient codes and refuses the rest for good', () => {
    for (const code of [
      status.UNAVAILABLE,
      status.RESOURCE_EXHAUSTED,
      status.DEADLINE_EXCEEDED,
      status.INTERNAL,
    ]) {
      assert.ok(toBackendError(grpcError(code, 'x'), 'sign') instanceof RetryableError, status[code]);
    }
    assert.ok(toBackendError(grpcError(status.NOT_FOUND, 'gone'), 'get') instanceof NotFoundError);
    assert.ok(toBackendError(grpcError(status.INVALID_ARGUMENT, 'bad'), 'get') instanceof MisconfiguredError);
    assert.match(
      toBackendError(grpcError(status.NOT_FOUND, 'CryptoKey x not found.'), 'get the CryptoKey').message,
      /^get the CryptoKey: NOT_FOUND: CryptoKey x not found\.$/,
    );
  });

  it('says what permission is missing, and nothing the server said about the credentials', () => {
    const denied = toBackendError(
      grpcError(
        status.PERMISSION_DENIED,
        "Permission 'cloudkms.cryptoKeyVersions.useToSign' denied for ya29.TOKEN",
      ),
      'sign',
    );
    assert.ok(denied instanceof PermissionDeniedError);
    assert.match(denied.message, /cloudkms\.cryptoKeyVersions\.useToSign/);
    assert.doesNotMatch(denied.message, /ya29/);
    const unauthenticated = toBackendError(
      grpcError(status.UNAUTHENTICATED, 'token ya29.SECRET expired'),
      'sign',
    );
    assert.ok(unauthenticated instanceof PermissionDeniedError);
    assert.doesNotMatch(unauthenticated.message, /ya29/);
    const plugin = toBackendError(
      grpcError(
        status.UNAVAILABLE,
        'Getting metadata from plugin failed with error: invalid_grant: assertion eyJSECRET',
      ),
      'sign',
    );
    assert.ok(plugin instanceof PermissionDeniedError);
    assert.doesNotMatch(plugin.message, /eyJ/);
  });

  it('keeps no cause, which could hold a token request', () => {
    const error = Object.assign(new Error('request failed'), { response: { data: 'secret' } });
    const mapped = toBackendError(error, 'get the key ring');
    assert.ok(mapped instanceof PermissionDeniedError);
    assert.equal(mapped.cause, undefined);
    assert.doesNotMatch(mapped.message, /secret/);
  });
});

describe('endpoint', () => {
  it('reads host:port (TLS) and http://loopback:port (plaintext)', () => {
    assert.deepEqual(parseEndpoint('kms.internal:8443'), {
      host: 'kms.internal',
      port: 8443,
      plaintext: false,
    });
    assert.deepEqual(parseEndpoint('https://kms.internal'), {
      host: 'kms.internal',
      port: 443,
      plaintext: false,
    });
    assert.deepEqual(parseEndpoint('http://127.0.0.1:9000'), {
      host: '127.0.0.1',
      port: 9000,
      plaintext: true,
    });
    assert.deepEqual(parseEndpoint('http://[::1]:9000'), { host: '::1', port: 9000, plaintext: true });
    assert.throws(() => parseEndpoint('http://10.0.0.1:9000'), /loopback/);
  });
});
