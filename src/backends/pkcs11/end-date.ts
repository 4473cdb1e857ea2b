// The token's own record of a scheduled destruction: CKA_END_DATE on the key's objects. PKCS#11 has no delayed
// destroy, but CK_DATE attributes are modifiable storage attributes that only a logged-in user can write, so a
// window kept there cannot be moved by editing Kubernetes status. Dates have day granularity: the token lets a
// version go from the start of the UTC day its destruction was scheduled for, so an edited status gains at most the
// hours of that day, while the controller, reading status, destroys at the exact time.

/** CK_DATE ("YYYYMMDD", ASCII) of the UTC day holding `ms`. */
export function ckDate(ms: number): Buffer {
  return Buffer.from(new Date(ms).toISOString().slice(0, 10).replaceAll('-', ''), 'ascii');
}

/** From when the token lets a version whose CKA_END_DATE is `value` be destroyed; undefined when none is set. */
export function destroyableFrom(value: Buffer): number | undefined {
  const text = value.toString('ascii');
  if (!/^\d{8}$/.test(text)) return undefined;
  return Date.UTC(Number(text.slice(0, 4)), Number(text.slice(4, 6)) - 1, Number(text.slice(6, 8)));
}
