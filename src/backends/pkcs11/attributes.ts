// Reading attributes back and the attribute templates Keyward writes: use flags per usage and the protection every
// private or secret key must have.

import pkcs11js from 'pkcs11js';
import type { KeyUsage } from '../algorithms.ts';

export type ObjectClass = 'private' | 'public' | 'secret';

export const OBJECT_CLASSES: readonly ObjectClass[] = ['private', 'public', 'secret'];

export const CKO_BY_CLASS: { readonly [C in ObjectClass]: number } = {
  private: pkcs11js.CKO_PRIVATE_KEY,
  public: pkcs11js.CKO_PUBLIC_KEY,
  secret: pkcs11js.CKO_SECRET_KEY,
};

export function objectClassOf(cko: number): ObjectClass | undefined {
  return OBJECT_CLASSES.find((cls) => CKO_BY_CLASS[cls] === cko);
}

/** Reads `types` from an object in one C_GetAttributeValue; every type must be valid for the object's class. */
export function readAttributes(
  pkcs11: pkcs11js.PKCS11,
  session: pkcs11js.Handle,
  object: pkcs11js.Handle,
  types: readonly number[],
): Map<number, Buffer> {
  const result = pkcs11.C_GetAttributeValue(
    session,
    object,
    types.map((type) => ({ type })),
  );
  return new Map(result.map((attribute) => [attribute.type, attribute.value]));
}

export function boolAttribute(attributes: Map<number, Buffer>, type: number): boolean {
  return attributes.get(type)?.[0] === 1;
}

// The boolean attributes Keyward reads of key objects (protection and use flags), each with a bit in a flags number:
// a parsed object keeps one small integer instead of a Buffer per attribute (see object-facts.ts).
const FLAG_TYPES: readonly number[] = [
  pkcs11js.CKA_TOKEN,
  pkcs11js.CKA_PRIVATE,
  pkcs11js.CKA_SENSITIVE,
  pkcs11js.CKA_EXTRACTABLE,
  pkcs11js.CKA_ALWAYS_SENSITIVE,
  pkcs11js.CKA_NEVER_EXTRACTABLE,
  pkcs11js.CKA_LOCAL,
  pkcs11js.CKA_SIGN,
  pkcs11js.CKA_VERIFY,
  pkcs11js.CKA_ENCRYPT,
  pkcs11js.CKA_DECRYPT,
  pkcs11js.CKA_WRAP,
  pkcs11js.CKA_UNWRAP,
];

function flagBit(type: number): number {
  const index = FLAG_TYPES.indexOf(type);
  if (index < 0) throw new TypeError(`attribute 0x${type.toString(16)} has no flag bit`);
  return 1 << index;
}

/** The boolean attributes among `types` that are true in `attributes`, as flag bits. */
export function flagsOf(attributes: Map<number, Buffer>, types: readonly number[]): number {
  return types.reduce((flags, type) => (boolAttribute(attributes, type) ? flags | flagBit(type) : flags), 0);
}

export function hasFlag(flags: number, type: number): boolean {
  return (flags & flagBit(type)) !== 0;
}

/** A CK_ULONG in native byte order (8 bytes on 64-bit Linux, 4 on Windows). */
export function ulongAttribute(attributes: Map<number, Buffer>, type: number): number | undefined {
  const value = attributes.get(type);
  if (value === undefined || value.length === 0) return undefined;
  return value.length >= 8 ? Number(value.readBigUInt64LE()) : value.readUInt32LE();
}

export function bufferAttribute(attributes: Map<number, Buffer>, type: number): Buffer {
  return attributes.get(type) ?? Buffer.alloc(0);
}

// Each use attribute of a class and the usage that turns it on.
const USE_FLAGS: { readonly [C in ObjectClass]: readonly (readonly [number, KeyUsage])[] } = {
  private: [
    [pkcs11js.CKA_SIGN, 'sign'],
    [pkcs11js.CKA_DECRYPT, 'decrypt'],
    [pkcs11js.CKA_UNWRAP, 'unwrap'],
  ],
  public: [
    [pkcs11js.CKA_VERIFY, 'verify'],
    [pkcs11js.CKA_ENCRYPT, 'encrypt'],
    [pkcs11js.CKA_WRAP, 'wrap'],
  ],
  secret: [
    [pkcs11js.CKA_SIGN, 'sign'],
    [pkcs11js.CKA_VERIFY, 'verify'],
    [pkcs11js.CKA_ENCRYPT, 'encrypt'],
    [pkcs11js.CKA_DECRYPT, 'decrypt'],
    [pkcs11js.CKA_WRAP, 'wrap'],
    [pkcs11js.CKA_UNWRAP, 'unwrap'],
  ],
};

