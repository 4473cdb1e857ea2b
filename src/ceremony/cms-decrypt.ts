// Opens what a custodian makes with `openssl cms -encrypt -binary -aes256 -outform PEM -in share recipient.pem` for a
// ceremony's recipient certificate (an EC P-256 key): CMS EnvelopedData (RFC 5652) with one key agreement
// recipient (RFC 5753: ephemeral-static ECDH, the ANSI X9.63 KDF, AES key wrap) and AES-CBC content encryption.
// Anything else is refused with a message that says what to run instead; nothing here ever names the plaintext.
import { X509Certificate, createDecipheriv, createPublicKey, diffieHellman } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { algorithm, bitString, explicit, octetString, oid, sequence } from './der.ts';
import { children, DerError, expect, fromPem, readElement, readOid, readOnly } from './der-reader.ts';
import type { Element } from './der-reader.ts';
import { subjectKeyIdentifier, x963Kdf } from './cms.ts';

const ENVELOPED_DATA = '1.2.840.113549.1.7.3';
const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const P256 = '1.2.840.10045.3.1.7';

/** dhSinglePass-stdDH-*kdf-scheme (RFC 5753; sha1 is openssl's default). */
const KDF: Record<string, string> = {
  '1.3.133.16.840.63.0.2': 'sha1',
  '1.3.132.1.11.0': 'sha224',
  '1.3.132.1.11.1': 'sha256',
  '1.3.132.1.11.2': 'sha384',
  '1.3.132.1.11.3': 'sha512',
};
const WRAP: Record<string, { cipher: string; bytes: number }> = {
  '2.16.840.1.101.3.4.1.5': { cipher: 'id-aes128-wrap', bytes: 16 },
  '2.16.840.1.101.3.4.1.25': { cipher: 'id-aes192-wrap', bytes: 24 },
  '2.16.840.1.101.3.4.1.45': { cipher: 'id-aes256-wrap', bytes: 32 },
};
const CONTENT: Record<string, { cipher: string; bytes: number }> = {
  '2.16.840.1.101.3.4.1.2': { cipher: 'aes-128-cbc', bytes: 16 },
  '2.16.840.1.101.3.4.1.22': { cipher: 'aes-192-cbc', bytes: 24 },
  '2.16.840.1.101.3.4.1.42': { cipher: 'aes-256-cbc', bytes: 32 },
};
const KEY_WRAP_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

export class CmsDecryptError extends Error {
  override name = 'CmsDecryptError';
}

/** The recipient: the ceremony's ephemeral private key and its certificate (DER). */
export interface CmsRecipient {
  readonly privateKey: KeyObject;
  readonly certificate: Buffer;
}

/** issuerAndSerialNumber of a certificate: the encodings of its issuer Name and serialNumber INTEGER. */
function issuerAndSerial(certificate: Buffer): Buffer {
  const [tbs] = children(readElement(certificate));
  const fields = children(expect(tbs, 0x30, 'certificate'));
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const serial = expect(fields[offset], 0x02, 'certificate serial');
  const issuer = expect(fields[offset + 2], 0x30, 'certificate issuer');
  return Buffer.concat([issuer.encoding, serial.encoding]);
}

function certificateSpki(certificate: Buffer): Buffer {
  return new X509Certificate(certificate).publicKey.export({ format: 'der', type: 'spki' });
}

/** Whether a KeyAgreeRecipientIdentifier names this recipient. */
function namesRecipient(rid: Element, recipient: CmsRecipient): boolean {
  if (rid.tag === 0x30) return Buffer.from(rid.contents).equals(issuerAndSerial(recipient.certificate));
  if (rid.tag === 0xa0) {
    // rKeyId [0] IMPLICIT RecipientKeyIdentifier: SEQUENCE { subjectKeyIdentifier OCTET STRING, ... }
    const ski = expect(children(rid)[0], 0x04, 'rKeyId');
    return ski.contents.equals(subjectKeyIdentifier(certificateSpki(recipient.certificate)));
  }
  return false;
}

