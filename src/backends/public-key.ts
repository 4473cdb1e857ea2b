import { createHash } from 'node:crypto';

export interface PublicKeyInfo {
  /** DER SubjectPublicKeyInfo, importable with node:crypto createPublicKey({ format: 'der', type: 'spki' }). */
  readonly spki: Buffer;
  /** `SHA256:` and the unpadded base64 SHA-256 of the SPKI, as shown in ManagedKey status. */
  readonly fingerprint: string;
}

export function spkiFingerprint(spki: Buffer): string {
  return `SHA256:${createHash('sha256').update(spki).digest('base64').replace(/=+$/, '')}`;
}

export function publicKeyInfo(spki: Buffer): PublicKeyInfo {
  return { spki, fingerprint: spkiFingerprint(spki) };
}
