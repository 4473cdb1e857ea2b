// Shares encrypted to their custodians as CMS (RFC 5652) AuthEnvelopedData (RFC 5083) with AES-256-GCM, so that a
// custodian opens theirs with `openssl cms -decrypt -inform PEM -inkey custodian.pem` and nothing else:
// - EC P-256 and P-384 custodians: key agreement (RFC 5753), ephemeral-static ECDH with the ANSI X9.63 KDF
//   (dhSinglePass-stdDH-sha256kdf-scheme, sha384 for P-384), the content key wrapped with AES-256 key wrap;
// - RSA custodians: key transport with RSAES-OAEP (default parameters: SHA-1, as RFC 8017 defines them).
// Custodians are named by the subject key identifier (SHA-1 of their public key bits), since they have keys, not
// certificates.
import {
  createCipheriv,
  createHash,
  diffieHellman,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
  constants,
} from 'node:crypto';
import {
  algorithm,
  bitString,
  explicit,
  implicitConstructed,
  implicitPrimitive,
  integer,
  octetString,
  oid,
  pem,
  sequence,
  setOf,
} from './der.ts';
import { subjectPublicKeyBits } from './der-reader.ts';
import { canReceiveShare } from './participants.ts';
import type { ParticipantKey } from './participants.ts';

const OID = {
  data: '1.2.840.113549.1.7.1',
  authEnvelopedData: '1.2.840.113549.1.9.16.1.23',
  aes256Gcm: '2.16.840.1.101.3.4.1.46',
  aes256Wrap: '2.16.840.1.101.3.4.1.45',
  ecPublicKey: '1.2.840.10045.2.1',
  ecdhSha256Kdf: '1.3.132.1.11.1',
  ecdhSha384Kdf: '1.3.132.1.11.2',
  rsaesOaep: '1.2.840.113549.1.1.7',
} as const;

const KEY_BYTES = 32;
const TAG_BYTES = 16;
/** RFC 3394's default initial value for AES key wrap. */
const KEY_WRAP_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

export class ShareRecipientError extends Error {
  override name = 'ShareRecipientError';
}

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits. */
export function subjectKeyIdentifier(spki: Buffer): Buffer {
  return createHash('sha1').update(subjectPublicKeyBits(spki)).digest();
}

/** ANSI X9.63 KDF (SEC 1 section 3.6.1), as CMS uses it with ECDH: Hash(Z || counter || SharedInfo). */
export function x963Kdf(hash: string, secret: Buffer, sharedInfo: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 1, total = 0; total < length; counter += 1) {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    const block = createHash(hash).update(secret).update(count).update(sharedInfo).digest();
    blocks.push(block);
    total += block.length;
  }
  const all = Buffer.concat(blocks);
  const out = Buffer.from(all.subarray(0, length));
  all.fill(0);
  for (const block of blocks) block.fill(0);
  return out;
}

function aesKeyWrap(kek: Buffer, key: Buffer): Buffer {
  const cipher = createCipheriv('id-aes256-wrap', kek, KEY_WRAP_IV);
  return Buffer.concat([cipher.update(key), cipher.final()]);
}

function keyAgreeRecipient(recipient: ParticipantKey, contentKey: Buffer): Buffer {
  const namedCurve = recipient.type === 'ec-p384' ? 'secp384r1' : 'prime256v1';
  const hash = recipient.type === 'ec-p384' ? 'sha384' : 'sha256';
  const ephemeral = generateKeyPairSync('ec', { namedCurve });
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient.key });
  const wrap = algorithm(OID.aes256Wrap);
  // ECC-CMS-SharedInfo: the key-wrap algorithm and the KEK length in bits, [2] EXPLICIT.
  const kekBits = Buffer.alloc(4);
  kekBits.writeUInt32BE(KEY_BYTES * 8);
  const sharedInfo = sequence(wrap, explicit(2, octetString(kekBits)));
  const kek = x963Kdf(hash, shared, sharedInfo, KEY_BYTES);
  shared.fill(0);
  const encryptedKey = aesKeyWrap(kek, contentKey);
  kek.fill(0);
  const originatorPoint = subjectPublicKeyBits(ephemeral.publicKey.export({ format: 'der', type: 'spki' }));
  return implicitConstructed(
    1, // RecipientInfo: kari [1]
    Buffer.concat([
      integer(3),
      explicit(
        0,
        implicitConstructed(1, Buffer.concat([algorithm(OID.ecPublicKey), bitString(originatorPoint)])),
      ),
      algorithm(hash === 'sha256' ? OID.ecdhSha256Kdf : OID.ecdhSha384Kdf, wrap),
      sequence(
        sequence(
          implicitConstructed(0, octetString(subjectKeyIdentifier(recipient.spki))), // rKeyId
          octetString(encryptedKey),
        ),
      ),
    ]),
  );
}

function keyTransportRecipient(recipient: ParticipantKey, contentKey: Buffer): Buffer {
  const encryptedKey = publicEncrypt(
    { key: recipient.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    contentKey,
  );
  return sequence(
    integer(2), // version 2: the recipient is named by subject key identifier
    implicitPrimitive(0, subjectKeyIdentifier(recipient.spki)),
    algorithm(OID.rsaesOaep, sequence()),
    octetString(encryptedKey),
  );
}

/** Encrypts `plaintext` to one recipient; returns the DER ContentInfo. */
export function encryptTo(recipient: ParticipantKey, plaintext: Buffer): Buffer {
  if (!canReceiveShare(recipient)) {
    throw new ShareRecipientError(
      `${recipient.name} has an Ed25519 key, which can sign but cannot receive an encrypted share; give ${recipient.name} an EC P-256, EC P-384 or RSA key`,
    );
  }
  const contentKey = randomBytes(KEY_BYTES);
  const nonce = randomBytes(12);
  try {
    const recipientInfo =
      recipient.type === 'rsa'
        ? keyTransportRecipient(recipient, contentKey)
        : keyAgreeRecipient(recipient, contentKey);
    const cipher = createCipheriv('aes-256-gcm', contentKey, nonce, { authTagLength: TAG_BYTES });
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const authEnveloped = sequence(
      integer(0),
      setOf(recipientInfo),
      sequence(
        oid(OID.data),
        algorithm(OID.aes256Gcm, sequence(octetString(nonce), integer(TAG_BYTES))),
        implicitPrimitive(0, ciphertext),
      ),
      octetString(cipher.getAuthTag()),
    );
    return sequence(oid(OID.authEnvelopedData), explicit(0, authEnveloped));
  } finally {
    contentKey.fill(0);
  }
}

/** The PEM form `openssl cms -inform PEM` reads. */
export function encryptToPem(recipient: ParticipantKey, plaintext: Buffer): string {
  return pem('CMS', encryptTo(recipient, plaintext));
}
