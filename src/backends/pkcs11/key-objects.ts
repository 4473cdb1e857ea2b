// The objects of one key version on the token and what their attributes say about it.

import pkcs11js from 'pkcs11js';
import { type Algorithm, KEY_USAGES, type KeyUsage } from '../algorithms.ts';
import { AlreadyExistsError } from '../errors.ts';
import {
  PROTECTION_TYPES,
  boolAttribute,
  bufferAttribute,
  enabledUsages,
  protectionProblems,
  readAttributes,
  ulongAttribute,
  useFlagTypes,
} from './attributes.ts';
import type { IndexedObject } from './key-index.ts';
import { algorithmOf, parameterTypes } from './key-types.ts';

/** The private or secret key, and for key pairs the public key if present. */
export interface KeyObjects {
  readonly primary: IndexedObject;
  readonly public: IndexedObject | undefined;
}

export interface KeyState {
  /** Undefined for a key of a kind Keyward does not make. */
  readonly algorithm: Algorithm | undefined;
  readonly id: Buffer;
  readonly label: string;
  /** Enabled usages of both halves, in KEY_USAGES order. */
  readonly usages: KeyUsage[];
  /** Protection the key lacks (empty when it has all). */
  readonly problems: string[];
}

export function inCanonicalOrder(usages: Iterable<KeyUsage>): KeyUsage[] {
  const set = new Set(usages);
  return KEY_USAGES.filter((usage) => set.has(usage));
}

export function sameUsages(a: readonly KeyUsage[], b: readonly KeyUsage[]): boolean {
  return inCanonicalOrder(a).join() === inCanonicalOrder(b).join();
}

/** Groups the objects sharing a CKA_ID into one key version; undefined when there is no private or secret key. */
export function groupKeyObjects(objects: readonly IndexedObject[], label: string): KeyObjects | undefined {
  const primaries = objects.filter((object) => object.cls !== 'public');
  const publics = objects.filter((object) => object.cls === 'public');
  if (primaries.length > 1 || publics.length > 1) {
    throw new AlreadyExistsError(
      `the token holds ${primaries.length} private/secret and ${publics.length} public objects with the id of ` +
        `${label}; remove the extra ones by hand`,
    );
  }
  const [primary] = primaries;
  if (primary === undefined) return undefined;
  return { primary, public: primary.cls === 'private' ? publics[0] : undefined };
}

/**
 * Reads what the token holds for a key version: algorithm, id, label, usages and protection (that of a recoverable
 * key when `recoverable`: see attributes.ts).
 */
export function inspectKey(
  pkcs11: pkcs11js.PKCS11,
  session: pkcs11js.Handle,
  key: KeyObjects,
  recoverable = false,
): KeyState {
  const { primary } = key;
  const attributes = readAttributes(pkcs11, session, primary.handle, [
    pkcs11js.CKA_KEY_TYPE,
    pkcs11js.CKA_ID,
    pkcs11js.CKA_LABEL,
    ...PROTECTION_TYPES,
    ...useFlagTypes(primary.cls),
  ]);
  const keyType = ulongAttribute(attributes, pkcs11js.CKA_KEY_TYPE) ?? -1;
  const parameters = readAttributes(pkcs11, session, primary.handle, parameterTypes(keyType));
  const usages = enabledUsages(primary.cls, attributes);
  const problems = protectionProblems(attributes, recoverable);
  if (key.public !== undefined) {
    const publicAttributes = readAttributes(pkcs11, session, key.public.handle, [
      pkcs11js.CKA_TOKEN,
      pkcs11js.CKA_LOCAL,
      ...useFlagTypes('public'),
    ]);
    usages.push(...enabledUsages('public', publicAttributes));
    if (!boolAttribute(publicAttributes, pkcs11js.CKA_TOKEN))
      problems.push('the public key is not a token object');
    // Both halves made together inside the token, never one brought in beside the other.
    if (!boolAttribute(publicAttributes, pkcs11js.CKA_LOCAL))
      problems.push('the public key was not generated in the token (CKA_LOCAL is false)');
  }
  return {
    algorithm: algorithmOf(keyType, parameters),
    id: bufferAttribute(attributes, pkcs11js.CKA_ID),
    label: bufferAttribute(attributes, pkcs11js.CKA_LABEL).toString('utf8'),
    usages: inCanonicalOrder(usages),
    problems,
  };
}
