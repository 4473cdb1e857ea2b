// The CKA_ID and CKA_LABEL a key version gets in a token, derived from its KeyIdentity (see ../identity.ts).

import { type KeyIdentity, identityDigest } from '../identity.ts';
import type { VendorProfile } from './vendors.ts';

export interface ObjectIdentity {
  /**
   * CKA_IDs the version may have, the preferred first: the recorded one once status has it, otherwise every id the
   * derivation allows. Tokens with long ids have one; YubiHSM's 16-bit ids can collide with another key's, so a
   * version takes the next 16 bits of its digest instead (at most MAX_CANDIDATES), and status records which.
   */
  readonly ids: readonly Buffer[];
  /** CKA_LABEL of the private or secret key. */
  readonly label: string;
  /** CKA_LABEL of the public key (differs only where the token wants unique labels). */
  readonly publicLabel: string;
  readonly version: number;
}

const PUBLIC_SUFFIX = '/pub';
const MAX_CANDIDATES = 8;

export function objectIdentity(identity: KeyIdentity, profile: VendorProfile): ObjectIdentity {
  const digest = identityDigest(identity);
  const suffix = profile.uniqueLabels ? PUBLIC_SUFFIX : '';
  const label = versionLabel(identity, profile.maxLabelLength - suffix.length, digest);
  const ids =
    identity.versionId !== undefined
      ? [Buffer.from(identity.versionId, 'hex')]
      : derivedIds(digest, profile.idLength);
  return { ids, label, publicLabel: label + suffix, version: identity.version };
}

/** Short ids get alternatives; two 128-bit ids never collide by chance, so one that is taken was taken on purpose. */
function derivedIds(digest: Buffer, idLength: number): Buffer[] {
  const count = idLength >= 16 ? 1 : Math.min(MAX_CANDIDATES, Math.floor(digest.length / idLength));
  return Array.from({ length: count }, (_, i) => digest.subarray(i * idLength, (i + 1) * idLength));
}

/**
 * The part every version's label of this key starts with (`<namespace>/<name>`, as key-index.ts groups labels), or
 * undefined when some version's label would be cut to fit the token and carry a digest tail instead.
 */
export function ownerLabel(identity: KeyIdentity, profile: VendorProfile): string | undefined {
  const owner = `${identity.namespace}/${identity.name}`;
  const longestVersion = '/v'.length + 15;
  const suffix = profile.uniqueLabels ? PUBLIC_SUFFIX : '';
  return owner.length + longestVersion <= profile.maxLabelLength - suffix.length ? owner : undefined;
}

/** The version number a Keyward label ends with (`.../v<N>`), for finding a key's versions by label. */
export function versionOfLabel(label: string): number | undefined {
  const match = /\/v([1-9][0-9]{0,14})$/.exec(label);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/**
 * `<namespace>/<name>/v<version>` within the token's limit: a long namespace/name is cut and given a digest tail that
 * keeps shortened labels distinct, and the version always stays at the end. Kubernetes names are ASCII, so
 * characters are bytes.
 */
function versionLabel(identity: KeyIdentity, maxLength: number, digest: Buffer): string {
  const owner = `${identity.namespace}/${identity.name}`;
  const version = `/v${identity.version}`;
  if (owner.length + version.length <= maxLength) return owner + version;
  const tail = `~${digest.subarray(0, 4).toString('hex')}`;
  return owner.slice(0, maxLength - version.length - tail.length) + tail + version;
}
