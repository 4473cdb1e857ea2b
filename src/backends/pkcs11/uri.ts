// RFC 7512 `pkcs11:` URIs for key references. They name token and object, never a PIN (no pin-value, no
// pin-source): whoever uses the reference brings their own credentials.

import type { ObjectClass } from './attributes.ts';

export interface Pkcs11UriParts {
  readonly token: string;
  readonly serial: string;
  readonly object: string;
  readonly id: Buffer;
  readonly type: ObjectClass;
}

// RFC 7512 pk11-pchar: unreserved characters and pk11-path-res-avail stay literal, everything else is
// percent-encoded with upper-case hex as RFC 3986 recommends (';' separates attributes, '/' and '?' end the path).
const PATH_LITERAL = /^[A-Za-z0-9\-._~:[\]@!$'()*+,=]$/;

function encodeByte(byte: number): string {
  return `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
}

function encodeValue(value: string): string {
  return Array.from(Buffer.from(value, 'utf8'), (byte) => {
    const char = String.fromCharCode(byte);
    return byte < 0x80 && PATH_LITERAL.test(char) ? char : encodeByte(byte);
  }).join('');
}

/** RFC 7512 section 2.3: the `type` attribute's values. */
const URI_TYPES: { readonly [C in ObjectClass]: string } = {
  private: 'private',
  public: 'public',
  secret: 'secret-key',
};

export function pkcs11Uri(parts: Pkcs11UriParts): string {
  const id = Array.from(parts.id, encodeByte).join('');
  return (
    `pkcs11:token=${encodeValue(parts.token)};serial=${encodeValue(parts.serial)};` +
    `object=${encodeValue(parts.object)};id=${id};type=${URI_TYPES[parts.type]}`
  );
}
