// Which mechanism signs (or MACs) for each algorithm, what bytes it is given, and how its output is encoded.

import { createHash } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { type Algorithm, SIGNATURE_DIGEST } from '../algorithms.ts';
import type { SignInput, SignOptions } from '../backend.ts';
import { EC_FIELD_BYTES, derToRaw, rawToDer } from '../ecdsa.ts';
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

// DER DigestInfo prefix of a SHA-256 digest (RFC 8017 section 9.2 note 1), for CKM_RSA_PKCS over a digest.
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

export interface SignatureScheme {
  readonly mechanism: pkcs11js.Mechanism;
  /** The bytes handed to C_Sign / C_Verify. */
  readonly data: Buffer;
  /** The token's signature as the caller asked for it (ECDSA raw r||s becomes DER unless raw was asked). */
  encode(signature: Buffer): Buffer;
  /** The caller's signature as the token checks it. */
  decode(signature: Buffer): Buffer | undefined;
}

const asIs = (signature: Buffer): Buffer => signature;

/**
 * The scheme for `algorithm` on a token offering `mechanisms`. ECDSA over a message uses CKM_ECDSA_SHA* when the
 * token has it; otherwise (SoftHSM 2.6), and always for a digest, the digest is signed with plain CKM_ECDSA, which
 * gives the same signature. The checks of ../checks.ts have run: a digest is of the key's hash.
 */
export function signatureScheme(
  algorithm: Algorithm,
  mechanisms: ReadonlySet<number>,
  input: SignInput,
  options: SignOptions = {},
): SignatureScheme {
  const plain = (mechanism: number, data: Buffer): SignatureScheme => ({
    mechanism: { mechanism },
    data,
    encode: asIs,
    decode: asIs,
  });
  switch (algorithm) {
    case 'EC_P256':
    case 'EC_P384':
    case 'EC_P521': {
      const hash = SIGNATURE_DIGEST[algorithm];
      const der = options.ecdsaFormat !== 'raw';
      const encoding = {
        encode: (raw: Buffer) => (der ? rawToDer(raw) : raw),
        decode: (signature: Buffer) => (der ? derToRawOrUndefined(signature, algorithm) : signature),
      };
      const combined = ECDSA_WITH_DIGEST[hash];
      if ('message' in input && mechanisms.has(combined)) {
        return { mechanism: { mechanism: combined }, data: input.message, ...encoding };
      }
      const digest = 'digest' in input ? input.digest : createHash(hash).update(input.message).digest();
      return { mechanism: { mechanism: pkcs11js.CKM_ECDSA }, data: digest, ...encoding };
    }
    case 'ED25519':
      return plain(CKM_EDDSA, messageOf(input, algorithm));
    case 'RSA_2048':
    case 'RSA_3072':
    case 'RSA_4096': {
      const pss = options.rsaPadding === 'pss';
      if ('message' in input) {
        return pss
          ? {
              ...plain(0, input.message),
              mechanism: { mechanism: pkcs11js.CKM_SHA256_RSA_PKCS_PSS, parameter: PSS_SHA256_PARAMETER },
            }
          : plain(pkcs11js.CKM_SHA256_RSA_PKCS, input.message);
      }
      return pss
        ? {
            ...plain(0, input.digest),
            mechanism: { mechanism: pkcs11js.CKM_RSA_PKCS_PSS, parameter: PSS_SHA256_PARAMETER },
          }
        : plain(pkcs11js.CKM_RSA_PKCS, Buffer.concat([SHA256_DIGEST_INFO, input.digest]));
    }
    case 'HMAC_SHA256':
      return plain(pkcs11js.CKM_SHA256_HMAC, messageOf(input, algorithm));
    case 'AES_256':
      throw new UnsupportedError(`${algorithm} keys do not sign`);
  }
}

function messageOf(input: SignInput, algorithm: Algorithm): Buffer {
  if ('message' in input) return input.message;
  throw new UnsupportedError(`${algorithm} signs messages, not digests`);
}

/** A malformed DER signature cannot verify: undefined, so the caller answers false rather than throwing. */
function derToRawOrUndefined(signature: Buffer, algorithm: keyof typeof EC_FIELD_BYTES): Buffer | undefined {
  try {
    return derToRaw(signature, EC_FIELD_BYTES[algorithm]);
  } catch {
    return undefined;
  }
}

/** Large enough for every signature Keyward makes (RSA-4096: 512 bytes). */
export const SIGNATURE_BUFFER_LENGTH = 1024;
