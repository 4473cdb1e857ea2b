// Signatures made by people with their own keys, over the UTF-8 bytes of a digest string, in the formats openssl
// writes: `openssl dgst -sha256 -sign key.pem` (ECDSA, DER; RSA PKCS#1 v1.5) and `openssl pkeyutl -sign -rawin`
// (Ed25519, pure EdDSA).
import { constants, verify } from 'node:crypto';
import type { ParticipantKey } from './participants.ts';

/** The digests accepted per key type: P-384 signers may use SHA-384 or, as `openssl dgst -sha256` does, SHA-256. */
const HASHES: Readonly<Record<ParticipantKey['type'], readonly (string | null)[]>> = {
  'ec-p256': ['sha256'],
  'ec-p384': ['sha384', 'sha256'],
  rsa: ['sha256'],
  ed25519: [null],
};

export function verifyPersonalSignature(signer: ParticipantKey, text: string, signature: Buffer): boolean {
  const data = Buffer.from(text, 'utf8');
  return HASHES[signer.type].some((hash) => {
    try {
      return signer.type === 'rsa'
        ? verify(hash, data, { key: signer.key, padding: constants.RSA_PKCS1_PADDING }, signature)
        : verify(hash, data, signer.key, signature);
    } catch {
      return false; // a malformed signature is a signature that does not verify
    }
  });
}

/** Strict base64 (the API admits only this alphabet; a decode that does not round-trip is refused). */
export function decodeBase64(value: string): Buffer | undefined {
  const bytes = Buffer.from(value, 'base64');
  return bytes.toString('base64') === value ? bytes : undefined;
}
