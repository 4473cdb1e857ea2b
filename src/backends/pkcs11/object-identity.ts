// The CKA_ID and CKA_LABEL a key version gets in a token, derived from its KeyIdentity (see ../identity.ts).

import { type KeyIdentity, identityDigest, identityLabel } from '../identity.ts';
import type { VendorProfile } from './vendors.ts';

export interface ObjectIdentity {
  /** CKA_ID of every object of the key version: the identity the backend finds and adopts keys by. */
  readonly id: Buffer;
  /** CKA_LABEL of the private or secret key. */
  readonly label: string;
  /** CKA_LABEL of the public key (differs only where the token wants unique labels). */
  readonly publicLabel: string;
}

const PUBLIC_SUFFIX = '/pub';

export function objectIdentity(identity: KeyIdentity, profile: VendorProfile): ObjectIdentity {
  const digest = identityDigest(identity);
  const suffix = profile.uniqueLabels ? PUBLIC_SUFFIX : '';
  const label = shorten(identityLabel(identity), profile.maxLabelLength - suffix.length, digest);
  return { id: digest.subarray(0, profile.idLength), label, publicLabel: label + suffix };
}

/**
 * Keeps labels within the token's limit; a digest tail keeps shortened labels distinct. Kubernetes namespaces and
 * names are ASCII, so characters are bytes.
 */
function shorten(label: string, maxLength: number, digest: Buffer): string {
  if (label.length <= maxLength) return label;
  const tail = `~${digest.subarray(0, 4).toString('hex')}`;
  return label.slice(0, maxLength - tail.length) + tail;
}
