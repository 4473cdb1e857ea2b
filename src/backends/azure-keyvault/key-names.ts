// A key version's name and tags in the vault, derived from its KeyIdentity alone: one Azure key per Keyward
// version, so that each version can be soft-deleted and purged on its own (Key Vault deletes whole keys, never one
// of their versions).

import type { Algorithm } from '../algorithms.ts';
import { type KeyIdentity, identityDigest, identityLabel } from '../identity.ts';

export const TAG = {
  uid: 'keyward-uid',
  version: 'keyward-version',
  algorithm: 'keyward-algorithm',
  label: 'keyward-label',
  /** Set on a key Keyward refused (not HSM-protected, exportable): it is never used. */
  rejected: 'keyward-rejected',
} as const;

/** `keyward-` and 160 bits of the identity digest: Key Vault names are 1-127 of [0-9a-zA-Z-]. */
export function keyName(identity: KeyIdentity): string {
  return `keyward-${identityDigest(identity).toString('hex').slice(0, 40)}`;
}

export function identityTags(identity: KeyIdentity, algorithm: Algorithm): Record<string, string> {
  return {
    [TAG.uid]: identity.uid,
    [TAG.version]: String(identity.version),
    [TAG.algorithm]: algorithm,
    [TAG.label]: identityLabel(identity),
  };
}

/** Whether the tags say the key is this identity's (the name alone could be anyone's). */
export function carriesIdentity(
  tags: Readonly<Record<string, string>> | undefined,
  identity: KeyIdentity,
): boolean {
  return tags?.[TAG.uid] === identity.uid && tags[TAG.version] === String(identity.version);
}
