// ECDSA over a digest the caller hashed (FIPS 186-5 6.4), which Key Vault's sign and verify take and node:crypto
// does not offer (it always hashes the input itself). Plain BigInt arithmetic in Jacobian coordinates: slow next to
// OpenSSL, fast enough for a test peer. Signatures are raw r||s, as Key Vault returns them.

import { type KeyObject, randomBytes } from 'node:crypto';

interface Curve {
  readonly p: bigint;
  readonly n: bigint;
  readonly gx: bigint;
  readonly gy: bigint;
  readonly size: number;
}

// NIST P-256, P-384 and P-521 (a = -3), from `openssl ecparam -param_enc explicit`.
const CURVES: Readonly<Record<string, Curve>> = {
  'P-256': {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    size: 32,
  },
  'P-384': {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    size: 48,
  },
  'P-521': {
    p: (1n << 521n) - 1n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    gx: 0x00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66n,
    gy: 0x011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650n,
    size: 66,
  },
};

type Point = readonly [bigint, bigint, bigint]; // Jacobian X, Y, Z; Z = 0 is the point at infinity

const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;

function power(base: bigint, exponent: bigint, m: bigint): bigint {
  let result = 1n;
  let b = mod(base, m);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
  }
  return result;
}

const inverse = (a: bigint, m: bigint): bigint => power(a, m - 2n, m);

function double([x, y, z]: Point, p: bigint): Point {
  if (z === 0n || y === 0n) return [0n, 1n, 0n];
  const delta = (z * z) % p;
  const gamma = (y * y) % p;
  const beta = (x * gamma) % p;
  const alpha = mod(3n * (x - delta) * (x + delta), p);
  const x3 = mod(alpha * alpha - 8n * beta, p);
  const z3 = mod((y + z) * (y + z) - gamma - delta, p);
  const y3 = mod(alpha * (4n * beta - x3) - 8n * gamma * gamma, p);
  return [x3, y3, z3];
}

function add(a: Point, b: Point, p: bigint): Point {
  if (a[2] === 0n) return b;
  if (b[2] === 0n) return a;
  const z1z1 = (a[2] * a[2]) % p;
  const z2z2 = (b[2] * b[2]) % p;
  const u1 = (a[0] * z2z2) % p;
  const u2 = (b[0] * z1z1) % p;
  const s1 = (a[1] * b[2] * z2z2) % p;
  const s2 = (b[1] * a[2] * z1z1) % p;
  const h = mod(u2 - u1, p);
  const r = mod(s2 - s1, p);
  if (h === 0n) return r === 0n ? double(a, p) : [0n, 1n, 0n];
  const h2 = (h * h) % p;
  const h3 = (h2 * h) % p;
  const x3 = mod(r * r - h3 - 2n * u1 * h2, p);
  const y3 = mod(r * (u1 * h2 - x3) - s1 * h3, p);
  return [x3, y3, (a[2] * b[2] * h) % p];
}

function multiply(point: Point, scalar: bigint, p: bigint): Point {
  let result: Point = [0n, 1n, 0n];
  for (let bit = BigInt(scalar.toString(2).length - 1); bit >= 0n; bit -= 1n) {
    result = double(result, p);
    if ((scalar >> bit) & 1n) result = add(result, point, p);
  }
  return result;
}

function affineX([x, , z]: Point, p: bigint): bigint {
  return (x * inverse((z * z) % p, p)) % p;
}

const toBigInt = (bytes: Buffer): bigint => (bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`));

function toBytes(value: bigint, size: number): Buffer {
  return Buffer.from(value.toString(16).padStart(size * 2, '0'), 'hex');
}

/** The digest as an integer, its leftmost bits cut to the order's length. */
function digestInteger(digest: Buffer, curve: Curve): bigint {
  const bits = curve.n.toString(2).length;
  const e = toBigInt(digest);
  return digest.length * 8 > bits ? e >> BigInt(digest.length * 8 - bits) : e;
}

function curveOf(crv: string): Curve {
  const curve = CURVES[crv];
  if (!curve) throw new Error(`no curve ${crv}`);
  return curve;
}

function jwkOf(key: KeyObject): {
  readonly crv: string;
  readonly x: string;
  readonly y: string;
  readonly d?: string;
} {
  return key.export({ format: 'jwk' }) as { crv: string; x: string; y: string; d?: string };
}

export function signDigest(privateKey: KeyObject, digest: Buffer): Buffer {
  const jwk = jwkOf(privateKey);
  const curve = curveOf(jwk.crv);
  const d = toBigInt(Buffer.from(jwk.d ?? '', 'base64url'));
  const e = digestInteger(digest, curve);
  const g: Point = [curve.gx, curve.gy, 1n];
  for (;;) {
    const k = mod(toBigInt(randomBytes(curve.size + 8)), curve.n - 1n) + 1n;
    const r = mod(affineX(multiply(g, k, curve.p), curve.p), curve.n);
    const s = mod(inverse(k, curve.n) * (e + r * d), curve.n);
    if (r !== 0n && s !== 0n) return Buffer.concat([toBytes(r, curve.size), toBytes(s, curve.size)]);
  }
}

export function verifyDigest(key: KeyObject, digest: Buffer, signature: Buffer): boolean {
  const jwk = jwkOf(key);
  const curve = curveOf(jwk.crv);
  if (signature.length !== curve.size * 2) return false;
  const r = toBigInt(signature.subarray(0, curve.size));
  const s = toBigInt(signature.subarray(curve.size));
  if (r <= 0n || r >= curve.n || s <= 0n || s >= curve.n) return false;
  const q: Point = [toBigInt(Buffer.from(jwk.x, 'base64url')), toBigInt(Buffer.from(jwk.y, 'base64url')), 1n];
  const w = inverse(s, curve.n);
  const u1 = (digestInteger(digest, curve) * w) % curve.n;
  const u2 = (r * w) % curve.n;
  const point = add(multiply([curve.gx, curve.gy, 1n], u1, curve.p), multiply(q, u2, curve.p), curve.p);
  return point[2] !== 0n && mod(affineX(point, curve.p), curve.n) === r;
}
