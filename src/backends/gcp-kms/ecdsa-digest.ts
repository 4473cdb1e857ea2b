// ECDSA over a digest someone else computed. Cloud KMS signs digests and has no verify call, so Keyward verifies
// with the public key; node:crypto only verifies messages (it always hashes what it is given), so a digest is
// checked here with the curve arithmetic of FIPS 186-5 (Jacobian coordinates, a = -3).

import { type KeyObject } from 'node:crypto';

export interface Curve {
  readonly p: bigint;
  readonly n: bigint;
  readonly g: Point;
  /** Bytes of a coordinate (and of r and s in raw form). */
  readonly size: number;
}

export interface Point {
  readonly x: bigint;
  readonly y: bigint;
}

export const CURVES = {
  'P-256': {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    g: {
      x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
      y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    },
    size: 32,
  },
  'P-384': {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    g: {
      x: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
      y: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    },
    size: 48,
  },
} as const satisfies Record<string, Curve>;

export type CurveName = keyof typeof CURVES;

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

export function invert(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new RangeError('not invertible');
  return mod(s0, m);
}

type Jacobian = readonly [bigint, bigint, bigint];

function double([x, y, z]: Jacobian, p: bigint): Jacobian {
  if (z === 0n || y === 0n) return [1n, 1n, 0n];
  const delta = mod(z * z, p);
  const gamma = mod(y * y, p);
  const beta = mod(x * gamma, p);
  const alpha = mod(3n * (x - delta) * (x + delta), p);
  const x3 = mod(alpha * alpha - 8n * beta, p);
  const z3 = mod((y + z) ** 2n - gamma - delta, p);
  const y3 = mod(alpha * (4n * beta - x3) - 8n * gamma * gamma, p);
  return [x3, y3, z3];
}

function add(a: Jacobian, b: Jacobian, p: bigint): Jacobian {
  const [x1, y1, z1] = a;
  const [x2, y2, z2] = b;
  if (z1 === 0n) return b;
  if (z2 === 0n) return a;
  const z1z1 = mod(z1 * z1, p);
  const z2z2 = mod(z2 * z2, p);
  const u1 = mod(x1 * z2z2, p);
  const u2 = mod(x2 * z1z1, p);
  const s1 = mod(y1 * z2 * z2z2, p);
  const s2 = mod(y2 * z1 * z1z1, p);
  const h = mod(u2 - u1, p);
  const r = mod(2n * (s2 - s1), p);
  if (h === 0n) return r === 0n ? double(a, p) : [1n, 1n, 0n];
  const i = mod(4n * h * h, p);
  const j = mod(h * i, p);
  const v = mod(u1 * i, p);
  const x3 = mod(r * r - j - 2n * v, p);
  const y3 = mod(r * (v - x3) - 2n * s1 * j, p);
  const z3 = mod(((z1 + z2) ** 2n - z1z1 - z2z2) * h, p);
  return [x3, y3, z3];
}

function affine([x, y, z]: Jacobian, p: bigint): Point | undefined {
  if (z === 0n) return undefined;
  const zi = invert(z, p);
  const zi2 = mod(zi * zi, p);
  return { x: mod(x * zi2, p), y: mod(y * zi2 * zi, p) };
}

/** k·P + l·Q (Shamir's trick), or undefined for the point at infinity. */
export function multiplyAdd(
  curve: Curve,
  k: bigint,
  point: Point,
  l = 0n,
  other: Point = point,
): Point | undefined {
  const { p } = curve;
  const P: Jacobian = [point.x, point.y, 1n];
  const Q: Jacobian = [other.x, other.y, 1n];
  const PQ = add(P, Q, p);
  let acc: Jacobian = [1n, 1n, 0n];
  for (let bit = BigInt(Math.max(k.toString(2).length, l.toString(2).length)) - 1n; bit >= 0n; bit--) {
    acc = double(acc, p);
    const kb = (k >> bit) & 1n;
    const lb = (l >> bit) & 1n;
    if (kb && lb) acc = add(acc, PQ, p);
    else if (kb) acc = add(acc, P, p);
    else if (lb) acc = add(acc, Q, p);
  }
  return affine(acc, p);
}

export function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

export function toBytes(value: bigint, size: number): Buffer {
  return Buffer.from(value.toString(16).padStart(size * 2, '0'), 'hex');
}

/** The integer of a digest as ECDSA uses it: its leftmost bits, as many as the order has. */
export function digestInteger(curve: Curve, digest: Uint8Array): bigint {
  const bits = curve.n.toString(2).length;
  const e = toBigInt(digest);
  const excess = digest.length * 8 - bits;
  return excess > 0 ? e >> BigInt(excess) : e;
}

export function curveOf(key: KeyObject): { name: CurveName; curve: Curve } {
  const name = key.asymmetricKeyDetails?.namedCurve;
  const curveName = name === 'prime256v1' ? 'P-256' : name === 'secp384r1' ? 'P-384' : undefined;
  if (curveName === undefined) throw new RangeError(`no ECDSA curve ${String(name)}`);
  return { name: curveName, curve: CURVES[curveName] };
}

function publicPoint(key: KeyObject): Point {
  const jwk = key.export({ format: 'jwk' });
  return {
    x: toBigInt(Buffer.from(jwk.x ?? '', 'base64url')),
    y: toBigInt(Buffer.from(jwk.y ?? '', 'base64url')),
  };
}

/** Whether raw r||s is an ECDSA signature of `digest` by `publicKey`. */
export function verifyDigest(publicKey: KeyObject, digest: Uint8Array, raw: Uint8Array): boolean {
  const { curve } = curveOf(publicKey);
  if (raw.length !== curve.size * 2) return false;
  const r = toBigInt(raw.subarray(0, curve.size));
  const s = toBigInt(raw.subarray(curve.size));
  if (r <= 0n || r >= curve.n || s <= 0n || s >= curve.n) return false;
  const w = invert(s, curve.n);
  const e = digestInteger(curve, digest);
  const point = multiplyAdd(curve, mod(e * w, curve.n), curve.g, mod(r * w, curve.n), publicPoint(publicKey));
  return point !== undefined && mod(point.x, curve.n) === r;
}
