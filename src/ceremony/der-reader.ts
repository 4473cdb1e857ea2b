// Reads DER: enough to take SubjectPublicKeyInfo, certificates, certification requests and CMS EnvelopedData apart.

export interface Element {
  readonly tag: number;
  /** The contents octets. */
  readonly contents: Buffer;
  /** The whole encoding, tag and length included. */
  readonly encoding: Buffer;
}

export class DerError extends Error {
  override name = 'DerError';
}

/** The element that starts at `offset`. */
export function readElement(buffer: Buffer, offset = 0): Element {
  const tag = buffer[offset];
  const first = buffer[offset + 1];
  if (tag === undefined || first === undefined) throw new DerError('truncated DER');
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used here');
  let length = first;
  let header = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new DerError('unsupported DER length');
    length = 0;
    for (let i = 0; i < count; i += 1) length = length * 256 + (buffer[offset + 2 + i] ?? 0);
    header += count;
  }
  const end = offset + header + length;
  if (end > buffer.length) throw new DerError('truncated DER');
  return {
    tag,
    contents: buffer.subarray(offset + header, end),
    encoding: buffer.subarray(offset, end),
  };
}

/** The elements inside a constructed element (SEQUENCE, SET, an explicit tag). */
export function children(element: Element): Element[] {
  const out: Element[] = [];
  for (let offset = 0; offset < element.contents.length;) {
    const child = readElement(element.contents, offset);
    out.push(child);
    offset += child.encoding.length;
  }
  return out;
}

/** The key bits of a DER SubjectPublicKeyInfo: the contents of its BIT STRING without the unused-bits octet. */
export function subjectPublicKeyBits(spki: Buffer): Buffer {
  const [, bits] = children(readElement(spki));
  if (bits?.tag !== 0x03) throw new DerError('not a SubjectPublicKeyInfo');
  return bits.contents.subarray(1);
}

/** The element itself, checked to have the tag expected. */
export function expect(element: Element | undefined, tag: number, what: string): Element {
  if (element?.tag !== tag) {
    throw new DerError(
      `${what}: expected tag 0x${tag.toString(16)}, found ${element ? `0x${element.tag.toString(16)}` : 'nothing'}`,
    );
  }
  return element;
}

/** The dotted form of an OBJECT IDENTIFIER. */
export function readOid(element: Element | undefined, what = 'an OBJECT IDENTIFIER'): string {
  const { contents } = expect(element, 0x06, what);
  const arcs: number[] = [];
  let value = 0;
  for (const byte of contents) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    }
  }
  const [first = 0, ...rest] = arcs;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...rest].join('.');
}

/** The one element a DER buffer holds; trailing bytes are an error. */
export function readOnly(buffer: Buffer, what: string): Element {
  const element = readElement(buffer);
  if (element.encoding.length !== buffer.length) throw new DerError(`${what}: trailing bytes after the DER`);
  return element;
}

/** The DER inside a PEM block with this label. */
export function fromPem(text: string, label: string): Buffer {
  const match = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(text);
  if (!match?.[1]) throw new DerError(`not a PEM ${label}`);
  return Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}
