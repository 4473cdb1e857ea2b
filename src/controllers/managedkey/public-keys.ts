// The public half of a ManagedKey as verifiers consume it: PEM files and a JWKS, every usable version, the current
// one first and named, so verifiers accept both sides of a rotation during the overlap.
import { createHash, createPublicKey } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import type { Algorithm, KeyUsage } from '../../api/algorithms.ts';

export interface PublishedVersion {
  version: number;
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
  current: boolean;
}

/** JOSE algorithm names where the key algorithm fixes one (RSA keys may sign with RS256 or PS256, so none). */
const JOSE_ALGORITHM: Partial<Record<Algorithm, string>> = {
  EC_P256: 'ES256',
  EC_P384: 'ES384',
  EC_P521: 'ES512',
  ED25519: 'EdDSA',
};

/** The members RFC 7638 hashes for each key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, readonly (keyof JsonWebKey)[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};

/** RFC 7638 JWK thumbprint (SHA-256, base64url): a key id anyone can recompute from the key itself. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const members = THUMBPRINT_MEMBERS[jwk.kty ?? ''];
  if (!members) throw new TypeError(`no thumbprint defined for key type ${String(jwk.kty)}`);
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  return createHash('sha256').update(canonical).digest('base64url');
}

function jwkUse(usages: readonly KeyUsage[]): { use?: 'sig' | 'enc' } {
  const signs = usages.includes('verify') || usages.includes('sign');
  const encrypts = usages.some((u) => u === 'encrypt' || u === 'wrap');
  if (signs === encrypts) return {};
  return { use: signs ? 'sig' : 'enc' };
}

/** ConfigMap data: `current.pem`, `v<N>.pem` for each version, `public-keys.pem` (all), `jwks.json`, `current-kid`. */
export function publicKeyData(
  algorithm: Algorithm,
  usages: readonly KeyUsage[],
  versions: readonly PublishedVersion[],
): Record<string, string> {
  const ordered = [...versions].sort(
    (a, b) => Number(b.current) - Number(a.current) || b.version - a.version,
  );
  const data: Record<string, string> = {};
  const keys: JsonWebKey[] = [];
  for (const { version, spki, current } of ordered) {
    const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const jwk = publicKey.export({ format: 'jwk' });
    const kid = jwkThumbprint(jwk);
    const alg = JOSE_ALGORITHM[algorithm];
    keys.push({ ...jwk, kid, ...jwkUse(usages), ...(alg ? { alg } : {}) });
    data[`v${version}.pem`] = pem;
    if (current) {
      data['current.pem'] = pem;
      data['current-kid'] = kid;
    }
  }
  data['public-keys.pem'] = ordered.map((v) => data[`v${v.version}.pem`]).join('');
  data['jwks.json'] = `${JSON.stringify({ keys }, null, 2)}\n`;
  return data;
}
