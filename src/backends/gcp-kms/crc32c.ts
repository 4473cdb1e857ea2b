// CRC32C (Castagnoli), the checksum Cloud KMS puts beside every payload so that corruption between the client and
// the HSM is caught (https://cloud.google.com/kms/docs/data-integrity-guidelines). node:zlib only has CRC-32 (IEEE).

const POLYNOMIAL = 0x82f63b78; // reflected 0x1EDC6F41

const TABLE = Uint32Array.from({ length: 256 }, (_, byte) => {
  let crc = byte;
  for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
  return crc >>> 0;
});

export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = (TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** An Int64Value wrapper as the client sends it. */
export function crc32cValue(data: Uint8Array): { value: number } {
  return { value: crc32c(data) };
}

/** Whether an Int64Value the server returned (protobufjs decodes int64 as a number, a string or a Long) matches. */
export function crc32cMatches(
  data: Uint8Array,
  wrapper: { value?: number | string | { toString(): string } | null } | null | undefined,
): boolean {
  const value = wrapper?.value;
  if (value === undefined || value === null) return false;
  return value.toString() === String(crc32c(data));
}
