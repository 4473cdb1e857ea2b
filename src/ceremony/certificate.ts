// The self-signed root certificate, built as DER here and signed inside the HSM, with the profile the CA/Browser
// Forum Baseline Requirements give a root CA (7.1.2.1): basicConstraints critical CA:TRUE without a path length,
// keyUsage critical keyCertSign and cRLSign, subject and authority key identifiers, a positive serial of 127
// random bits, the signature hash that fits the key. As boulder's ceremony tool does, the certificate is first
// signed with a throwaway key and checked, then signed in the HSM and verified against the HSM's public key.
import {
  X509Certificate,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign as softwareSign,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Algorithm, SignatureDigest } from '../backends/algorithms.ts';
import type { SignInput } from '../backends/backend.ts';
import {
  algorithm,
  bitString,
  boolean,
  explicit,
  implicitPrimitive,
  integer,
  namedBits,
  nullValue,
  octetString,
  oid,
  pem,
  sequence,
  time,
  unsignedInteger,
} from './der.ts';
import { subjectKeyIdentifier } from './cms.ts';
import { encodeName, parseSubject } from './subject.ts';

/** Root key algorithms the Baseline Requirements allow (6.1.5): RSA and ECDSA on P-256, P-384, P-521. */
const SIGNATURE: Partial<Record<Algorithm, { oid: string; hash: SignatureDigest; rsa: boolean }>> = {
  EC_P256: { oid: '1.2.840.10045.4.3.2', hash: 'sha256', rsa: false },
  EC_P384: { oid: '1.2.840.10045.4.3.3', hash: 'sha384', rsa: false },
  EC_P521: { oid: '1.2.840.10045.4.3.4', hash: 'sha512', rsa: false },
  RSA_2048: { oid: '1.2.840.113549.1.1.11', hash: 'sha256', rsa: true },
  RSA_3072: { oid: '1.2.840.113549.1.1.11', hash: 'sha256', rsa: true },
  RSA_4096: { oid: '1.2.840.113549.1.1.11', hash: 'sha256', rsa: true },
};

export class CertificateError extends Error {
  override name = 'CertificateError';
}

/** Refuses what cannot make a Baseline Requirements root, before anything is generated. */
export function checkRootRequest(request: { algorithm: Algorithm; subject: string }): void {
  if (!SIGNATURE[request.algorithm]) {
    throw new CertificateError(
      `the Baseline Requirements do not allow ${request.algorithm} for a root CA; use EC_P256, EC_P384, EC_P521 or RSA`,
    );
  }
  parseSubject(request.subject);
}

export interface RootRequest {
  readonly algorithm: Algorithm;
  readonly subject: string;
  /** DER SubjectPublicKeyInfo of the root key. */
  readonly spki: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export function signatureOf(key: Algorithm): { oid: string; hash: SignatureDigest; rsa: boolean } {
  const found = SIGNATURE[key];
  if (!found) throw new CertificateError(`no root certificate signature for ${key}`);
  return found;
}

export function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? sequence(oid(id), boolean(true), octetString(value))
    : sequence(oid(id), octetString(value));
}

export function rootTbs(request: RootRequest, serial: Buffer): Buffer {
  const sig = signatureOf(request.algorithm);
  const signatureAlgorithm = sig.rsa ? algorithm(sig.oid, nullValue()) : algorithm(sig.oid);
  const name = encodeName(parseSubject(request.subject));
  const ski = subjectKeyIdentifier(request.spki);
  return sequence(
    explicit(0, integer(2)), // v3
    unsignedInteger(serial),
    signatureAlgorithm,
    name,
    sequence(time(request.notBefore), time(request.notAfter)),
    name,
    request.spki,
    explicit(
      3,
      sequence(
        extension('2.5.29.19', true, sequence(boolean(true))), // basicConstraints CA:TRUE
        extension('2.5.29.15', true, namedBits([5, 6])), // keyUsage keyCertSign, cRLSign
        extension('2.5.29.14', false, octetString(ski)), // subjectKeyIdentifier
        extension('2.5.29.35', false, sequence(implicitPrimitive(0, ski))), // authorityKeyIdentifier
      ),
    ),
  );
}

