// A certification request (PKCS#10, RFC 2986) for an intermediate CA, taken apart and checked before the root key
// is activated: its signature must verify with the key it carries (proof of possession), the key must be one the
// Baseline Requirements allow (6.1.5), the subject must be a CA subject (C, O, CN), and any extension it asks for
// must be one an intermediate of this profile has. Each refusal says what was asked and why it is refused.
import { createPublicKey, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { children, expect, fromPem, readOid, readOnly } from './der-reader.ts';
import type { Element } from './der-reader.ts';
import { parseName } from './subject.ts';
import type { SubjectAttribute } from './subject.ts';

const SIGNATURES: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};
const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const EXTENSION_NAMES: Record<string, string> = {
  '2.5.29.17': 'subjectAltName',
  '2.5.29.37': 'extendedKeyUsage',
  '2.5.29.30': 'nameConstraints',
  '2.5.29.32': 'certificatePolicies',
  '1.3.6.1.5.5.7.1.1': 'authorityInfoAccess',
};
/** keyUsage bits an intermediate may ask for: digitalSignature (0), keyCertSign (5), cRLSign (6). */
const ALLOWED_KEY_USAGE = new Set([0, 5, 6]);
const KEY_USAGE_NAMES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

export class CsrError extends Error {
  override name = 'CsrError';
}

export interface IntermediateRequest {
  readonly subject: SubjectAttribute[];
  /** DER SubjectPublicKeyInfo, as the CSR carries it. */
  readonly spki: Buffer;
  readonly key: KeyObject;
}

function checkKey(key: KeyObject): void {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    if (['prime256v1', 'secp384r1', 'secp521r1'].includes(details.namedCurve ?? '')) return;
    throw new CsrError(
      `the CSR's key is EC on ${details.namedCurve ?? 'an unknown curve'}; an intermediate CA key must be P-256, P-384 or P-521`,
    );
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits >= 2048 && bits % 8 === 0) return;
    throw new CsrError(
      `the CSR's RSA key has ${bits} bits; an intermediate CA key needs at least 2048, a multiple of 8`,
    );
  }
  throw new CsrError(
    `the CSR's key is ${key.asymmetricKeyType ?? 'of an unknown type'}; the Baseline Requirements allow RSA and ECDSA (P-256, P-384, P-521) for a CA`,
  );
}

function keyUsageBits(value: Buffer): number[] {
  const bits = expect(readOnly(value, 'keyUsage'), 0x03, 'keyUsage').contents;
  const set: number[] = [];
  for (let i = 8; i < bits.length * 8; i += 1) {
    if ((bits[Math.floor(i / 8)] ?? 0) & (0x80 >> (i % 8))) set.push(i - 8);
  }
  return set;
}

/** Why a requested extension is refused, or undefined when the intermediate will have it anyway. */
function extensionProblem(extension: Element): string | undefined {
  const fields = children(extension);
  const id = readOid(fields[0], 'extension id');
  const value = expect(fields.at(-1), 0x04, 'extension value').contents;
  if (id === '2.5.29.19') {
    const [ca] = children(expect(readOnly(value, 'basicConstraints'), 0x30, 'basicConstraints'));
    return ca?.tag === 0x01 && ca.contents[0] !== 0
      ? undefined
      : 'basicConstraints without CA:TRUE: this is a request for an end-entity certificate, not an intermediate CA';
  }
  if (id === '2.5.29.15') {
    const refused = keyUsageBits(value).filter((bit) => !ALLOWED_KEY_USAGE.has(bit));
    return refused.length === 0
      ? undefined
      : `keyUsage ${refused.map((b) => KEY_USAGE_NAMES[b] ?? String(b)).join(', ')}: a CA key signs certificates, CRLs and OCSP responses only (keyCertSign, cRLSign, digitalSignature)`;
  }
  if (id === '2.5.29.14') return undefined; // the subject key identifier is computed from the key anyway
  return `${EXTENSION_NAMES[id] ?? id}: an intermediate CA certificate of this ceremony carries basicConstraints, keyUsage, key identifiers, certificatePolicies and cRLDistributionPoints only, each set by the ceremony`;
}

function requestedExtensions(attributes: Element | undefined): Element[] {
  if (!attributes) return [];
  const out: Element[] = [];
  for (const attribute of children(attributes)) {
    const [type, values] = children(attribute);
    if (readOid(type, 'attribute type') !== EXTENSION_REQUEST) continue;
    for (const extensions of children(expect(values, 0x31, 'extensionRequest')))
      out.push(...children(expect(extensions, 0x30, 'Extensions')));
  }
  return out;
}

/** Parses and checks a PEM CSR; throws CsrError saying what is wrong. */
export function checkIntermediateCsr(pemText: string): IntermediateRequest {
  let info: Element;
  let signatureOid: string;
  let signature: Buffer;
  let fields: Element[];
  try {
    const [infoElement, algorithm, bits] = children(readOnly(fromPem(pemText, 'CERTIFICATE REQUEST'), 'CSR'));
    info = expect(infoElement, 0x30, 'certificationRequestInfo');
    signatureOid = readOid(children(expect(algorithm, 0x30, 'signatureAlgorithm'))[0]);
    signature = expect(bits, 0x03, 'signature').contents.subarray(1);
    fields = children(info);
  } catch (error) {
    throw new CsrError(`target.csr is not a PKCS#10 certification request: ${(error as Error).message}`);
  }
  const [, subject, spkiElement, attributes] = fields;
  const spki = Buffer.from(expect(spkiElement, 0x30, 'subjectPKInfo').encoding);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    throw new CsrError("the CSR's public key cannot be read");
  }
  checkKey(key);
  const hash = SIGNATURES[signatureOid];
  if (!hash)
    throw new CsrError(
      `the CSR is signed with ${signatureOid}; use ECDSA or RSA PKCS#1 v1.5 with SHA-256, SHA-384 or SHA-512`,
    );
  if (!verify(hash, info.encoding, key, signature))
    throw new CsrError(
      "the CSR's signature does not verify with the key it carries: it was altered or not made with that key",
    );
  const problems = requestedExtensions(attributes?.tag === 0xa0 ? attributes : undefined)
    .map(extensionProblem)
    .filter((p) => p !== undefined);
  if (problems.length > 0) throw new CsrError(`the CSR asks for ${problems.join('; ')}`);
  let parsed: SubjectAttribute[];
  try {
    parsed = parseName(expect(subject, 0x30, 'subject'));
  } catch (error) {
    throw new CsrError(`the CSR's subject: ${(error as Error).message}`);
  }
  return { subject: parsed, spki, key };
}
