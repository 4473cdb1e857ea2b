// The activation secret of an offline token: 32 random bytes, never stored. The token's user and SO PINs are
// derived from it (HKDF-SHA256, salted with the ceremony's uid), and so is a public authenticator that a later
// ceremony checks a reconstructed secret against before any C_Login, so that a wrong or tampered share never
// spends one of the HSM's PIN tries. A recovery key-encryption key (32 bytes too) has an authenticator of its own,
// derived the same way for another purpose.
import { hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

export const ACTIVATION_SECRET_BYTES = 32;

/** What the PINs and the authenticator are derived for; changing one changes every value derived from it. */
const INFO = {
  userPin: 'keyward.io/v1 token user PIN',
  soPin: 'keyward.io/v1 token SO PIN',
  authenticator: 'keyward.io/v1 activation authenticator',
  recovery: 'keyward.io/v1 recovery KEK authenticator',
} as const;

/** What a secret is: a token's activation secret, or a recovery key-encryption key. */
export type SecretPurpose = 'activation' | 'recovery';

export function newActivationSecret(): Buffer {
  return randomBytes(ACTIVATION_SECRET_BYTES);
}

function derive(secret: Buffer, salt: string, info: string, length: number): Buffer {
  if (secret.length !== ACTIVATION_SECRET_BYTES) throw new RangeError('an activation secret has 32 bytes');
  return Buffer.from(hkdfSync('sha256', secret, Buffer.from(salt, 'utf8'), info, length));
}

/** A PIN as 32 hexadecimal characters (128 bits), which every PKCS#11 token accepts. Zero it after use. */
function pin(secret: Buffer, salt: string, info: string): Buffer {
  const raw = derive(secret, salt, info, 16);
  const text = Buffer.from(raw.toString('hex'), 'ascii');
  raw.fill(0);
  return text;
}

export interface TokenPins {
  readonly user: Buffer;
  readonly so: Buffer;
}

export function tokenPins(secret: Buffer, ceremonyUid: string): TokenPins {
  return { user: pin(secret, ceremonyUid, INFO.userPin), so: pin(secret, ceremonyUid, INFO.soPin) };
}

export function wipePins(pins: TokenPins): void {
  pins.user.fill(0);
  pins.so.fill(0);
}

/** `hkdf-sha256:<hex>`: public, reveals nothing about the PINs, and identifies the one secret that made it. */
export function activationAuthenticator(
  secret: Buffer,
  salt: string,
  purpose: SecretPurpose = 'activation',
): string {
  const info = purpose === 'activation' ? INFO.authenticator : INFO.recovery;
  return `hkdf-sha256:${derive(secret, salt, info, 32).toString('hex')}`;
}

export function matchesAuthenticator(
  secret: Buffer,
  salt: string,
  authenticator: string,
  purpose: SecretPurpose = 'activation',
): boolean {
  const expected = Buffer.from(activationAuthenticator(secret, salt, purpose));
  const given = Buffer.from(authenticator);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
