// Key Vault returns and takes ECDSA signatures as raw r||s (JOSE, IEEE P1363); X.509, CMS and openssl use DER.

/** DER ECDSA-Sig-Value from r||s. */
export function rawToDer(raw: Buffer): Buffer {
  const half = raw.length / 2;
  const integer = (bytes: Buffer): Buffer => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
    const trimmed = bytes.subarray(start);
    const value = (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
    return Buffer.concat([Buffer.from([0x02, value.length]), value]);
  };
  const body = Buffer.concat([integer(raw.subarray(0, half)), integer(raw.subarray(half))]);
  const length = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([0x30]), length, body]);
}

/** r||s, each `size` bytes, from DER; undefined when `der` is not a well-formed signature of that size. */
export function derToRaw(der: Buffer, size: number): Buffer | undefined {
  let offset = 0;
  const byte = (): number => {
    const value = der[offset];
    offset += 1;
    return value ?? -1;
  };
  if (byte() !== 0x30) return undefined;
  let length = byte();
  if (length === 0x81) length = byte();
  if (length !== der.length - offset) return undefined;
  const parts: Buffer[] = [];
  for (let i = 0; i < 2; i += 1) {
    if (byte() !== 0x02) return undefined;
    const intLength = byte();
    if (intLength <= 0 || offset + intLength > der.length) return undefined;
    let value = der.subarray(offset, offset + intLength);
    offset += intLength;
    while (value.length > size && value[0] === 0) value = value.subarray(1);
    if (value.length > size) return undefined;
    parts.push(Buffer.concat([Buffer.alloc(size - value.length), value]));
  }
  return offset === der.length ? Buffer.concat(parts) : undefined;
}
