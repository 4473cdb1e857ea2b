import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { jwkThumbprint, publicKeyData } from '../../../src/controllers/managedkey/public-keys.ts';

function ecKey() {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}
const spkiOf = (k: ReturnType<typeof ecKey>) => k.publicKey.export({ format: 'der', type: 'spki' });

test('publishes every version, current first and named, in PEM and JWKS', () => {
  const [v1, v2] = [ecKey(), ecKey()];
  const data = publicKeyData(
    'EC_P256',
    ['sign', 'verify'],
    [
      { version: 1, spki: spkiOf(v1), current: false },
      { version: 2, spki: spkiOf(v2), current: true },
    ],
  );
  const jwks = JSON.parse(data['jwks.json']!) as { keys: { kid: string; alg: string; use: string }[] };
  assert.equal(jwks.keys.length, 2);
  assert.equal(jwks.keys[0]!.kid, data['current-kid']);
  assert.deepEqual(
    jwks.keys.map((k) => [k.alg, k.use]),
    [
      ['ES256', 'sig'],
      ['ES256', 'sig'],
    ],
  );
  assert.equal(data['current.pem'], data['v2.pem']);
  assert.equal(data['public-keys.pem'], `${data['v2.pem']}${data['v1.pem']}`);

  // A verifier that only has the ConfigMap accepts signatures of the archived version too.
  const message = Buffer.from('overlap');
  const signature = sign('sha256', message, v1.privateKey);
  const archived = createPublicKey({ key: jwks.keys[1] as JsonWebKey, format: 'jwk' });
  assert.ok(verify('sha256', message, archived, signature));
  assert.ok(!verify('sha256', message, createPublicKey(data['current.pem']!), signature));
});

test('the key id is the RFC 7638 thumbprint', () => {
  // The example key and thumbprint of RFC 7638, section 3.1.
  const jwk = {
    kty: 'RSA',
    n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    e: 'AQAB',
    alg: 'RS256',
    kid: '2011-04-29',
  };
  assert.equal(jwkThumbprint(jwk), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
});

test('Ed25519 keys get alg EdDSA; RSA keys that both sign and encrypt get neither use nor alg', () => {
  const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
  const edJwks = JSON.parse(
    publicKeyData('ED25519', ['sign', 'verify'], [{ version: 1, spki: ed, current: true }])['jwks.json']!,
  ) as { keys: { alg?: string; crv?: string }[] };
  assert.deepEqual([edJwks.keys[0]!.alg, edJwks.keys[0]!.crv], ['EdDSA', 'Ed25519']);

  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
    format: 'der',
    type: 'spki',
  });
  const rsaJwks = JSON.parse(
    publicKeyData('RSA_2048', ['sign', 'encrypt'], [{ version: 1, spki: rsa, current: true }])['jwks.json']!,
  ) as { keys: { alg?: string; use?: string }[] };
  assert.deepEqual([rsaJwks.keys[0]!.alg, rsaJwks.keys[0]!.use], [undefined, undefined]);
});
