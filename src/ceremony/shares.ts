// Split knowledge: the activation secret as N Shamir shares over GF(256), any M of which rebuild it, with the
// audited shamir-secret-sharing package. A share is the package's own format: one byte per secret byte and the
// share's x coordinate last.
import { combine, split } from 'shamir-secret-sharing';

export async function splitSecret(secret: Buffer, shares: number, threshold: number): Promise<Buffer[]> {
  if (threshold < 2 || threshold > shares) {
    throw new RangeError(`a threshold of ${threshold} does not fit ${shares} shares`);
  }
  const input = new Uint8Array(secret);
  try {
    const parts = await split(input, shares, threshold);
    return parts.map((part) => {
      const copy = Buffer.from(part);
      part.fill(0);
      return copy;
    });
  } finally {
    input.fill(0);
  }
}

/** Rebuilds the secret. Fewer than M shares give a wrong value, not an error: check it against the authenticator. */
export async function combineShares(shares: readonly Buffer[]): Promise<Buffer> {
  const parts = shares.map((share) => new Uint8Array(share));
  try {
    const secret = await combine(parts);
    const copy = Buffer.from(secret);
    secret.fill(0);
    return copy;
  } finally {
    for (const part of parts) part.fill(0);
  }
}
