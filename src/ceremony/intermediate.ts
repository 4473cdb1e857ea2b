// An intermediate CA certificate signed by the offline root during a KeyActivation ceremony, with the profile the
// Baseline Requirements give a subordinate CA (7.1.2.10): basicConstraints critical CA:TRUE with a path length,
// keyUsage critical keyCertSign and cRLSign, the subject key identifier of its key and the authority key
// identifier equal to the root's subject key identifier, certificatePolicies (anyPolicy: the root's own
// subordinate) and cRLDistributionPoints, validity inside the root's. The result is verified with the root
// certificate's key before it is returned.
import { X509Certificate, createHash } from 'node:crypto';
import type { Algorithm } from '../backends/algorithms.ts';
import type { SignInput } from '../backends/backend.ts';
import { assemble, CertificateError, extension, newSerial, signatureOf } from './certificate.ts';
import { subjectKeyIdentifier } from './cms.ts';
import type { IntermediateRequest } from './csr.ts';
import {
  algorithm,
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
  tlv,
  unsignedInteger,
} from './der.ts';
import { children, expect, readElement, readOid } from './der-reader.ts';
import { encodeName } from './subject.ts';

const ANY_POLICY = '2.5.29.32.0';

export interface Issuer {
  readonly algorithm: Algorithm;
  /** The root certificate, DER. */
  readonly certificate: Buffer;
}

export interface IntermediateProfile {
  readonly pathLength: number;
  readonly crlDistributionPoint: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** The issuer's subject Name (its exact encoding, so the chain matches byte for byte) and key identifier. */
function issuerParts(certificate: Buffer): { name: Buffer; keyId: Buffer } {
  const [tbs] = children(readElement(certificate));
  const fields = children(expect(tbs, 0x30, 'root tbsCertificate'));
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const name = Buffer.from(expect(fields[offset + 4], 0x30, 'root subject').encoding);
  const extensions = fields.find((f) => f.tag === 0xa3);
  for (const ext of extensions ? children(expect(children(extensions)[0], 0x30, 'extensions')) : []) {
    const parts = children(ext);
    if (readOid(parts[0]) !== '2.5.29.14') continue;
    const value = expect(parts.at(-1), 0x04, 'subjectKeyIdentifier').contents;
    return { name, keyId: Buffer.from(expect(readElement(value), 0x04, 'keyIdentifier').contents) };
  }
  throw new CertificateError('the root certificate has no subject key identifier');
}

function crlDistributionPoints(url: string): Buffer {
  // DistributionPoint { distributionPoint [0] { fullName [0] { uniformResourceIdentifier [6] } } }
  return sequence(sequence(tlv(0xa0, tlv(0xa0, tlv(0x86, Buffer.from(url, 'ascii'))))));
}

export function intermediateTbs(
  issuer: Issuer,
  request: IntermediateRequest,
  profile: IntermediateProfile,
  serial: Buffer,
): Buffer {
  const sig = signatureOf(issuer.algorithm);
  const { name, keyId } = issuerParts(issuer.certificate);
  return sequence(
    explicit(0, integer(2)),
    unsignedInteger(serial),
    sig.rsa ? algorithm(sig.oid, nullValue()) : algorithm(sig.oid),
    name,
    sequence(time(profile.notBefore), time(profile.notAfter)),
    encodeName(request.subject),
    request.spki,
    explicit(
      3,
      sequence(
        extension('2.5.29.19', true, sequence(boolean(true), integer(profile.pathLength))),
        extension('2.5.29.15', true, namedBits([5, 6])), // keyCertSign, cRLSign
        extension('2.5.29.14', false, octetString(subjectKeyIdentifier(request.spki))),
        extension('2.5.29.35', false, sequence(implicitPrimitive(0, keyId))),
        extension('2.5.29.32', false, sequence(sequence(oid(ANY_POLICY)))),
        extension('2.5.29.31', false, crlDistributionPoints(profile.crlDistributionPoint)),
      ),
    ),
  );
}

export interface SignedIntermediate {
  readonly der: Buffer;
  readonly pem: string;
  readonly serial: string;
}

/** Signs with `sign` (the root key in the HSM) and checks the result chains to the root certificate. */
export async function signIntermediate(
  issuer: Issuer,
  request: IntermediateRequest,
  profile: IntermediateProfile,
  sign: (input: SignInput) => Promise<Buffer>,
): Promise<SignedIntermediate> {
  const root = new X509Certificate(issuer.certificate);
  if (profile.notBefore < new Date(root.validFrom) || profile.notAfter > new Date(root.validTo))
    throw new CertificateError(
      `the intermediate's validity must lie inside the root's (${root.validFrom} to ${root.validTo})`,
    );
  const sig = signatureOf(issuer.algorithm);
  const tbs = intermediateTbs(issuer, request, profile, newSerial());
  const digest = createHash(sig.hash).update(tbs).digest();
  const der = assemble(tbs, issuer.algorithm, await sign({ digest, hash: sig.hash }));
  const cert = new X509Certificate(der);
  const problems: string[] = [];
  if (!cert.verify(root.publicKey)) problems.push("the HSM's signature does not verify with the root's key");
  if (!cert.checkIssued(root))
    problems.push('the certificate is not issued by the root (names, key identifiers)');
  if (!cert.ca) problems.push('basicConstraints does not say CA:TRUE');
  if (problems.length > 0)
    throw new CertificateError(`the signed intermediate is wrong: ${problems.join('; ')}`);
  return { der, pem: pem('CERTIFICATE', der), serial: cert.serialNumber };
}
