// What Keyward does around Cloud KMS signing: the digest it sends (Cloud KMS signs digests, except Ed25519, which
// signs the message), the signature format asked for, and verification with the public key (Cloud KMS has no
// asymmetric verify call; Google's documented way is to verify with the public key).

import { type KeyObject, constants, createHash, publicDecrypt, verify as verifyMessage } from 'node:crypto';
import { type Algorithm, signatureDigest } from '../algorithms.ts';
import type { SignInput, SignOptions } from '../backend.ts';
import { UnsupportedError } from '../errors.ts';
import { EC_FIELD_BYTES, derToRaw } from '../ecdsa.ts';
import { verifyDigest } from './ecdsa-digest.ts';

const EC_SIZE: { readonly [A in Algorithm]?: number } = EC_FIELD_BYTES;

/** What AsymmetricSign is sent: the message itself (Ed25519) or a digest of the key's hash. */
export type SignPayload = { readonly data: Buffer } | DigestPayload;

interface DigestPayload {
  readonly digest: Buffer;
  readonly hash: 'sha256' | 'sha384' | 'sha512';
}

export function signPayload(algorithm: Algorithm, input: SignInput): SignPayload {
  if (algorithm === 'ED25519') {
    if ('message' in input) return { data: input.message };
    throw new UnsupportedError('ED25519 signs messages, not digests (PureEdDSA)');
  }
  if ('digest' in input) return input;
  const hash = signatureDigest(algorithm);
  if (hash === undefined) throw new UnsupportedError(`${algorithm} keys do not sign digests`);
  return { digest: createHash(hash).update(input.message).digest(), hash };
}

/** Cloud KMS fixes an RSA key's padding when the key is made: Keyward's RSA signing keys are PKCS#1 v1.5. */
export function assertRsaPadding(algorithm: Algorithm, options: SignOptions): void {
  if (algorithm.startsWith('RSA_') && options.rsaPadding === 'pss') {
    throw new UnsupportedError(
      `this ${algorithm} key was made as RSA_SIGN_PKCS1 (PKCS#1 v1.5); Cloud KMS fixes the padding of a key when it is made, so it cannot sign or verify with PSS`,
    );
  }
}

/** Cloud KMS returns ECDSA signatures in DER; `raw` asks for r||s. */
export function formatSignature(algorithm: Algorithm, der: Buffer, options: SignOptions): Buffer {
  const size = EC_SIZE[algorithm];
  if (size === undefined || options.ecdsaFormat !== 'raw') return der;
  return derToRaw(der, size);
}

/** DigestInfo prefixes (RFC 8017 section 9.2, note 1). */
const DIGEST_INFO = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
} as const;

function verifyRsaDigest(publicKey: KeyObject, payload: DigestPayload, signature: Buffer): boolean {
  try {
    const decoded = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
    return decoded.equals(Buffer.concat([DIGEST_INFO[payload.hash], payload.digest]));
  } catch {
    return false;
  }
}

/** Whether `signature` (in the format `options` names) is the key's signature of `input`. */
export function verifyWithPublicKey(
  algorithm: Algorithm,
  publicKey: KeyObject,
  input: SignInput,
  signature: Buffer,
  options: SignOptions,
): boolean {
  const size = EC_SIZE[algorithm];
  if (size !== undefined) {
    if ('message' in input) {
      const dsaEncoding = options.ecdsaFormat === 'raw' ? 'ieee-p1363' : 'der';
      return verifyMessage(
        signatureDigest(algorithm) ?? null,
        input.message,
        { key: publicKey, dsaEncoding },
        signature,
      );
    }
    try {
      const raw = options.ecdsaFormat === 'raw' ? signature : derToRaw(signature, size);
      return verifyDigest(publicKey, input.digest, raw);
    } catch {
      return false; // not a DER signature
    }
  }
  if (algorithm === 'ED25519') {
    return 'message' in input && verifyMessage(null, input.message, publicKey, signature);
  }
  const payload = signPayload(algorithm, input);
  return 'digest' in payload && verifyRsaDigest(publicKey, payload, signature);
}
