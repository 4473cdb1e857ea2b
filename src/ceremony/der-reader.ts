// Reads DER: enough to take SubjectPublicKeyInfo and certificates apart (and, later, CMS messages).

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
