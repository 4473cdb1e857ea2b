// A custodian's or witness's own key pair, kept in a PEM file on their machine. Signatures are what openssl makes:
// `openssl dgst -sha256 -sign` (ECDSA, DER; RSA PKCS#1 v1.5) and `openssl pkeyutl -sign -rawin` (Ed25519).
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

export const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa', 'ed25519'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export function generatePersonalKey(type: KeyType): KeyObject {
  switch (type) {
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    case 'ec-p384':
      return generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
    case 'rsa':
      return generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey;
    case 'ed25519':
      return generateKeyPairSync('ed25519').privateKey;
  }
}

/** Writes the private key (PKCS#8 PEM, readable by the owner only) and returns the public key PEM. */
export function writePersonalKey(path: string, key: KeyObject): string {
  writeFileSync(path, key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
  return createPublicKey(key).export({ format: 'pem', type: 'spki' }).toString();
}

export function readPersonalKey(path: string): KeyObject {
  return createPrivateKey(readFileSync(path));
}

/** The base64 signature over the UTF-8 bytes of `text`, exactly as the openssl commands in docs/ceremonies.md make it. */
export function signText(key: KeyObject, text: string): string {
  const data = Buffer.from(text, 'utf8');
  const hash = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  return sign(hash, data, key).toString('base64');
}
