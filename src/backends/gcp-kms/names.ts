// Where a ManagedKey lives in Cloud KMS, derived from its identity and nothing random: one CryptoKey per ManagedKey
// (its uid in the CryptoKey id), and Keyward version N is CryptoKeyVersion N. Cloud KMS numbers the versions of a
// CryptoKey 1, 2, 3... in the order they are made and never reuses a number; createCryptoKey makes version 1 and
// every later version is made by createCryptoKeyVersion only after listing shows that version N - 1 is the newest.
// So the number is the link, and an interrupted create is found again by listing, never made twice.

import { type KeyUsage, isKeyUsage } from '../algorithms.ts';
import type { KeyIdentity } from '../identity.ts';

export interface KeyRingPath {
  readonly project: string;
  readonly location: string;
  readonly keyRing: string;
}

export function locationName(path: KeyRingPath): string {
  return `projects/${path.project}/locations/${path.location}`;
}

export function keyRingName(path: KeyRingPath): string {
  return `${locationName(path)}/keyRings/${path.keyRing}`;
}

/** `keyward-<uid>`: at most 44 characters of [a-z0-9-], within Cloud KMS's 63 of [a-zA-Z0-9_-]. */
export function cryptoKeyId(identity: KeyIdentity): string {
  return `keyward-${identity.uid.toLowerCase()}`;
}

export function cryptoKeyName(ring: string, identity: KeyIdentity): string {
  return `${ring}/cryptoKeys/${cryptoKeyId(identity)}`;
}

/** The version's name: by the id status recorded when there is one (it is the number), else by the number. */
export function versionName(
  ring: string,
  identity: KeyIdentity,
  version: number | string = identity.versionId ?? identity.version,
): string {
  return `${cryptoKeyName(ring, identity)}/cryptoKeyVersions/${version}`;
}

/** The version number at the end of a CryptoKeyVersion name. */
export function versionNumber(name: string): number {
  return Number(name.slice(name.lastIndexOf('/') + 1));
}

export const LABELS = {
  managedBy: 'managed-by',
  uid: 'keyward-uid',
  namespace: 'keyward-namespace',
  name: 'keyward-name',
  usages: 'keyward-usages',
} as const;

/** Label values are at most 63 lowercase letters, digits, `_` and `-`; Kubernetes names may also hold dots. */
function labelValue(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '_')
    .slice(0, 63);
}

/** Labels on the CryptoKey: who it belongs to (uid) and, for people, its namespace and name; its usages. */
export function cryptoKeyLabels(identity: KeyIdentity, usages: readonly KeyUsage[]): Record<string, string> {
  return {
    [LABELS.managedBy]: 'keyward',
    [LABELS.uid]: labelValue(identity.uid),
    [LABELS.namespace]: labelValue(identity.namespace),
    [LABELS.name]: labelValue(identity.name),
    [LABELS.usages]: usages.join('-'),
  };
}

export function labelsBelongTo(labels: Readonly<Record<string, string>>, identity: KeyIdentity): boolean {
  return labels[LABELS.managedBy] === 'keyward' && labels[LABELS.uid] === labelValue(identity.uid);
}

/** The usages a CryptoKey was made for, from its label. */
export function labelledUsages(labels: Readonly<Record<string, string>>): KeyUsage[] {
  return (labels[LABELS.usages] ?? '').split('-').filter(isKeyUsage);
}
