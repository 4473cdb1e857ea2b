// The subject of a CA certificate, from its RFC 4514 string ("CN=Example Root CA,O=Example,C=DE") or from the Name
// of a certification request, with the attributes the CA/Browser Forum Baseline Requirements allow a CA certificate (7.1.2.10.2), encoded in the order
// they prescribe (7.1.4.2): countryName, stateOrProvinceName, localityName, organizationName, commonName.
import { oid, printableString, sequence, setOf, utf8String } from './der.ts';
import { children, readElement, readOid } from './der-reader.ts';
import type { Element } from './der-reader.ts';

const ATTRIBUTES = [
  { key: 'C', oid: '2.5.4.6', max: 2 },
  { key: 'ST', oid: '2.5.4.8', max: 128 },
  { key: 'L', oid: '2.5.4.7', max: 128 },
  { key: 'O', oid: '2.5.4.10', max: 64 },
  { key: 'CN', oid: '2.5.4.3', max: 64 },
] as const;
const REQUIRED = ['C', 'O', 'CN'] as const;

export class SubjectError extends Error {
  override name = 'SubjectError';
}

export interface SubjectAttribute {
  readonly key: (typeof ATTRIBUTES)[number]['key'];
  readonly value: string;
}

/**
 * What a CA name must not hold: controls (NUL among them), format characters (bidi overrides and marks, zero-width
 * joiners: a name that displays as another), lone surrogates, private-use and unassigned code points, and U+FFFD,
 * which is what bytes that were not UTF-8 became.
 */
const NOT_PLAIN_TEXT = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\uFFFD]/u;

/** Characters as RFC 5280's upper bounds count them (code points), not UTF-16 units. */
function codePoints(text: string): number {
  return Array.from(text).length;
}

/** Splits on commas not escaped with a backslash, and unescapes the values. */
function rdns(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i += 1) {
    const char = text.charAt(i);
    if (char === '\\' && i + 1 < text.length) {
      current += text.charAt(i + 1);
      i += 1;
    } else if (char === ',') {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts.map((p) => p.trim());
}

export function parseSubject(text: string): SubjectAttribute[] {
  const found = new Map<string, string>();
  for (const rdn of rdns(text)) {
    const eq = rdn.indexOf('=');
    const key = rdn.slice(0, eq).trim().toUpperCase();
    const value = rdn.slice(eq + 1).trim();
    const known = ATTRIBUTES.find((a) => a.key === key);
    if (eq < 1 || !known) {
      throw new SubjectError(
        `subject attribute "${rdn}" is not allowed in a CA certificate; use ${ATTRIBUTES.map((a) => a.key).join(', ')}`,
      );
    }
    if (found.has(key)) throw new SubjectError(`subject has ${key} twice`);
    if (key === 'C' && !/^[A-Z]{2}$/.test(value)) {
      throw new SubjectError(`subject C must be a two-letter ISO 3166 country code, not "${value}"`);
    }
    const hidden = NOT_PLAIN_TEXT.exec(value)?.[0];
    if (hidden !== undefined) {
      const code = (hidden.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
      throw new SubjectError(
        `subject ${key} holds U+${code}, a control, invisible or undecodable character; a CA name must be plain text`,
      );
    }
    if (value === '' || codePoints(value) > known.max) {
      throw new SubjectError(`subject ${key} must have 1 to ${known.max} characters`);
    }
    found.set(key, value);
  }
  const missing = REQUIRED.filter((key) => !found.has(key));
  if (missing.length > 0) {
    throw new SubjectError(`a CA certificate subject needs C, O and CN; ${missing.join(', ')} missing`);
  }
  return ATTRIBUTES.filter((a) => found.has(a.key)).map((a) => ({
    key: a.key,
    value: found.get(a.key) ?? '',
  }));
}

/** The DER Name: one attribute per RDN. */
export function encodeName(attributes: readonly SubjectAttribute[]): Buffer {
  return sequence(
    ...attributes.map((attribute) => {
      const type = ATTRIBUTES.find((a) => a.key === attribute.key)?.oid ?? '';
      const value = attribute.key === 'C' ? printableString(attribute.value) : utf8String(attribute.value);
      return setOf(sequence(oid(type), value));
    }),
  );
}

/** String types a Name attribute value may have here: PrintableString, UTF8String, IA5String. */
const STRING_TAGS = new Set([0x13, 0x0c, 0x16]);

/**
 * The attributes of a DER Name (a CSR's subject), checked by the same rules as a subject string: each RDN one
 * attribute, only the attributes the Baseline Requirements allow, C, O and CN present.
 */
export function parseName(name: Element): SubjectAttribute[] {
  const parts: string[] = [];
  for (const rdn of children(name)) {
    const attributes = children(rdn);
    if (attributes.length !== 1) throw new SubjectError('each RDN of the subject must hold one attribute');
    const [type, value] = children(attributes[0] ?? readElement(Buffer.from([0x30, 0])));
    const dotted = readOid(type, 'subject attribute type');
    const known = ATTRIBUTES.find((a) => a.oid === dotted);
    if (!known || !value || !STRING_TAGS.has(value.tag)) {
      throw new SubjectError(
        `subject attribute ${known?.key ?? dotted} is not allowed in a CA certificate (or not a string); use ${ATTRIBUTES.map((a) => a.key).join(', ')}`,
      );
    }
    parts.push(`${known.key}=${value.contents.toString('utf8').replace(/[\\,]/g, '\\$&')}`);
  }
  return parseSubject(parts.join(','));
}
