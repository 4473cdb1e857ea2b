// Which mechanism signs (or MACs) for each algorithm, and what the host must do around it.

import { createHash } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { type Algorithm, SIGNATURE_DIGEST } from '../algorithms.ts';
import type { SignOptions } from '../backend.ts';
import { UnsupportedError } from '../errors.ts';
import { CKM_EDDSA } from './constants.ts';

const ECDSA_WITH_DIGEST = {
  sha256: pkcs11js.CKM_ECDSA_SHA256,
  sha384: pkcs11js.CKM_ECDSA_SHA384,
  sha512: pkcs11js.CKM_ECDSA_SHA512,
} as const;

const PSS_SHA256_PARAMETER: pkcs11js.RsaPSS = {
  type: pkcs11js.CK_PARAMS_RSA_PSS,
  hashAlg: pkcs11js.CKM_SHA256,
  mgf: pkcs11js.CKG_MGF1_SHA256,
  saltLen: 32,
};

const PSS_SHA256: pkcs11js.Mechanism = {
  mechanism: pkcs11js.CKM_SHA256_RSA_PKCS_PSS,
  parameter: PSS_SHA256_PARAMETER,
};

export interface SignatureScheme {
  readonly mechanism: pkcs11js.Mechanism;
  /** The bytes handed to C_Sign / C_Verify for a message. */
  input(data: Buffer): Buffer;
}

const asIs = (data: Buffer): Buffer => data;

/**
 * The scheme for `algorithm` on a token offering `mechanisms`. ECDSA uses CKM_ECDSA_SHA* when the token has it;
 * otherwise (SoftHSM 2.6) the digest is computed here and signed with plain CKM_ECDSA, which gives the same
 * signature. Either way the result is raw r||s.
 */
export function signatureScheme(
  algorithm: Algorithm,
  mechanisms: ReadonlySet<number>,
  options: SignOptions = {},
): SignatureScheme {
  switch (algorithm) {
    case 'EC_P256':
    case 'EC_P384':
    case 'EC_P521': {
      const digest = SIGNATURE_DIGEST[algorithm];
      const combined = ECDSA_WITH_DIGEST[digest];
      if (mechanisms.has(combined)) return { mechanism: { mechanism: combined }, input: asIs };
      return {
        mechanism: { mechanism: pkcs11js.CKM_ECDSA },
        input: (data) => createHash(digest).update(data).digest(),
      };
    }
    case 'ED25519':
      return { mechanism: { mechanism: CKM_EDDSA }, input: asIs };
    case 'RSA_2048':
    case 'RSA_3072':
    case 'RSA_4096':
      return options.rsaPadding === 'pss'
        ? { mechanism: PSS_SHA256, input: asIs }
        : { mechanism: { mechanism: pkcs11js.CKM_SHA256_RSA_PKCS }, input: asIs };
    case 'HMAC_SHA256':
      return { mechanism: { mechanism: pkcs11js.CKM_SHA256_HMAC }, input: asIs };
    case 'AES_256':
      throw new UnsupportedError(`${algorithm} keys do not sign`);
  }
}

/** Large enough for every signature Keyward makes (RSA-4096: 512 bytes). */
export const SIGNATURE_BUFFER_LENGTH = 1024;
