// Recovery backups inside a PKCS#11 token (ManagedKey spec.recovery; docs/ceremonies.md):
// - wrapOnce: a fresh AES-256 key-encryption key is generated in the token as a session object, the key is wrapped
//   under it with CKM_AES_KEY_WRAP_PAD (RFC 5649) inside the token, the KEK's value is read out once (to be split
//   into shares by the caller) and its object destroyed;
// - seal: CKA_EXTRACTABLE false on the key, which PKCS#11 never lets go back to true, so no wrap under any key works
//   afterwards (SoftHSM2 answers CKR_KEY_UNEXTRACTABLE);
// - unwrapChecked: the KEK imported as a session object, the blob unwrapped first as a throwaway session object
//   whose check value is compared with the recorded one, and only then as the token object.
//
// Why not CKA_WRAP_WITH_TRUSTED: SoftHSM2 enforces it (CKR_KEY_NOT_WRAPPABLE under an untrusted key), but only the
// security officer can mark a key CKA_TRUSTED, and the operator never holds the SO PIN; so the key could not even be
// wrapped for its own backup. Sealing after the one wrap is stronger: no wrap at all is possible afterwards.
import pkcs11js from 'pkcs11js';
import { PolicyViolationError } from '../errors.ts';
import { boolAttribute, bufferAttribute, readAttributes } from './attributes.ts';
import { isPkcs11Error } from './errors.ts';

/** Bytes of an AES-256 key; the KEK is one. */
const KEK_BYTES = 32;
/** An RFC 5649 blob of a 32-byte key is 40 bytes; room for larger keys. */
const WRAP_BUFFER_BYTES = 1024;
/** A key check value: the first 3 bytes of AES-ECB of a zero block (PKCS#11 3.0 CKA_CHECK_VALUE). */
const CHECK_VALUE_BYTES = 3;

/** The mechanisms a token must offer for recovery backups. */
export function offersRecoveryWrap(mechanisms: ReadonlySet<number>): boolean {
  return [pkcs11js.CKM_AES_KEY_WRAP_PAD, pkcs11js.CKM_AES_KEY_GEN, pkcs11js.CKM_AES_ECB].every((m) =>
    mechanisms.has(m),
  );
}

const AES_SECRET: pkcs11js.Template = [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
  { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
];

/** Every use flag off but the one given: a KEK wraps or unwraps, nothing else. */
function onlyFlag(type: number): pkcs11js.Template {
  return [
    pkcs11js.CKA_ENCRYPT,
    pkcs11js.CKA_DECRYPT,
    pkcs11js.CKA_SIGN,
    pkcs11js.CKA_VERIFY,
    pkcs11js.CKA_WRAP,
    pkcs11js.CKA_UNWRAP,
    pkcs11js.CKA_DERIVE,
  ].map((flag) => ({ type: flag, value: flag === type }));
}

/**
 * The key's check value, hex: CKA_CHECK_VALUE where the token sets it (SoftHSM2 does for keys it generates), else
 * AES-ECB of a zero block where the key may encrypt; undefined when neither is possible.
 */
export function checkValue(
  pkcs11: pkcs11js.PKCS11,
  session: pkcs11js.Handle,
  key: pkcs11js.Handle,
): string | undefined {
  const attributes = readAttributes(pkcs11, session, key, [pkcs11js.CKA_CHECK_VALUE, pkcs11js.CKA_ENCRYPT]);
  const stored = bufferAttribute(attributes, pkcs11js.CKA_CHECK_VALUE);
  if (stored.length >= CHECK_VALUE_BYTES) return stored.subarray(0, CHECK_VALUE_BYTES).toString('hex');
  if (!boolAttribute(attributes, pkcs11js.CKA_ENCRYPT)) return undefined;
  pkcs11.C_EncryptInit(session, { mechanism: pkcs11js.CKM_AES_ECB }, key);
  const block = pkcs11.C_Encrypt(session, Buffer.alloc(16), Buffer.alloc(16));
  return block.subarray(0, CHECK_VALUE_BYTES).toString('hex');
}

export function isExtractable(
  pkcs11: pkcs11js.PKCS11,
  session: pkcs11js.Handle,
  key: pkcs11js.Handle,
): boolean {
  return boolAttribute(
    readAttributes(pkcs11, session, key, [pkcs11js.CKA_EXTRACTABLE]),
    pkcs11js.CKA_EXTRACTABLE,
  );
}

/** Wraps `key` under a fresh session KEK made in the token; the KEK's value is the caller's to split and zero. */
export function wrapOnce(
  pkcs11: pkcs11js.PKCS11,
  session: pkcs11js.Handle,
  key: pkcs11js.Handle,
): { wrappedKey: Buffer; kek: Buffer } {
  const kekHandle = pkcs11.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
    ...AES_SECRET,
    { type: pkcs11js.CKA_VALUE_LEN, value: KEK_BYTES },
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    // Not sensitive, so that its value can be read out once to be split; it never leaves this process otherwise.
    { type: pkcs11js.CKA_SENSITIVE, value: false },
    { type: pkcs11js.CKA_EXTRACTABLE, value: true },
    ...onlyFlag(pkcs11js.CKA_WRAP),
  ]);
  try {
    const wrapped = pkcs11.C_WrapKey(
      session,
      { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD },
      kekHandle,
      key,
      Buffer.alloc(WRAP_BUFFER_BYTES),
    );
    const value = bufferAttribute(
      readAttributes(pkcs11, session, kekHandle, [pkcs11js.CKA_VALUE]),
      pkcs11js.CKA_VALUE,
    );
    const kek = Buffer.from(value);
    value.fill(0);
    return { wrappedKey: Buffer.from(wrapped), kek };
  } finally {
    pkcs11.C_DestroyObject(session, kekHandle);
  }
}

