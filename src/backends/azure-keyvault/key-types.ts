// Keyward algorithms and usages as Key Vault key types, curves, sizes, key_ops and signature algorithms. Only the
// HSM-protected types are ever asked for: a software key (RSA, EC) is a protection downgrade Keyward refuses.

import type { Algorithm, KeyUsage } from '../algorithms.ts';
import type { SignOptions } from '../backend.ts';
import { UnsupportedError } from '../errors.ts';
import type { VaultType } from './config.ts';

export interface AzureKeyType {
  readonly kty: 'RSA-HSM' | 'EC-HSM' | 'oct-HSM';
  readonly keySize?: number;
  readonly curve?: 'P-256' | 'P-384' | 'P-521';
}

export const KEY_TYPES: { readonly [A in Algorithm]?: AzureKeyType } = {
  EC_P256: { kty: 'EC-HSM', curve: 'P-256' },
  EC_P384: { kty: 'EC-HSM', curve: 'P-384' },
  EC_P521: { kty: 'EC-HSM', curve: 'P-521' },
  RSA_2048: { kty: 'RSA-HSM', keySize: 2048 },
  RSA_3072: { kty: 'RSA-HSM', keySize: 3072 },
  RSA_4096: { kty: 'RSA-HSM', keySize: 4096 },
  AES_256: { kty: 'oct-HSM', keySize: 256 },
};

/** Key Vault Premium has no symmetric keys; Managed HSM has AES. Neither has Ed25519. */
export function algorithmsOf(vaultType: VaultType): Algorithm[] {
  return (Object.keys(KEY_TYPES) as Algorithm[]).filter(
    (algorithm) => vaultType === 'ManagedHSM' || KEY_TYPES[algorithm]?.kty !== 'oct-HSM',
  );
}

export function keyTypeOf(algorithm: Algorithm): AzureKeyType {
  const type = KEY_TYPES[algorithm];
  if (!type) throw new UnsupportedError(`Azure Key Vault has no ${algorithm} keys`);
  return type;
}

const KEY_OPS: Readonly<Record<KeyUsage, string>> = {
  sign: 'sign',
  verify: 'verify',
  encrypt: 'encrypt',
  decrypt: 'decrypt',
  wrap: 'wrapKey',
  unwrap: 'unwrapKey',
};

export function keyOpsOf(usages: readonly KeyUsage[]): string[] {
  return usages.map((usage) => KEY_OPS[usage]);
}

/** The usages key_ops allow, in Keyward's order; operations Keyward has no usage for (import, export) are left out. */
export function usagesOf(keyOps: readonly string[]): KeyUsage[] {
  return (Object.keys(KEY_OPS) as KeyUsage[]).filter((usage) => keyOps.includes(KEY_OPS[usage]));
}

/** The JWS algorithm Key Vault signs with for this key and padding. */
export function signatureAlgorithm(algorithm: Algorithm, options: SignOptions | undefined): string {
  switch (algorithm) {
    case 'EC_P256':
      return 'ES256';
    case 'EC_P384':
      return 'ES384';
    case 'EC_P521':
      return 'ES512';
    case 'RSA_2048':
    case 'RSA_3072':
    case 'RSA_4096':
      return options?.rsaPadding === 'pss' ? 'PS256' : 'RS256';
    default:
      throw new UnsupportedError(`${algorithm} keys do not sign in Azure Key Vault`);
  }
}

/** Whether what Key Vault reports (kty, curve, size) is the HSM-protected key that `algorithm` asks for. */
export function matchesKeyType(
  algorithm: Algorithm,
  reported: { readonly kty?: string; readonly crv?: string; readonly n?: Uint8Array },
): boolean {
  const expected = keyTypeOf(algorithm);
  if (reported.kty !== expected.kty) return false;
  if (expected.curve !== undefined) return reported.crv === expected.curve;
  if (expected.kty === 'RSA-HSM') return (reported.n?.length ?? 0) * 8 === expected.keySize;
  return true;
}
