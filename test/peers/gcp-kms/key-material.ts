// The peer's cryptography, all real: key pairs and secrets from node:crypto, ECDSA over a digest with the curve
// arithmetic Keyward verifies with (node:crypto hashes whatever it signs), RSASSA-PKCS1-v1_5 over a digest as a
// DigestInfo through privateEncrypt, RSA-OAEP-SHA256, HMAC-SHA256 and AES-256-GCM.

import {
  type KeyObject,
  constants,
  createCipheriv,
  createDecipheriv,
  createHmac,
  generateKeyPairSync,
  privateDecrypt,
  privateEncrypt,
  randomBytes,
  sign,
  timingSafeEqual,
} from 'node:crypto';
import { rawToDer } from '../../../src/backends/ecdsa.ts';
import {
  CURVES,
  type CurveName,
  digestInteger,
  invert,
  multiplyAdd,
  toBigInt,
  toBytes,
} from '../../../src/backends/gcp-kms/ecdsa-digest.ts';

export type Material =
  | {
      readonly kind: 'ec';
      readonly curve: CurveName;
      readonly privateKey: KeyObject;
      readonly publicKey: KeyObject;
    }
  | {
      readonly kind: 'ed25519' | 'rsa-sign' | 'rsa-decrypt';
      readonly privateKey: KeyObject;
      readonly publicKey: KeyObject;
    }
  | { readonly kind: 'aes' | 'hmac'; readonly secret: Buffer };

/** What each CryptoKeyVersionAlgorithm the peer serves is made of, and the digest it signs. */
export const ALGORITHMS: Readonly<
  Record<string, { purpose: string; digest?: 'sha256' | 'sha384'; make: () => Material }>
> = {
  EC_SIGN_P256_SHA256: { purpose: 'ASYMMETRIC_SIGN', digest: 'sha256', make: () => ec('P-256') },
  EC_SIGN_P384_SHA384: { purpose: 'ASYMMETRIC_SIGN', digest: 'sha384', make: () => ec('P-384') },
  EC_SIGN_ED25519: {
    purpose: 'ASYMMETRIC_SIGN',
    make: () => ({ kind: 'ed25519', ...generateKeyPairSync('ed25519') }),
  },
  RSA_SIGN_PKCS1_2048_SHA256: {
    purpose: 'ASYMMETRIC_SIGN',
    digest: 'sha256',
    make: () => rsa('rsa-sign', 2048),
  },
  RSA_SIGN_PKCS1_3072_SHA256: {
    purpose: 'ASYMMETRIC_SIGN',
    digest: 'sha256',
    make: () => rsa('rsa-sign', 3072),
  },
  RSA_SIGN_PKCS1_4096_SHA256: {
    purpose: 'ASYMMETRIC_SIGN',
    digest: 'sha256',
    make: () => rsa('rsa-sign', 4096),
  },
  RSA_DECRYPT_OAEP_2048_SHA256: { purpose: 'ASYMMETRIC_DECRYPT', make: () => rsa('rsa-decrypt', 2048) },
  RSA_DECRYPT_OAEP_3072_SHA256: { purpose: 'ASYMMETRIC_DECRYPT', make: () => rsa('rsa-decrypt', 3072) },
  RSA_DECRYPT_OAEP_4096_SHA256: { purpose: 'ASYMMETRIC_DECRYPT', make: () => rsa('rsa-decrypt', 4096) },
  GOOGLE_SYMMETRIC_ENCRYPTION: {
    purpose: 'ENCRYPT_DECRYPT',
    make: () => ({ kind: 'aes', secret: randomBytes(32) }),
  },
  HMAC_SHA256: { purpose: 'MAC', make: () => ({ kind: 'hmac', secret: randomBytes(32) }) },
};

function ec(curve: CurveName): Material {
  return { kind: 'ec', curve, ...generateKeyPairSync('ec', { namedCurve: curve }) };
}

function rsa(kind: 'rsa-sign' | 'rsa-decrypt', modulusLength: number): Material {
  return { kind, ...generateKeyPairSync('rsa', { modulusLength }) };
}

const DIGEST_INFO = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
} as const;