// Use attributes no Keyward usage needs. Generation writes them false so a token's defaults never grant more than
// the spec asks for.
const NEVER_ENABLED: { readonly [C in ObjectClass]: readonly number[] } = {
  private: [pkcs11js.CKA_SIGN_RECOVER, pkcs11js.CKA_DERIVE],
  public: [pkcs11js.CKA_VERIFY_RECOVER, pkcs11js.CKA_DERIVE],
  secret: [pkcs11js.CKA_DERIVE],
};

/** The usages an object of this class carries flags for. */
export function usagesOfClass(cls: ObjectClass): KeyUsage[] {
  return USE_FLAGS[cls].map(([, usage]) => usage);
}

export function useFlagTypes(cls: ObjectClass): number[] {
  return USE_FLAGS[cls].map(([type]) => type);
}

/** Every use attribute of the class, true exactly for the given usages. */
export function useFlagTemplate(cls: ObjectClass, usages: readonly KeyUsage[]): pkcs11js.Template {
  return USE_FLAGS[cls].map(([type, usage]) => ({ type, value: usages.includes(usage) }));
}

/** The use flags a newly generated object gets: the usages' flags, and everything else off. */
export function generationUseFlags(cls: ObjectClass, usages: readonly KeyUsage[]): pkcs11js.Template {
  return [...useFlagTemplate(cls, usages), ...NEVER_ENABLED[cls].map((type) => ({ type, value: false }))];
}

/** The usages whose use flags are set in `flags` (see flagsOf). */
export function enabledUsages(cls: ObjectClass, flags: number): KeyUsage[] {
  return USE_FLAGS[cls].flatMap(([type, usage]) => (hasFlag(flags, type) ? [usage] : []));
}

/** What a private or secret key must be: kept on the token, behind login, generated inside, never readable. */
const REQUIRED_PROTECTION: readonly (readonly [number, boolean, string])[] = [
  [pkcs11js.CKA_TOKEN, true, 'CKA_TOKEN'],
  [pkcs11js.CKA_PRIVATE, true, 'CKA_PRIVATE'],
  [pkcs11js.CKA_SENSITIVE, true, 'CKA_SENSITIVE'],
  [pkcs11js.CKA_EXTRACTABLE, false, 'CKA_EXTRACTABLE'],
  [pkcs11js.CKA_ALWAYS_SENSITIVE, true, 'CKA_ALWAYS_SENSITIVE'],
  [pkcs11js.CKA_NEVER_EXTRACTABLE, true, 'CKA_NEVER_EXTRACTABLE'],
  [pkcs11js.CKA_LOCAL, true, 'CKA_LOCAL'],
];

export const PROTECTION_TYPES: readonly number[] = REQUIRED_PROTECTION.map(([type]) => type);

/** The attributes we set when generating; the token derives the ALWAYS/NEVER/LOCAL ones. */
export const PROTECTION_TEMPLATE: pkcs11js.Template = [
  { type: pkcs11js.CKA_TOKEN, value: true },
  { type: pkcs11js.CKA_PRIVATE, value: true },
  { type: pkcs11js.CKA_SENSITIVE, value: true },
  { type: pkcs11js.CKA_EXTRACTABLE, value: false },
];

/**
 * What a recoverable key (KeySpec.recoverable) may differ in: it is made extractable so that it can be wrapped once
 * for its backup, then sealed (CKA_EXTRACTABLE false, which the token never lets go back), so CKA_NEVER_EXTRACTABLE
 * stays false. Everything else is required of it as of any key.
 */
const RECOVERABLE_EXEMPT: ReadonlySet<number> = new Set([
  pkcs11js.CKA_EXTRACTABLE,
  pkcs11js.CKA_NEVER_EXTRACTABLE,
]);

/** Names of the protection attributes that do not have the required value in `flags` (empty when all do). */
export function protectionProblems(flags: number, recoverable = false): string[] {
  return REQUIRED_PROTECTION.flatMap(([type, required, name]) =>
    hasFlag(flags, type) === required || (recoverable && RECOVERABLE_EXEMPT.has(type))
      ? []
      : [`${name} is ${String(!required)}`],
  );
}
