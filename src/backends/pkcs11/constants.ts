// PKCS#11 values that pkcs11js 2.1 does not export (most from PKCS#11 3.0). Everything else comes from pkcs11js.

export const CKK_EC_EDWARDS = 0x40;
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;

export const CKR_ACTION_PROHIBITED = 0x1b;
export const CKR_CURVE_NOT_SUPPORTED = 0x140;

/** Session states in which the user is logged in (read-only and read/write). */
export const CKS_RO_USER_FUNCTIONS = 1;
export const CKS_RW_USER_FUNCTIONS = 3;
