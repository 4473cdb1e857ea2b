// What a KMS key carries so that it is found again and a person knows whose it is: tags with the ManagedKey's
// identity (set by CreateKey itself, so a key never exists without them), an alias per version
// (alias/keyward/uid/<uid>/v<version>: a lookup by name, one DescribeKey) and an alias for the ManagedKey's current
// version (alias/keyward/<namespace>/<name>). Kubernetes names cannot hold `/`, so the two alias shapes never meet.

import { createHash } from 'node:crypto';
import type { Tag } from '@aws-sdk/client-kms';
import { type KeyUsage, isKeyUsage } from '../algorithms.ts';
import { type KeyIdentity, identityLabel } from '../identity.ts';

export const TAG_UID = 'keyward.io/uid';
export const TAG_VERSION = 'keyward.io/version';
export const TAG_MANAGED_KEY = 'keyward.io/managed-key';
export const TAG_USAGES = 'keyward.io/usages';

const VERSION_ALIAS_PREFIX = 'alias/keyward/uid/';
const MAX_ALIAS_LENGTH = 256;

export function identityTags(identity: KeyIdentity, usages: readonly KeyUsage[]): Tag[] {
  return [
    { TagKey: TAG_UID, TagValue: identity.uid },
    { TagKey: TAG_VERSION, TagValue: String(identity.version) },
    { TagKey: TAG_MANAGED_KEY, TagValue: `${identity.namespace}/${identity.name}` },
    { TagKey: TAG_USAGES, TagValue: usages.join(',') },
  ];
}

export function keyDescription(identity: KeyIdentity): string {
  return `Keyward ManagedKey ${identityLabel(identity)}`;
}

/** What a key's tags say about whose version it is; undefined for keys Keyward did not make. */
export interface TaggedIdentity {
  readonly uid: string;
  readonly version: number;
  readonly managedKey: string;
  readonly usages: readonly KeyUsage[];
}

export function taggedIdentity(tags: readonly Tag[] | undefined): TaggedIdentity | undefined {
  const value = (key: string) => tags?.find((tag) => tag.TagKey === key)?.TagValue;
  const uid = value(TAG_UID);
  const version = Number(value(TAG_VERSION));
  if (uid === undefined || !Number.isSafeInteger(version) || version < 1) return undefined;
  const usages = (value(TAG_USAGES) ?? '').split(',').filter(isKeyUsage);
  return { uid, version, managedKey: value(TAG_MANAGED_KEY) ?? '', usages };
}

export function isIdentity(tagged: TaggedIdentity | undefined, identity: KeyIdentity): boolean {
  return tagged?.uid === identity.uid && tagged.version === identity.version;
}

export function versionAlias(identity: Pick<KeyIdentity, 'uid' | 'version'>): string {
  return `${VERSION_ALIAS_PREFIX}${identity.uid}/v${identity.version}`;
}

/** The uid and version a version alias names, or undefined for other aliases. */
export function parseVersionAlias(alias: string): { uid: string; version: number } | undefined {
  if (!alias.startsWith(VERSION_ALIAS_PREFIX)) return undefined;
  const match = /^(.+)\/v([1-9][0-9]*)$/.exec(alias.slice(VERSION_ALIAS_PREFIX.length));
  return match?.[1] && match[2] ? { uid: match[1], version: Number(match[2]) } : undefined;
}

/**
 * alias/keyward/<namespace>/<name>, with the `.` Kubernetes names may hold as `_` (aliases allow letters, digits,
 * `/`, `_` and `-`), shortened with a digest of the full name past KMS's 256 characters.
 */
export function currentAlias(identity: Pick<KeyIdentity, 'namespace' | 'name'>): string {
  const alias = `alias/keyward/${identity.namespace}/${identity.name}`.replaceAll('.', '_');
  if (alias.length <= MAX_ALIAS_LENGTH) return alias;
  const digest = createHash('sha256')
    .update(`${identity.namespace}/${identity.name}`)
    .digest('hex')
    .slice(0, 16);
  return `${alias.slice(0, MAX_ALIAS_LENGTH - digest.length - 1)}-${digest}`;
}