/** ECDSA (FIPS 186-5) over a digest with a random nonce; DER, as Cloud KMS returns it. */
function ecdsaSignDigest(curveName: CurveName, privateKey: KeyObject, digest: Buffer): Buffer {
  const curve = CURVES[curveName];
  const d = toBigInt(Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url'));
  const e = digestInteger(curve, digest);
  for (;;) {
    const k = (toBigInt(randomBytes(curve.size + 8)) % (curve.n - 1n)) + 1n;
    const point = multiplyAdd(curve, k, curve.g);
    if (!point) continue;
    const r = point.x % curve.n;
    const s = (invert(k, curve.n) * (e + r * d)) % curve.n;
    if (r !== 0n && s !== 0n)
      return rawToDer(Buffer.concat([toBytes(r, curve.size), toBytes(s, curve.size)]));
  }
}

export function signDigest(material: Material, hash: 'sha256' | 'sha384', digest: Buffer): Buffer {
  if (material.kind === 'ec') return ecdsaSignDigest(material.curve, material.privateKey, digest);
  if (material.kind === 'rsa-sign') {
    return privateEncrypt(
      { key: material.privateKey, padding: constants.RSA_PKCS1_PADDING },
      Buffer.concat([DIGEST_INFO[hash], digest]),
    );
  }
  throw new Error(`a ${material.kind} key does not sign digests`);
}

export function signData(material: Material, data: Buffer): Buffer {
  if (material.kind !== 'ed25519') throw new Error(`a ${material.kind} key does not sign data`);
  return sign(null, data, material.privateKey);
}

export function oaepDecrypt(material: Material, ciphertext: Buffer): Buffer {
  if (material.kind !== 'rsa-decrypt') throw new Error(`a ${material.kind} key does not decrypt`);
  return privateDecrypt(
    { key: material.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    ciphertext,
  );
}

export function hmac(material: Material, data: Buffer): Buffer {
  if (material.kind !== 'hmac') throw new Error(`a ${material.kind} key does not MAC`);
  return createHmac('sha256', material.secret).update(data).digest();
}

export function hmacMatches(material: Material, data: Buffer, mac: Buffer): boolean {
  const expected = hmac(material, data);
  return expected.length === mac.length && timingSafeEqual(expected, mac);
}

/**
 * AES-256-GCM; the ciphertext starts with the version number (4 bytes) so that Decrypt, which names the CryptoKey,
 * finds the version, as Cloud KMS ciphertexts do. The CryptoKey name is the associated data.
 */
export function aesEncrypt(material: Material, version: number, keyName: string, plaintext: Buffer): Buffer {
  if (material.kind !== 'aes') throw new Error(`a ${material.kind} key does not encrypt`);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', material.secret, iv).setAAD(Buffer.from(keyName));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(version);
  return Buffer.concat([header, iv, body, cipher.getAuthTag()]);
}

/** The version number a ciphertext names. */
export function ciphertextVersion(ciphertext: Buffer): number | undefined {
  return ciphertext.length >= 4 + 12 + 16 ? ciphertext.readUInt32BE(0) : undefined;
}

/** The plaintext, or undefined when the ciphertext does not authenticate. */
export function aesDecrypt(material: Material, keyName: string, ciphertext: Buffer): Buffer | undefined {
  if (material.kind !== 'aes') throw new Error(`a ${material.kind} key does not decrypt`);
  const decipher = createDecipheriv('aes-256-gcm', material.secret, ciphertext.subarray(4, 16));
  decipher.setAAD(Buffer.from(keyName)).setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  try {
    return Buffer.concat([
      decipher.update(ciphertext.subarray(16, ciphertext.length - 16)),
      decipher.final(),
    ]);
  } catch {
    return undefined;
  }
}

/** The PEM Cloud KMS serves for a key pair. */
export function publicPem(material: Material): string | undefined {
  return 'publicKey' in material
    ? String(material.publicKey.export({ format: 'pem', type: 'spki' }))
    : undefined;
}

/** Destroying a version wipes its material. */
export function wipe(material: Material): void {
  if ('secret' in material) material.secret.fill(0);
}