export function assemble(tbs: Buffer, key: Algorithm, signature: Buffer): Buffer {
  const sig = signatureOf(key);
  return sequence(tbs, sig.rsa ? algorithm(sig.oid, nullValue()) : algorithm(sig.oid), bitString(signature));
}

/** A positive serial number with 127 random bits (the Baseline Requirements ask for at least 64). */
export function newSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40; // positive, and always 16 octets long
  return serial;
}

/** What the certificate must be, whoever signed it; each mismatch is one problem. */
export function profileProblems(der: Buffer, request: RootRequest): string[] {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch (error) {
    return [`the certificate does not parse: ${(error as Error).message}`];
  }
  const problems: string[] = [];
  const seconds = (date: Date): number => Math.floor(date.getTime() / 1000) * 1000;
  if (!cert.ca) problems.push('basicConstraints does not say CA:TRUE');
  if (!cert.checkIssued(cert))
    problems.push('the certificate is not self-issued (subject, issuer, key identifiers)');
  if (!cert.publicKey.export({ format: 'der', type: 'spki' }).equals(request.spki))
    problems.push('the certificate carries another public key than the root key');
  if (Date.parse(cert.validFrom) !== seconds(request.notBefore))
    problems.push(`notBefore is ${cert.validFrom}`);
  if (Date.parse(cert.validTo) !== seconds(request.notAfter)) problems.push(`notAfter is ${cert.validTo}`);
  return problems;
}

/** A software key of the same type, to sign the certificate once for checking before the HSM signs it. */
function throwawayKey(key: Algorithm): KeyObject {
  if (key.startsWith('RSA_')) {
    return generateKeyPairSync('rsa', { modulusLength: Number(key.slice(4)) }).privateKey;
  }
  const curves: Partial<Record<Algorithm, string>> = {
    EC_P256: 'prime256v1',
    EC_P384: 'secp384r1',
    EC_P521: 'secp521r1',
  };
  return generateKeyPairSync('ec', { namedCurve: curves[key] ?? '' }).privateKey;
}

export interface SignedRoot {
  readonly der: Buffer;
  readonly pem: string;
  /** Upper-case hex, as openssl prints it. */
  readonly serial: string;
}

/**
 * Builds the root certificate, checks it signed with a throwaway key, has `sign` (the HSM) sign it, and verifies
 * the result with the root key's public key. Throws CertificateError listing every problem found.
 */
export async function signRoot(
  request: RootRequest,
  sign: (input: SignInput) => Promise<Buffer>,
): Promise<SignedRoot> {
  const sig = signatureOf(request.algorithm);
  const tbs = rootTbs(request, newSerial());
  const throwaway = throwawayKey(request.algorithm);
  const trial = assemble(tbs, request.algorithm, softwareSign(sig.hash, tbs, throwaway));
  const trialProblems = profileProblems(trial, request);
  if (!new X509Certificate(trial).verify(createPublicKey(throwaway)))
    trialProblems.push('the trial signature does not verify');
  if (trialProblems.length > 0)
    throw new CertificateError(`refused before signing: ${trialProblems.join('; ')}`);

  const digest = createHash(sig.hash).update(tbs).digest();
  const der = assemble(tbs, request.algorithm, await sign({ digest, hash: sig.hash }));
  const problems = profileProblems(der, request);
  const rootKey = createPublicKey({ key: request.spki, format: 'der', type: 'spki' });
  if (!new X509Certificate(der).verify(rootKey))
    problems.push("the HSM's signature does not verify with the root key's public key");
  if (problems.length > 0)
    throw new CertificateError(`the signed certificate is wrong: ${problems.join('; ')}`);
  return { der, pem: pem('CERTIFICATE', der), serial: new X509Certificate(der).serialNumber };
}
