// The recipient certificate of a KeyActivation or KeyRecovery ceremony: an ephemeral EC P-256 key made for this
// ceremony only and kept in the operator's memory only, in a self-signed certificate that custodians give to
// `openssl cms -encrypt` (which needs a certificate, not a bare key). Custodians re-encrypt their share to it, so
// a share crosses the API server only as ciphertext for a key that dies with the ceremony.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import {
  algorithm,
  bitString,
  boolean,
  explicit,
  integer,
  namedBits,
  octetString,
  oid,
  pem,
  sequence,
  setOf,
  time,
  unsignedInteger,
  utf8String,
} from './der.ts';
import { subjectKeyIdentifier } from './cms.ts';
import type { CmsRecipient } from './cms-decrypt.ts';

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';

export interface CeremonyRecipient extends CmsRecipient {
  readonly pem: string;
}

/** A fresh key and its certificate, valid from now until `notAfter`. */
export function newRecipient(commonName: string, now: Date, notAfter: Date): CeremonyRecipient {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const name = sequence(setOf(sequence(oid('2.5.4.3'), utf8String(commonName))));
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const tbs = sequence(
    explicit(0, integer(2)),
    unsignedInteger(serial),
    algorithm(ECDSA_SHA256),
    name,
    sequence(time(now), time(notAfter)),
    name,
    spki,
    explicit(
      3,
      sequence(
        // keyUsage critical keyAgreement: this key receives shares and does nothing else.
        sequence(oid('2.5.29.15'), boolean(true), octetString(namedBits([4]))),
        // subjectKeyIdentifier, so that `openssl cms -encrypt -keyid` can name the recipient by it.
        sequence(oid('2.5.29.14'), octetString(octetString(subjectKeyIdentifier(spki)))),
      ),
    ),
  );
  const certificate = sequence(tbs, algorithm(ECDSA_SHA256), bitString(sign('sha256', tbs, privateKey)));
  return { privateKey, certificate, pem: pem('CERTIFICATE', certificate) };
}