/** CKA_EXTRACTABLE false for good, read back. */
export function seal(
  pkcs11: pkcs11js.PKCS11,
  session: pkcs11js.Handle,
  key: pkcs11js.Handle,
  label: string,
): void {
  // Already sealed (a retry): SoftHSM2 refuses to write CKA_EXTRACTABLE false twice (CKR_ATTRIBUTE_READ_ONLY).
  if (!isExtractable(pkcs11, session, key)) return;
  pkcs11.C_SetAttributeValue(session, key, [{ type: pkcs11js.CKA_EXTRACTABLE, value: false }]);
  if (isExtractable(pkcs11, session, key)) {
    throw new PolicyViolationError(`the token kept ${label} extractable after it was sealed`);
  }
}

export interface UnwrapRequest {
  readonly wrappedKey: Buffer;
  readonly kek: Buffer;
  readonly checkValue: string;
  /** The token object's attributes: protection, id, label, use flags. */
  readonly template: pkcs11js.Template;
  readonly label: string;
}

/**
 * Unwraps the blob into a token object once a throwaway session copy proved it is the recorded key. A blob that
 * does not unwrap (altered, or another KEK) or unwraps to another check value stores nothing.
 */
export function unwrapChecked(
  pkcs11: pkcs11js.PKCS11,
  session: pkcs11js.Handle,
  request: UnwrapRequest,
): pkcs11js.Handle {
  const kekHandle = pkcs11.C_CreateObject(session, [
    ...AES_SECRET,
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_VALUE, value: request.kek },
    ...onlyFlag(pkcs11js.CKA_UNWRAP),
  ]);
  const unwrap = (template: pkcs11js.Template): pkcs11js.Handle => {
    try {
      return pkcs11.C_UnwrapKey(
        session,
        { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD },
        kekHandle,
        request.wrappedKey,
        template,
      );
    } catch (error) {
      // RFC 5649's integrity check failed: SoftHSM2 says CKR_GENERAL_ERROR, the standard CKR_WRAPPED_KEY_INVALID.
      if (
        isPkcs11Error(error, pkcs11js.CKR_GENERAL_ERROR) ||
        isPkcs11Error(error, pkcs11js.CKR_WRAPPED_KEY_INVALID)
      )
        throw new PolicyViolationError(
          `the wrapped copy of ${request.label} does not unwrap under the rebuilt key-encryption key (the ConfigMap was altered, or it is another version's)`,
          { cause: error },
        );
      throw error;
    }
  };
  try {
    const probe = unwrap([
      ...AES_SECRET,
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      ...onlyFlag(pkcs11js.CKA_ENCRYPT),
    ]);
    let found: string | undefined;
    try {
      found = checkValue(pkcs11, session, probe);
    } finally {
      pkcs11.C_DestroyObject(session, probe);
    }
    if (found !== request.checkValue) {
      throw new PolicyViolationError(
        `the key unwrapped from the backup of ${request.label} has check value ${found ?? 'none'}, not ${request.checkValue}; nothing was stored`,
      );
    }
    return unwrap([...AES_SECRET, ...request.template]);
  } finally {
    pkcs11.C_DestroyObject(session, kekHandle);
  }
}
