// Key algorithms and usages, and which usages each algorithm allows. Admission (CEL rules) and every backend read
// this one table, so a rule and a backend can never disagree about what a key may do.
import type { CelRule } from './schema.ts';

export const ALGORITHMS = [
  'EC_P256',
  'EC_P384',
  'EC_P521',
  'ED25519',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'AES_256',
  'HMAC_SHA256',
] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

export const KEY_USAGES = ['sign', 'verify', 'encrypt', 'decrypt', 'wrap', 'unwrap'] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

const SIGNING: readonly KeyUsage[] = ['sign', 'verify'];
const ENCRYPTION: readonly KeyUsage[] = ['encrypt', 'decrypt', 'wrap', 'unwrap'];

export const ALLOWED_USAGES: Readonly<Record<Algorithm, readonly KeyUsage[]>> = {
  EC_P256: SIGNING,
  EC_P384: SIGNING,
  EC_P521: SIGNING,
  ED25519: SIGNING,
  RSA_2048: KEY_USAGES,
  RSA_3072: KEY_USAGES,
  RSA_4096: KEY_USAGES,
  AES_256: ENCRYPTION,
  HMAC_SHA256: SIGNING,
};

/** Whether the algorithm makes a key pair (with a public key to distribute) rather than a secret key. */
export function isAsymmetric(algorithm: Algorithm): boolean {
  return algorithm !== 'AES_256' && algorithm !== 'HMAC_SHA256';
}

function englishList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1) ?? ''}`;
}

const quoted = (items: readonly string[]) => items.map((i) => `'${i}'`).join(', ');

/**
 * One CEL rule per group of algorithms that share a set of allowed usages, each with a message naming the usages
 * that group allows (e.g. "AES_256 keys can only be used to encrypt, decrypt, wrap and unwrap").
 */
export function usageRules(): CelRule[] {
  const groups = new Map<string, Algorithm[]>();
  for (const algorithm of ALGORITHMS) {
    const usages = ALLOWED_USAGES[algorithm];
    if (usages.length === KEY_USAGES.length) continue;
    const key = usages.join(',');
    groups.set(key, [...(groups.get(key) ?? []), algorithm]);
  }
  return [...groups].map(([key, algorithms]) => {
    const usages = key.split(',');
    return {
      rule: `!(self.algorithm in [${quoted(algorithms)}]) || self.usages.all(u, u in [${quoted(usages)}])`,
      message: `${englishList(algorithms)} keys can only be used to ${englishList(usages)}`,
      fieldPath: '.usages',
    };
  });
}
