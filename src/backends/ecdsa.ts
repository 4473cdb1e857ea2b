// ECDSA signatures in their two encodings: raw r||s (IEEE P1363: PKCS#11 CKM_ECDSA, Azure Key Vault, JOSE) and DER
// (an ASN.1 SEQUENCE of two INTEGERs: X.509, CMS, openssl, GCP and AWS KMS). Every backend converts with these.
import { UnsupportedError } from './errors.ts';

/** The DER INTEGER content of an unsigned big-endian number: no leading zeros, one 0x00 if the top bit is set. */
function derInteger(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start += 1;
  const trimmed = unsigned.subarray(start);
  const body = (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
  return Buffer.concat([Buffer.from([0x02, body.length]), body]);
}

function derLength(length: number): Buffer {
  return length < 0x80 ? Buffer.from([length]) : Buffer.from([0x81, length]);
}

/** r||s (each half the same length) as DER. */
export function rawToDer(raw: Buffer): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw new UnsupportedError(
      `a raw ECDSA signature has two halves of equal length, not ${raw.length} bytes`,
    );
  }
  const half = raw.length / 2;
  const body = Buffer.concat([derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

/** DER as r||s, each padded to `fieldBytes` (32 for P-256, 48 for P-384, 66 for P-521). */
export function derToRaw(der: Buffer, fieldBytes: number): Buffer {
  let offset = 0;
  const read = (): number => {
    const byte = der[offset];
    if (byte === undefined) throw new UnsupportedError('truncated DER ECDSA signature');
    offset += 1;
    return byte;
  };
  const readLength = (): number => {
    const first = read();
    if (first < 0x80) return first;
    if (first !== 0x81) throw new UnsupportedError('malformed DER ECDSA signature length');
    return read();
  };
  const readInteger = (): Buffer => {
    if (read() !== 0x02) throw new UnsupportedError('a DER ECDSA signature holds two INTEGERs');
    const length = readLength();
    const value = der.subarray(offset, offset + length);
    offset += length;
    let start = 0;
    while (start < value.length && value[start] === 0) start += 1;
    const unsigned = value.subarray(start);
    if (unsigned.length > fieldBytes) throw new UnsupportedError('DER ECDSA integer longer than the curve');
    return Buffer.concat([Buffer.alloc(fieldBytes - unsigned.length), unsigned]);
  };
  if (read() !== 0x30) throw new UnsupportedError('a DER ECDSA signature is a SEQUENCE');
  const length = readLength();
  if (offset + length !== der.length)
    throw new UnsupportedError('trailing bytes after a DER ECDSA signature');
  const r = readInteger();
  const s = readInteger();
  if (offset !== der.length) throw new UnsupportedError('malformed DER ECDSA signature');
  return Buffer.concat([r, s]);
}

/** Field size in bytes of the curve of an EC algorithm. */
export const EC_FIELD_BYTES = { EC_P256: 32, EC_P384: 48, EC_P521: 66 } as const;
