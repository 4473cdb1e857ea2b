// What backends need to know about algorithms beyond their names: digests, and which usages remain after archival.
// The names and which usages each algorithm allows belong to the API (src/api/algorithms.ts); they are re-exported
// here so that backend code has one place to import from.

import { ALGORITHMS, ALLOWED_USAGES, KEY_USAGES } from '../api/algorithms.ts';
import type { Algorithm, KeyUsage } from '../api/algorithms.ts';

export { ALGORITHMS, ALLOWED_USAGES, KEY_USAGES, isAsymmetric } from '../api/algorithms.ts';
export type { Algorithm, KeyUsage } from '../api/algorithms.ts';

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

export function isAlgorithm(value: string): value is Algorithm {
  return (ALGORITHMS as readonly string[]).includes(value);
}

export function isKeyUsage(value: string): value is KeyUsage {
  return (KEY_USAGES as readonly string[]).includes(value);
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
