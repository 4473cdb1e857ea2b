// What a key object's attributes say, read and parsed into a small record. The live reads (inspectKey, the public
// key) and the enumeration's snapshot (key-index.ts) both read objects with readObjectFacts, so what is derived from
// a snapshot is what a live read gives.

import pkcs11js from 'pkcs11js';
import type { Algorithm } from '../algorithms.ts';
import {
  type ObjectClass,
  PROTECTION_TYPES,
  bufferAttribute,
  flagsOf,
  readAttributes,
  ulongAttribute,
  useFlagTypes,
} from './attributes.ts';
import { isPkcs11Error } from './errors.ts';
import { algorithmOf, parameterTypes, publicKeyTypes } from './key-types.ts';

export interface ObjectFacts {
  readonly cls: ObjectClass;
  readonly id: Buffer;
  readonly label: string;
  readonly keyType: number;
  /** The protection (private and secret keys; CKA_TOKEN and CKA_LOCAL of public keys) and use flags set. */
  readonly flags: number;
  /** Private and secret keys: the algorithm, undefined for a kind Keyward does not make. */
  readonly algorithm: Algorithm | undefined;
  /** Public keys read with their material: the values of publicKeyTypes(keyType), in that order. */
  readonly material: readonly Buffer[] | undefined;
}

function flagTypes(cls: ObjectClass): readonly number[] {
  return cls === 'public'
    ? [pkcs11js.CKA_TOKEN, pkcs11js.CKA_LOCAL, ...useFlagTypes(cls)]
    : [...PROTECTION_TYPES, ...useFlagTypes(cls)];
}

/**
 * Reads an object in two C_GetAttributeValue calls: the attributes every object of its class has, then those of its
 * key type (a call fails as a whole when one type is invalid for the object): CKA_EC_PARAMS, CKA_MODULUS or
 * CKA_VALUE_LEN of a private or secret key, and, `withMaterial`, the public key of a public one (else one call).
 */
export function readObjectFacts(
  pkcs11: pkcs11js.PKCS11,
  session: pkcs11js.Handle,
  object: { readonly cls: ObjectClass; readonly handle: pkcs11js.Handle },
  withMaterial: boolean,
): ObjectFacts {
  const { cls, handle } = object;
  const flags = flagTypes(cls);
  const attributes = readAttributes(pkcs11, session, handle, [
    pkcs11js.CKA_ID,
    pkcs11js.CKA_LABEL,
    pkcs11js.CKA_KEY_TYPE,
    ...flags,
  ]);
  const keyType = ulongAttribute(attributes, pkcs11js.CKA_KEY_TYPE) ?? -1;
  const specific = cls === 'public' ? (withMaterial ? publicKeyTypes(keyType) : []) : parameterTypes(keyType);
  const values =
    specific.length === 0 ? new Map<number, Buffer>() : readAttributes(pkcs11, session, handle, specific);
  return {
    cls,
    id: bufferAttribute(attributes, pkcs11js.CKA_ID),
    label: bufferAttribute(attributes, pkcs11js.CKA_LABEL).toString('utf8'),
    keyType,
    flags: flagsOf(attributes, flags),
    algorithm: cls === 'public' ? undefined : algorithmOf(keyType, values),
    material:
      cls === 'public' && withMaterial ? specific.map((type) => bufferAttribute(values, type)) : undefined,
  };
}

/** A public key's material as the attributes spkiFromAttributes reads. */
export function materialAttributes(facts: ObjectFacts): Map<number, Buffer> {
  const material = facts.material ?? [];
  return new Map(publicKeyTypes(facts.keyType).map((type, i) => [type, material[i] ?? Buffer.alloc(0)]));
}

/**
 * What an enumeration reads of an object: its CKA_ID and CKA_LABEL and its facts, with the public key's material; or
 * undefined when it was destroyed since it was found. An object that refuses one of those reads (a kind of key, or a
 * vendor's attribute set, Keyward's reads do not fit) gets its naming alone, and is read live when it is used.
 */
export function readEnumerated(
  pkcs11: pkcs11js.PKCS11,
  session: pkcs11js.Handle,
  object: { readonly cls: ObjectClass; readonly handle: pkcs11js.Handle },
): { id: Buffer; label: string; facts?: ObjectFacts } | undefined {
  try {
    const facts = readObjectFacts(pkcs11, session, object, true);
    return { id: facts.id, label: facts.label, facts };
  } catch (error) {
    if (isPkcs11Error(error, pkcs11js.CKR_OBJECT_HANDLE_INVALID)) return undefined;
    if (
      !isPkcs11Error(error, pkcs11js.CKR_ATTRIBUTE_TYPE_INVALID) &&
      !isPkcs11Error(error, pkcs11js.CKR_ATTRIBUTE_SENSITIVE)
    )
      throw error;
  }
  try {
    const attributes = readAttributes(pkcs11, session, object.handle, [pkcs11js.CKA_ID, pkcs11js.CKA_LABEL]);
    return {
      id: bufferAttribute(attributes, pkcs11js.CKA_ID),
      label: bufferAttribute(attributes, pkcs11js.CKA_LABEL).toString('utf8'),
    };
  } catch (error) {
    if (isPkcs11Error(error, pkcs11js.CKR_OBJECT_HANDLE_INVALID)) return undefined;
    throw error;
  }
}