/** The content-encryption key from a KeyAgreeRecipientInfo. */
function agreeKey(kari: Element, recipient: CmsRecipient, contentBytes: number): Buffer | undefined {
  const fields = children(kari);
  let index = 1; // after version
  const originator = expect(fields[index], 0xa0, 'originator');
  index += 1;
  const originatorKey = expect(children(originator)[0], 0xa1, 'originatorKey');
  const [keyAlgorithm, publicKey] = children(originatorKey);
  if (readOid(children(expect(keyAlgorithm, 0x30, 'originator algorithm'))[0]) !== EC_PUBLIC_KEY)
    throw new CmsDecryptError('the originator key is not an EC key');
  let ukm: Buffer | undefined;
  if (fields[index]?.tag === 0xa1) {
    ukm = expect(children(fields[index] as Element)[0], 0x04, 'ukm').contents;
    index += 1;
  }
  const [kdfOid, wrapAlgorithm] = children(expect(fields[index], 0x30, 'keyEncryptionAlgorithm'));
  index += 1;
  const kdfHash = KDF[readOid(kdfOid)];
  if (!kdfHash)
    throw new CmsDecryptError('the key agreement is not ephemeral-static ECDH with a standard KDF');
  const wrapId = children(expect(wrapAlgorithm, 0x30, 'key wrap algorithm'))[0];
  const wrap = WRAP[readOid(wrapId)];
  if (!wrap)
    throw new CmsDecryptError(
      'the content key is not wrapped with AES key wrap; encrypt with openssl cms -encrypt -aes256',
    );
  const encrypted = children(expect(fields[index], 0x30, 'recipientEncryptedKeys'))
    .map((rek) => children(rek))
    .find(([rid]) => rid !== undefined && namesRecipient(rid, recipient));
  if (!encrypted) return undefined;
  const encryptedKey = expect(encrypted[1], 0x04, 'encryptedKey').contents;

  const bits = expect(publicKey, 0x03, 'originator public key').contents.subarray(1);
  // RFC 5753 leaves the originator key's parameters out: the curve is the recipient's, P-256.
  const originatorSpki = sequence(algorithm(EC_PUBLIC_KEY, oid(P256)), bitString(bits));
  const shared = diffieHellman({
    privateKey: recipient.privateKey,
    publicKey: createPublicKey({ key: originatorSpki, format: 'der', type: 'spki' }),
  });
  // ECC-CMS-SharedInfo (RFC 5753 7.2): the wrap algorithm, the ukm [0] if any, the KEK length in bits [2].
  const kekBits = Buffer.alloc(4);
  kekBits.writeUInt32BE(wrap.bytes * 8);
  const sharedInfo = sequence(
    Buffer.from(wrapAlgorithm?.encoding ?? []),
    ...(ukm ? [explicit(0, octetString(ukm))] : []),
    explicit(2, octetString(kekBits)),
  );
  const kek = x963Kdf(kdfHash, shared, sharedInfo, wrap.bytes);
  shared.fill(0);
  try {
    const decipher = createDecipheriv(wrap.cipher, kek, KEY_WRAP_IV);
    const key = Buffer.concat([decipher.update(encryptedKey), decipher.final()]);
    if (key.length !== contentBytes) {
      key.fill(0);
      throw new CmsDecryptError('the unwrapped content key has the wrong length');
    }
    return key;
  } catch (error) {
    if (error instanceof CmsDecryptError) throw error;
    throw new CmsDecryptError(
      'the content key does not unwrap: the message was not made for this recipient or was altered',
    );
  } finally {
    kek.fill(0);
  }
}

/** The encryptedContent [0] IMPLICIT OCTET STRING: primitive, or constructed of OCTET STRING segments. */
function encryptedContent(element: Element): Buffer {
  if (element.tag === 0x80) return element.contents;
  if (element.tag === 0xa0)
    return Buffer.concat(children(element).map((part) => expect(part, 0x04, 'content segment').contents));
  throw new CmsDecryptError('the EnvelopedData has no encrypted content');
}

/** Decrypts a PEM (`-----BEGIN CMS-----`) EnvelopedData made for `recipient`. Zero the result after use. */
export function decryptEnveloped(pemText: string, recipient: CmsRecipient): Buffer {
  try {
    return decrypt(fromPem(pemText, 'CMS'), recipient);
  } catch (error) {
    if (error instanceof CmsDecryptError) throw error;
    if (error instanceof DerError || error instanceof RangeError)
      throw new CmsDecryptError(`not a CMS message this ceremony can read (${error.message})`);
    throw error;
  }
}

function decrypt(der: Buffer, recipient: CmsRecipient): Buffer {
  const [contentType, content] = children(readOnly(der, 'ContentInfo'));
  if (readOid(contentType) !== ENVELOPED_DATA)
    throw new CmsDecryptError('the CMS message is not EnvelopedData; make it with openssl cms -encrypt');
  const fields = children(expect(children(expect(content, 0xa0, 'content'))[0], 0x30, 'EnvelopedData'));
  let index = 1; // after version
  if (fields[index]?.tag === 0xa0) index += 1; // originatorInfo
  const recipientInfos = children(expect(fields[index], 0x31, 'recipientInfos'));
  const [, algorithmId, body] = children(expect(fields[index + 1], 0x30, 'encryptedContentInfo'));
  const [cipherOid, iv] = children(expect(algorithmId, 0x30, 'contentEncryptionAlgorithm'));
  const cipher = CONTENT[readOid(cipherOid)];
  if (!cipher)
    throw new CmsDecryptError(
      'the content is not encrypted with AES-CBC (openssl 3.0 defaults to 3DES); encrypt with openssl cms -encrypt -aes256',
    );
  let key: Buffer | undefined;
  for (const info of recipientInfos) {
    if (info.tag !== 0xa1) continue; // only key agreement: the recipient certificate has an EC key
    key = agreeKey(info, recipient, cipher.bytes);
    if (key) break;
  }
  if (!key)
    throw new CmsDecryptError("the CMS message is not encrypted to this ceremony's recipient certificate");
  try {
    const decipher = createDecipheriv(cipher.cipher, key, expect(iv, 0x04, 'IV').contents);
    return Buffer.concat([decipher.update(encryptedContent(body as Element)), decipher.final()]);
  } catch (error) {
    if (error instanceof CmsDecryptError) throw error;
    throw new CmsDecryptError('the content does not decrypt: the message was altered');
  } finally {
    key.fill(0);
  }
}
