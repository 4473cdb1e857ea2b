// The objects of one key version on the token and what their attributes say about it.

import pkcs11js from 'pkcs11js';
import { type Algorithm, KEY_USAGES, type KeyUsage } from '../algorithms.ts';
import { AlreadyExistsError } from '../errors.ts';
import { enabledUsages, hasFlag, protectionProblems } from './attributes.ts';
import type { IndexedObject } from './key-index.ts';
import { type ObjectFacts, readObjectFacts } from './object-facts.ts';

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

/** What a key version's objects say: its private or secret key, and the public key if there is one. */
export interface KeyFacts {
  readonly primary: ObjectFacts;
  readonly public: ObjectFacts | undefined;
}

/** Reads a key version's objects from the token; `withMaterial` with the public key's material (for its SPKI). */
export function readKeyFacts(
  pkcs11: pkcs11js.PKCS11,
  session: pkcs11js.Handle,
  key: KeyObjects,
  withMaterial = false,
): KeyFacts {
  return {
    primary: readObjectFacts(pkcs11, session, key.primary, false),
    public: key.public && readObjectFacts(pkcs11, session, key.public, withMaterial),
  };
}

/**
 * What a key version is: algorithm, id, label, usages and protection (that of a recoverable key when `recoverable`:
 * see attributes.ts), from what its objects say, read live or by the enumeration.
 */
export function keyState(facts: KeyFacts, recoverable = false): KeyState {
  const { primary } = facts;
  const usages = enabledUsages(primary.cls, primary.flags);
  const problems = protectionProblems(primary.flags, recoverable);
  if (facts.public !== undefined) {
    const { flags } = facts.public;
    usages.push(...enabledUsages('public', flags));
    if (!hasFlag(flags, pkcs11js.CKA_TOKEN)) problems.push('the public key is not a token object');
    // Both halves made together inside the token, never one brought in beside the other.
    if (!hasFlag(flags, pkcs11js.CKA_LOCAL))
      problems.push('the public key was not generated in the token (CKA_LOCAL is false)');
  }
  return {
    algorithm: primary.algorithm,
    id: primary.id,
    label: primary.label,
    usages: inCanonicalOrder(usages),
    problems,
  };
}

/** Reads what the token holds for a key version now (see keyState). */
export function inspectKey(
  pkcs11: pkcs11js.PKCS11,
  session: pkcs11js.Handle,
  key: KeyObjects,
  recoverable = false,
): KeyState {
  return keyState(readKeyFacts(pkcs11, session, key), recoverable);
}
