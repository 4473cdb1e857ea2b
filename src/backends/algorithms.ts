// The key algorithms and usages Keyward offers, by the exact names the API uses. Backends map them to their own
// mechanisms; the API and CRD code import the names and the usage rules from here.

export const ALGORITHMS = [
  'EC_P256',
  'EC_P384',
  'EC_P521',
  'ED25519',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'AES_256',
  'HMAC_SHA256',
] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

export const KEY_USAGES = ['sign', 'verify', 'encrypt', 'decrypt', 'wrap', 'unwrap'] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

const SIGNING: readonly KeyUsage[] = ['sign', 'verify'];
const CIPHER: readonly KeyUsage[] = ['encrypt', 'decrypt', 'wrap', 'unwrap'];

/** Which usages each algorithm allows. */
export const ALLOWED_USAGES: { readonly [A in Algorithm]: readonly KeyUsage[] } = {
  EC_P256: SIGNING,
  EC_P384: SIGNING,
  EC_P521: SIGNING,
  ED25519: SIGNING,
  RSA_2048: KEY_USAGES,
  RSA_3072: KEY_USAGES,
  RSA_4096: KEY_USAGES,
  AES_256: CIPHER,
  HMAC_SHA256: SIGNING,
};

export type SignatureDigest = 'sha256' | 'sha384' | 'sha512';

/** The digest a signature (or MAC) over a message uses. Ed25519 signs the message itself (PureEdDSA). */
export const SIGNATURE_DIGEST = {
  EC_P256: 'sha256',
  EC_P384: 'sha384',
  EC_P521: 'sha512',
  RSA_2048: 'sha256',
  RSA_3072: 'sha256',
  RSA_4096: 'sha256',
  HMAC_SHA256: 'sha256',
} as const satisfies { readonly [A in Algorithm]?: SignatureDigest };

export function signatureDigest(algorithm: Algorithm): SignatureDigest | undefined {
  return (SIGNATURE_DIGEST as { readonly [A in Algorithm]?: SignatureDigest })[algorithm];
}

const SYMMETRIC: readonly Algorithm[] = ['AES_256', 'HMAC_SHA256'];

export function isAlgorithm(value: string): value is Algorithm {
  return (ALGORITHMS as readonly string[]).includes(value);
}

export function isKeyUsage(value: string): value is KeyUsage {
  return (KEY_USAGES as readonly string[]).includes(value);
}

/** True for key pairs (which have a public key to distribute), false for secret keys. */
export function isAsymmetric(algorithm: Algorithm): boolean {
  return !SYMMETRIC.includes(algorithm);
}

/** The usages in `usages` that `algorithm` does not allow (empty when all are allowed). */
export function disallowedUsages(algorithm: Algorithm, usages: readonly KeyUsage[]): KeyUsage[] {
  return usages.filter((usage) => !ALLOWED_USAGES[algorithm].includes(usage));
}

/**
 * What an archived (rotated-out) version keeps: it may still check old signatures and open what was encrypted or
 * wrapped under it, but never sign, encrypt or wrap anything new.
 */
export function archivedUsages(usages: readonly KeyUsage[]): KeyUsage[] {
  return usages.filter((usage) => usage === 'verify' || usage === 'decrypt' || usage === 'unwrap');
}
