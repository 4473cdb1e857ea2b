// Keyward algorithms as Cloud KMS CryptoKeys: a purpose (fixed when the key is made) and a version template
// algorithm. A Cloud KMS key has exactly one purpose, so an RSA key either signs or decrypts, never both; and the
// algorithm fixes the padding and digest, so an RSA signing key is PKCS#1 v1.5 with SHA-256 for its whole life.

import type { protos } from '@google-cloud/kms';
import type { Algorithm, KeyUsage } from '../algorithms.ts';
import type { KeySpec } from '../backend.ts';
import { UnsupportedError } from '../errors.ts';

export type GcpPurpose = 'ASYMMETRIC_SIGN' | 'ASYMMETRIC_DECRYPT' | 'ENCRYPT_DECRYPT' | 'MAC';
export type GcpProtectionLevel = 'HSM' | 'SOFTWARE' | 'EXTERNAL';

/** A CryptoKeyVersionAlgorithm enum name. */
export type GcpAlgorithm = keyof typeof protos.google.cloud.kms.v1.CryptoKeyVersion.CryptoKeyVersionAlgorithm;

export interface KeyTemplate {
  readonly purpose: GcpPurpose;
  readonly algorithm: GcpAlgorithm;
}

/** Templates by Keyward algorithm and purpose. EC_P521 is absent: Cloud KMS offers no P-521 keys. */
const TEMPLATES: { readonly [A in Algorithm]?: Partial<Record<GcpPurpose, GcpAlgorithm>> } = {
  EC_P256: { ASYMMETRIC_SIGN: 'EC_SIGN_P256_SHA256' },
  EC_P384: { ASYMMETRIC_SIGN: 'EC_SIGN_P384_SHA384' },
  ED25519: { ASYMMETRIC_SIGN: 'EC_SIGN_ED25519' },
  RSA_2048: {
    ASYMMETRIC_SIGN: 'RSA_SIGN_PKCS1_2048_SHA256',
    ASYMMETRIC_DECRYPT: 'RSA_DECRYPT_OAEP_2048_SHA256',
  },
  RSA_3072: {
    ASYMMETRIC_SIGN: 'RSA_SIGN_PKCS1_3072_SHA256',
    ASYMMETRIC_DECRYPT: 'RSA_DECRYPT_OAEP_3072_SHA256',
  },
  RSA_4096: {
    ASYMMETRIC_SIGN: 'RSA_SIGN_PKCS1_4096_SHA256',
    ASYMMETRIC_DECRYPT: 'RSA_DECRYPT_OAEP_4096_SHA256',
  },
  AES_256: { ENCRYPT_DECRYPT: 'GOOGLE_SYMMETRIC_ENCRYPTION' },
  HMAC_SHA256: { MAC: 'HMAC_SHA256' },
};

const SIGNING_USAGES: readonly KeyUsage[] = ['sign', 'verify'];

/**
 * The algorithms Keyward can make at a protection level. EXTERNAL (Cloud EKM) versions are created by linking a key
 * that already lives in the external key manager (an external key URI per version), which is not generation by
 * Keyward, so none is offered there.
 */
export function offeredAlgorithms(protectionLevel: GcpProtectionLevel): Algorithm[] {
  if (protectionLevel === 'EXTERNAL') return [];
  return (Object.keys(TEMPLATES) as Algorithm[]).filter((algorithm) => TEMPLATES[algorithm] !== undefined);
}

/** The purpose a spec's usages need: signing keys sign, other RSA keys decrypt. */
function purposeOf(spec: KeySpec): GcpPurpose {
  switch (spec.algorithm) {
    case 'AES_256':
      return 'ENCRYPT_DECRYPT';
    case 'HMAC_SHA256':
      return 'MAC';
    case 'RSA_2048':
    case 'RSA_3072':
    case 'RSA_4096': {
      const signs = spec.usages.some((usage) => SIGNING_USAGES.includes(usage));
      const decrypts = spec.usages.some((usage) => !SIGNING_USAGES.includes(usage));
      if (signs && decrypts) {
        throw new UnsupportedError(
          `a Cloud KMS key has one purpose: an ${spec.algorithm} key either signs (sign, verify) or decrypts (encrypt, decrypt, wrap, unwrap), not both; asked for ${spec.usages.join(', ')}`,
        );
      }
      return signs ? 'ASYMMETRIC_SIGN' : 'ASYMMETRIC_DECRYPT';
    }
    default:
      return 'ASYMMETRIC_SIGN';
  }
}

/** The CryptoKey template for a spec (whose algorithm the shared checks found offered). */
export function keyTemplate(spec: KeySpec): KeyTemplate {
  const purpose = purposeOf(spec);
  const algorithm = TEMPLATES[spec.algorithm]?.[purpose];
  if (algorithm === undefined)
    throw new UnsupportedError(`Cloud KMS offers no ${spec.algorithm} ${purpose} keys`);
  return { purpose, algorithm };
}

/** The Keyward algorithm of a CryptoKeyVersionAlgorithm, or undefined for one Keyward does not make. */
export function keywardAlgorithm(gcpAlgorithm: string): Algorithm | undefined {
  for (const [algorithm, byPurpose] of Object.entries(TEMPLATES)) {
    if ((Object.values(byPurpose) as string[]).includes(gcpAlgorithm)) return algorithm as Algorithm;
  }
  return undefined;
}
