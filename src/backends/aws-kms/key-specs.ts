// Keyward algorithms and usages as KMS key specs, key usages and signing algorithms. A KMS key has exactly one key
// usage, fixed at creation: an RSA key signs or encrypts, never both.

import type { KeySpec as KmsKeySpec, KeyUsageType, SigningAlgorithmSpec } from '@aws-sdk/client-kms';
import type { Algorithm, KeyUsage } from '../algorithms.ts';
import { UnsupportedError } from '../errors.ts';

export const KMS_KEY_SPECS = {
  EC_P256: 'ECC_NIST_P256',
  EC_P384: 'ECC_NIST_P384',
  EC_P521: 'ECC_NIST_P521',
  RSA_2048: 'RSA_2048',
  RSA_3072: 'RSA_3072',
  RSA_4096: 'RSA_4096',
  AES_256: 'SYMMETRIC_DEFAULT',
  HMAC_SHA256: 'HMAC_256',
} as const satisfies { readonly [A in Algorithm]?: KmsKeySpec };

export type KmsAlgorithm = keyof typeof KMS_KEY_SPECS;

/** What KMS can make (ED25519 is left out: moto, the test peer, has no ECC_NIST_EDWARDS25519). */
export const KMS_ALGORITHMS = Object.keys(KMS_KEY_SPECS) as KmsAlgorithm[];

/** Keys in a CloudHSM custom key store can only be symmetric encryption keys. */
export const CUSTOM_KEY_STORE_ALGORITHMS: readonly KmsAlgorithm[] = ['AES_256'];

const SIGNING: readonly KeyUsage[] = ['sign', 'verify'];

/** The one KMS key usage that serves all of `usages`. */
export function kmsKeyUsage(algorithm: Algorithm, usages: readonly KeyUsage[]): KeyUsageType {
  if (algorithm === 'HMAC_SHA256') return 'GENERATE_VERIFY_MAC';
  if (algorithm === 'AES_256') return 'ENCRYPT_DECRYPT';
  if (algorithm.startsWith('EC_')) return 'SIGN_VERIFY';
  const signs = usages.some((u) => SIGNING.includes(u));
  const encrypts = usages.some((u) => !SIGNING.includes(u));
  if (signs && encrypts) {
    throw new UnsupportedError(
      `a KMS ${algorithm} key either signs or encrypts; ask for sign and verify, or for encrypt, decrypt, wrap and unwrap`,
    );
  }
  return signs ? 'SIGN_VERIFY' : 'ENCRYPT_DECRYPT';
}

/** The Keyward algorithm of a KMS key spec, or undefined for specs Keyward does not make. */
export function algorithmOfKeySpec(keySpec: string | undefined): KmsAlgorithm | undefined {
  return KMS_ALGORITHMS.find((algorithm) => KMS_KEY_SPECS[algorithm] === keySpec);
}

/** The KMS signing algorithm for a key of `algorithm` (the digest follows the key, as SIGNATURE_DIGEST says). */
export function signingAlgorithm(
  algorithm: Algorithm,
  rsaPadding: 'pkcs1' | 'pss' = 'pkcs1',
): SigningAlgorithmSpec {
  switch (algorithm) {
    case 'EC_P256':
      return 'ECDSA_SHA_256';
    case 'EC_P384':
      return 'ECDSA_SHA_384';
    case 'EC_P521':
      return 'ECDSA_SHA_512';
    case 'RSA_2048':
    case 'RSA_3072':
    case 'RSA_4096':
      return rsaPadding === 'pss' ? 'RSASSA_PSS_SHA_256' : 'RSASSA_PKCS1_V1_5_SHA_256';
    default:
      throw new UnsupportedError(`${algorithm} keys do not make signatures`);
  }
}
