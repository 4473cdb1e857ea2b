// What differs between PKCS#11 implementations and cannot be read from the module itself. Mechanism support (e.g.
// SoftHSM 2.6 lacking CKM_ECDSA_SHA256, so the digest is computed in Node and signed with CKM_ECDSA) is detected
// from C_GetMechanismList instead of being listed here.

import type { Pkcs11Vendor } from './config.ts';

export interface VendorProfile {
  /** Where the vendor's installer puts the module, most common first. */
  readonly defaultModulePaths: readonly string[];
  /** CKA_ID length in bytes: the first bytes of the identity digest. */
  readonly idLength: number;
  /** Longest CKA_LABEL the token stores; longer labels are shortened (the id stays the real identity). */
  readonly maxLabelLength: number;
  /** CKA_PRIVATE on public key objects. CloudHSM rejects key generation unless it is true. */
  readonly privatePublicKeys: boolean;
  /** The token refuses two objects with the same label, so the public half gets its own. */
  readonly uniqueLabels: boolean;
  /**
   * Generate one key at a time per token. SoftHSM 2.6's file object store answers CKR_GENERAL_ERROR now and then when
   * two key pairs are generated at once, even with OS locking.
   */
  readonly serialGeneration: boolean;
  /**
   * The token knows CKA_COPYABLE (PKCS#11 2.40): private and secret keys are generated with it false, so C_CopyObject
   * cannot make a second object of the key with other attributes. Off where the module may not know it.
   */
  readonly nonCopyable: boolean;
  /** The shape the user PIN must have, checked before any login attempt spends one of the HSM's retries. */
  readonly pinFormat?: { readonly pattern: RegExp; readonly description: string };
}

const STANDARD = {
  idLength: 16,
  maxLabelLength: 127,
  privatePublicKeys: false,
  uniqueLabels: false,
  serialGeneration: false,
  nonCopyable: true,
} as const;

export const VENDOR_PROFILES: { readonly [V in Pkcs11Vendor]: VendorProfile } = {
  softhsm2: {
    ...STANDARD,
    serialGeneration: true,
    defaultModulePaths: [
      '/usr/lib/softhsm/libsofthsm2.so',
      '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
      '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
      '/usr/local/lib/softhsm/libsofthsm2.so',
    ],
  },
  luna: { ...STANDARD, defaultModulePaths: ['/usr/safenet/lunaclient/lib/libCryptoki2_64.so'] },
  nshield: { ...STANDARD, defaultModulePaths: ['/opt/nfast/toolkits/pkcs11/libcknfast.so'] },
  yubihsm2: {
    ...STANDARD,
    defaultModulePaths: [
      '/usr/lib/x86_64-linux-gnu/pkcs11/yubihsm_pkcs11.so',
      '/usr/lib/pkcs11/yubihsm_pkcs11.so',
    ],
    // YubiHSM object ids are 16 bits and labels 40 bytes; a colliding id is caught by the label check on adoption.
    idLength: 2,
    maxLabelLength: 40,
    nonCopyable: false,
    pinFormat: {
      pattern: /^[0-9a-fA-F]{4}.+$/,
      description: 'the 4 hex digits of the authentication key id followed by its password',
    },
  },
  cloudhsm: {
    ...STANDARD,
    defaultModulePaths: ['/opt/cloudhsm/lib/libcloudhsm_pkcs11.so'],
    privatePublicKeys: true,
    uniqueLabels: true,
    pinFormat: { pattern: /^[^:]+:.+$/, description: '<crypto user name>:<password>' },
  },
  // An unknown module may reject CKA_COPYABLE and every generation with it.
  generic: { ...STANDARD, defaultModulePaths: [], nonCopyable: false },
};
