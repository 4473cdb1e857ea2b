// Proof that a key version's two halves belong together. Anyone holding the partition PIN can create objects with
// Keyward's CKA_ID and label, including a public key of their own beside someone else's private key; publishing
// that public key would hand out a key nobody holds. So before a generated or adopted version is used, a fresh
// random challenge is signed (or decrypted) inside the token with the private key and checked outside it with the
// public key read back.

import { constants, createPublicKey, publicEncrypt, randomBytes, verify } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { type Algorithm, type KeyUsage, signatureDigest } from '../algorithms.ts';
import { SIGNATURE_BUFFER_LENGTH, signatureScheme } from './signing.ts';

const OAEP_SHA1_PARAMETER: pkcs11js.RsaOAEP = {
  type: pkcs11js.CK_PARAMS_RSA_OAEP,
  hashAlg: pkcs11js.CKM_SHA_1,
  mgf: pkcs11js.CKG_MGF1_SHA1,
  source: 1, // CKZ_DATA_SPECIFIED, with no label
};
const OAEP_SHA1: pkcs11js.Mechanism = {
  mechanism: pkcs11js.CKM_RSA_PKCS_OAEP,
  parameter: OAEP_SHA1_PARAMETER,
};

export interface PairProofSubject {
  readonly pkcs11: pkcs11js.PKCS11;
  readonly session: pkcs11js.Handle;
  readonly privateKey: pkcs11js.Handle;
  readonly algorithm: Algorithm;
  /** Usages of the private half: which proof the token allows. */
  readonly usages: readonly KeyUsage[];
  readonly spki: Buffer;
  readonly mechanisms: ReadonlySet<number>;
}

/**
 * Undefined when the private key proved it matches `spki`; otherwise why not. A key that may neither sign nor
 * decrypt (an RSA key for unwrap only) cannot be challenged; for it CKA_LOCAL on both halves is the strongest check
 * the token allows, and the caller has made it.
 */
export async function pairProblem(subject: PairProofSubject): Promise<string | undefined> {
  const { pkcs11, session, privateKey, algorithm, usages, spki } = subject;
  const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  const challenge = randomBytes(32);
  if (usages.includes('sign')) {
    const scheme = signatureScheme(algorithm, subject.mechanisms, { message: challenge });
    pkcs11.C_SignInit(session, scheme.mechanism, privateKey);
    const signature = scheme.encode(
      await pkcs11.C_SignAsync(session, scheme.data, Buffer.alloc(SIGNATURE_BUFFER_LENGTH)),
    );
    return verify(signatureDigest(algorithm) ?? null, challenge, publicKey, signature)
      ? undefined
      : 'a challenge signed with the private key does not verify with the public key';
  }
  if (usages.includes('decrypt') && algorithm.startsWith('RSA_')) {
    const ciphertext = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      challenge,
    );
    pkcs11.C_DecryptInit(session, OAEP_SHA1, privateKey);
    const plaintext = await pkcs11.C_DecryptAsync(session, ciphertext, Buffer.alloc(SIGNATURE_BUFFER_LENGTH));
    return plaintext.equals(challenge)
      ? undefined
      : 'a challenge encrypted to the public key does not decrypt with the private key';
  }
  return undefined;
}
