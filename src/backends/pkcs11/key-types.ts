// How each Keyward algorithm is made and recognized in PKCS#11: key type, generation mechanism, curve or size.

import pkcs11js from 'pkcs11js';
import { ALGORITHMS, type Algorithm } from '../algorithms.ts';
import { bufferAttribute, ulongAttribute } from './attributes.ts';
import { CKK_EC_EDWARDS, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA } from './constants.ts';

interface Common {
  readonly keyType: number;
  readonly generate: number;
  /** Mechanisms the token must list for Keyward to offer the algorithm (generation and its main operation). */
  readonly required: readonly number[];
}

export interface CurveParameters extends Common {
  readonly kind: 'ec' | 'edwards';
  /** DER of the curve's OID, written as CKA_EC_PARAMS. */
  readonly ecParams: Buffer;
  /** The JWK curve name node:crypto imports the public key with. */
  readonly jwkCurve: 'P-256' | 'P-384' | 'P-521' | 'Ed25519';
  /** Bytes of one coordinate (EC) or of the whole public key (Ed25519). */
  readonly coordinateLength: number;
}

export interface RsaParameters extends Common {
  readonly kind: 'rsa';
  readonly modulusBits: number;
}

export interface SecretParameters extends Common {
  readonly kind: 'secret';
  readonly valueLength: number;
}

export type KeyParameters = CurveParameters | RsaParameters | SecretParameters;

const der = (hex: string): Buffer => Buffer.from(hex, 'hex');

const ec = (
  ecParams: string,
  jwkCurve: CurveParameters['jwkCurve'],
  coordinateLength: number,
): CurveParameters => ({
  kind: 'ec',
  keyType: pkcs11js.CKK_EC,
  generate: pkcs11js.CKM_EC_KEY_PAIR_GEN,
  required: [pkcs11js.CKM_EC_KEY_PAIR_GEN, pkcs11js.CKM_ECDSA],
  ecParams: der(ecParams),
  jwkCurve,
  coordinateLength,
});

const rsa = (modulusBits: number): RsaParameters => ({
  kind: 'rsa',
  keyType: pkcs11js.CKK_RSA,
  generate: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN,
  required: [pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN, pkcs11js.CKM_SHA256_RSA_PKCS],
  modulusBits,
});

export const KEY_PARAMETERS: { readonly [A in Algorithm]: KeyParameters } = {
  EC_P256: ec('06082a8648ce3d030107', 'P-256', 32),
  EC_P384: ec('06052b81040022', 'P-384', 48),
  EC_P521: ec('06052b81040023', 'P-521', 66),
  ED25519: {
    kind: 'edwards',
    keyType: CKK_EC_EDWARDS,
    generate: CKM_EC_EDWARDS_KEY_PAIR_GEN,
    required: [CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA],
    ecParams: der('06032b6570'), // id-Ed25519 (RFC 8410)
    jwkCurve: 'Ed25519',
    coordinateLength: 32,
  },
  RSA_2048: rsa(2048),
  RSA_3072: rsa(3072),
  RSA_4096: rsa(4096),
  AES_256: {
    kind: 'secret',
    keyType: pkcs11js.CKK_AES,
    generate: pkcs11js.CKM_AES_KEY_GEN,
    required: [pkcs11js.CKM_AES_KEY_GEN],
    valueLength: 32,
  },
  HMAC_SHA256: {
    kind: 'secret',
    keyType: pkcs11js.CKK_GENERIC_SECRET,
    generate: pkcs11js.CKM_GENERIC_SECRET_KEY_GEN,
    required: [pkcs11js.CKM_GENERIC_SECRET_KEY_GEN, pkcs11js.CKM_SHA256_HMAC],
    valueLength: 32,
  },
};

// PKCS#11 3.0 also names Edwards curves by PrintableString; some tokens report that form.
const ED25519_BY_NAME = Buffer.concat([Buffer.from([0x13, 0x0c]), Buffer.from('edwards25519')]);

/** Bits in an unsigned big-endian integer. */
function bitLength(unsigned: Buffer): number {
  const first = unsigned.findIndex((byte) => byte !== 0);
  if (first < 0) return 0;
  return (unsigned.length - first - 1) * 8 + (32 - Math.clz32(unsigned.readUInt8(first)));
}

/** The algorithms whose mechanisms the token lists. */
export function supportedAlgorithms(mechanisms: ReadonlySet<number>): Algorithm[] {
  return ALGORITHMS.filter((algorithm) =>
    KEY_PARAMETERS[algorithm].required.every((mechanism) => mechanisms.has(mechanism)),
  );
}

/** What kind of key a CKA_KEY_TYPE is among those Keyward makes (undefined for any other). */
function kindOfKeyType(keyType: number): KeyParameters['kind'] | undefined {
  return Object.values(KEY_PARAMETERS).find((parameters) => parameters.keyType === keyType)?.kind;
}

/**
 * Attributes to read from a private or secret key to recognize its algorithm; none for a key type Keyward does not
 * make (its algorithm is undefined whatever they say, and they may not exist for it).
 */
export function parameterTypes(keyType: number): number[] {
  switch (kindOfKeyType(keyType)) {
    case 'ec':
    case 'edwards':
      return [pkcs11js.CKA_EC_PARAMS];
    case 'rsa':
      return [pkcs11js.CKA_MODULUS];
    case 'secret':
      return [pkcs11js.CKA_VALUE_LEN];
    case undefined:
      return [];
  }
}

/** Attributes of a public key object its SPKI is made of (spki.ts); none for a key type Keyward does not make. */
export function publicKeyTypes(keyType: number): number[] {
  switch (kindOfKeyType(keyType)) {
    case 'ec':
    case 'edwards':
      return [pkcs11js.CKA_EC_POINT];
    case 'rsa':
      return [pkcs11js.CKA_MODULUS, pkcs11js.CKA_PUBLIC_EXPONENT];
    case 'secret':
    case undefined:
      return [];
  }
}

/** The algorithm a private or secret key implements, or undefined when it is none Keyward makes. */
export function algorithmOf(keyType: number, attributes: Map<number, Buffer>): Algorithm | undefined {
  return ALGORITHMS.find((algorithm) => {
    const parameters = KEY_PARAMETERS[algorithm];
    if (parameters.keyType !== keyType) return false;
    switch (parameters.kind) {
      case 'ec':
      case 'edwards': {
        const ecParams = bufferAttribute(attributes, pkcs11js.CKA_EC_PARAMS);
        return (
          ecParams.equals(parameters.ecParams) ||
          (algorithm === 'ED25519' && ecParams.equals(ED25519_BY_NAME))
        );
      }
      case 'rsa': {
        return bitLength(bufferAttribute(attributes, pkcs11js.CKA_MODULUS)) === parameters.modulusBits;
      }
      case 'secret': {
        const length = ulongAttribute(attributes, pkcs11js.CKA_VALUE_LEN);
        // SoftHSM2 2.6.1 leaves CKA_VALUE_LEN 0 on a key it unwrapped (and refuses it in the unwrap template); the
        // only AES key Keyward makes is AES_256, and a restore checks the unwrapped key's check value against it.
        return length === parameters.valueLength || (length === 0 && algorithm === 'AES_256');
      }
    }
  });
}
