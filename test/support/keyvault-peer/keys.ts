// The key store of the Key Vault test peer: keys with versions, soft delete and purge, and the cryptography the
// Key Vault REST API offers (sign and verify digests), done for real with node:crypto.

import {
  type KeyObject,
  constants,
  createHash,
  generateKeyPairSync,
  privateEncrypt,
  publicDecrypt,
  randomBytes,
} from 'node:crypto';
import { signDigest, verifyDigest } from './ecdsa.ts';

export type PeerKind = 'vault' | 'managedHsm';

/** A failure the REST layer turns into Key Vault's error body. */
export class PeerError extends Error {
  readonly status: number;
  readonly code: string;
  readonly inner: string | undefined;

  constructor(status: number, code: string, message: string, inner?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.inner = inner;
  }
}

export interface StoredVersion {
  readonly version: string;
  /** What the key really is; may differ from what was asked when the peer downgrades HSM keys. */
  readonly kty: string;
  readonly keySize?: number;
  readonly crv?: string;
  readonly privateKey?: KeyObject;
  readonly publicJwk?: Record<string, string>;
  readonly secret?: Buffer;
  keyOps: string[];
  enabled: boolean;
  tags: Record<string, string>;
  readonly created: number;
  updated: number;
}

export interface StoredKey {
  readonly name: string;
  readonly versions: StoredVersion[];
  deleted?: { readonly deletedDate: number; readonly scheduledPurgeDate: number };
}

export interface CreateParameters {
  readonly kty: string;
  readonly key_size?: number;
  readonly crv?: string;
  readonly key_ops?: string[];
  readonly attributes?: { enabled?: boolean; exportable?: boolean };
  readonly tags?: Record<string, string>;
  readonly release_policy?: unknown;
}

export interface KeyStoreOptions {
  readonly kind: PeerKind;
  readonly retentionDays: number;
  readonly purgeProtection: boolean;
  /** Store HSM key types as software keys (RSA-HSM becomes RSA) and say so in kty, as a misbehaving vault would. */
  readonly downgradeHsmKeys: boolean;
  readonly now: () => number;
}

const KEY_TYPES: Readonly<Record<PeerKind, readonly string[]>> = {
  vault: ['RSA', 'RSA-HSM', 'EC', 'EC-HSM'],
  managedHsm: ['RSA-HSM', 'EC-HSM', 'oct-HSM'],
};

const CURVES: Readonly<
  Record<string, { readonly node: string; readonly hash: string; readonly size: number }>
> = {
  'P-256': { node: 'prime256v1', hash: 'sha256', size: 32 },
  'P-384': { node: 'secp384r1', hash: 'sha384', size: 48 },
  'P-521': { node: 'secp521r1', hash: 'sha512', size: 64 },
};

const SIGNATURE_ALGORITHMS: Readonly<
  Record<string, { readonly family: 'RSA' | 'EC'; readonly hash: string; readonly pss?: boolean }>
> = {
  RS256: { family: 'RSA', hash: 'sha256' },
  RS384: { family: 'RSA', hash: 'sha384' },
  RS512: { family: 'RSA', hash: 'sha512' },
  PS256: { family: 'RSA', hash: 'sha256', pss: true },
  PS384: { family: 'RSA', hash: 'sha384', pss: true },
  PS512: { family: 'RSA', hash: 'sha512', pss: true },
  ES256: { family: 'EC', hash: 'sha256' },
  ES384: { family: 'EC', hash: 'sha384' },
  ES512: { family: 'EC', hash: 'sha512' },
};

const DIGEST_LENGTH: Readonly<Record<string, number>> = { sha256: 32, sha384: 48, sha512: 64 };

/** The DER DigestInfo PKCS#1 v1.5 signs. */
function rsaDigestInfo(hash: string, digest: Buffer): Buffer {
  const prefixes: Readonly<Record<string, string>> = {
    sha256: '3031300d060960864801650304020105000420',
    sha384: '3041300d060960864801650304020205000430',
    sha512: '3051300d060960864801650304020305000440',
  };
  return Buffer.concat([Buffer.from(prefixes[hash] ?? '', 'hex'), digest]);
}

export class KeyStore {
  readonly #keys = new Map<string, StoredKey>();
  readonly #options: KeyStoreOptions;

  constructor(options: KeyStoreOptions) {
    this.#options = options;
  }

  get options(): KeyStoreOptions {
    return this.#options;
  }

  /** Keys not deleted, and deleted keys whose purge date passed are purged first (as the service does). */
  #sweep(): void {
    const now = this.#options.now();
    for (const [name, key] of this.#keys) {
      if (key.deleted && key.deleted.scheduledPurgeDate <= now) this.#keys.delete(name);
    }
  }

  active(): StoredKey[] {
    this.#sweep();
    return [...this.#keys.values()].filter((k) => !k.deleted);
  }

  deleted(): StoredKey[] {
    this.#sweep();
    return [...this.#keys.values()].filter((k) => k.deleted);
  }

  key(name: string): StoredKey {
    this.#sweep();
    const key = this.#keys.get(name);
    if (!key || key.deleted)
      throw new PeerError(
        404,
        'KeyNotFound',
        `A key with (name/id) ${name} was not found in this key vault.`,
      );
    return key;
  }

  deletedKey(name: string): StoredKey {
    this.#sweep();
    const key = this.#keys.get(name);
    if (!key?.deleted) throw new PeerError(404, 'KeyNotFound', `Deleted Key not found: ${name}`);
    return key;
  }

  version(name: string, version: string | undefined): StoredVersion {
    const key = this.key(name);
    const found = version ? key.versions.find((v) => v.version === version) : key.versions.at(-1);
    if (!found)
      throw new PeerError(
        404,
        'KeyNotFound',
        `A key with (name/id) ${name}/${version ?? ''} was not found in this key vault.`,
      );
    return found;
  }

  create(name: string, parameters: CreateParameters): StoredVersion {
    this.#sweep();
    const existing = this.#keys.get(name);
    if (existing?.deleted) {
      throw new PeerError(
        409,
        'Conflict',
        `Key ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged.`,
        'ObjectIsDeletedButRecoverable',
      );
    }
    if (!KEY_TYPES[this.#options.kind].includes(parameters.kty)) {
      throw new PeerError(
        400,
        'BadParameter',
        `Key type ${parameters.kty} is not supported by this ${this.#options.kind === 'vault' ? 'vault' : 'managed HSM'}.`,
      );
    }
    if (parameters.attributes?.exportable === true && parameters.release_policy === undefined) {
      throw new PeerError(400, 'BadParameter', 'An exportable key needs a release policy.');
    }
    const generated = this.#generate(parameters);
    const now = this.#options.now();
    const stored: StoredVersion = {
      ...generated,
      version: randomBytes(16).toString('hex'),
      keyOps: parameters.key_ops ?? defaultOps(parameters.kty),
      enabled: parameters.attributes?.enabled ?? true,
      tags: { ...(parameters.tags ?? {}) },
      created: now,
      updated: now,
    };
    if (existing) existing.versions.push(stored);
    else this.#keys.set(name, { name, versions: [stored] });
    return stored;
  }

  #generate(
    parameters: CreateParameters,
  ): Pick<StoredVersion, 'kty' | 'keySize' | 'crv' | 'privateKey' | 'publicJwk' | 'secret'> {
    const kty = this.#options.downgradeHsmKeys ? parameters.kty.replace(/-HSM$/, '') : parameters.kty;
    if (parameters.kty.startsWith('RSA')) {
      const keySize = parameters.key_size ?? 2048;
      if (![2048, 3072, 4096].includes(keySize))
        throw new PeerError(400, 'BadParameter', `RSA key size ${keySize} is not supported.`);
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: keySize });
      return {
        kty,
        keySize,
        privateKey,
        publicJwk: publicKey.export({ format: 'jwk' }) as Record<string, string>,
      };
    }
    if (parameters.kty.startsWith('EC')) {
      const crv = parameters.crv ?? 'P-256';
      const curve = CURVES[crv];
      if (!curve) throw new PeerError(400, 'BadParameter', `Curve ${crv} is not supported.`);
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve.node });
      return {
        kty,
        crv,
        privateKey,
        publicJwk: publicKey.export({ format: 'jwk' }) as Record<string, string>,
      };
    }
    const keySize = parameters.key_size ?? 256;
    if (![128, 192, 256].includes(keySize))
      throw new PeerError(400, 'BadParameter', `AES key size ${keySize} is not supported.`);
    return { kty, keySize, secret: randomBytes(keySize / 8) };
  }

  update(
    name: string,
    version: string | undefined,
    patch: { key_ops?: string[]; attributes?: { enabled?: boolean }; tags?: Record<string, string> },
  ): StoredVersion {
    const stored = this.version(name, version);
    if (patch.key_ops) stored.keyOps = [...patch.key_ops];
    if (patch.attributes?.enabled !== undefined) stored.enabled = patch.attributes.enabled;
    if (patch.tags) stored.tags = { ...patch.tags };
    stored.updated = this.#options.now();
    return stored;
  }

  rotate(name: string): StoredVersion {
    const latest = this.version(name, undefined);
    return this.create(name, {
      kty: latest.kty,
      ...(latest.keySize === undefined ? {} : { key_size: latest.keySize }),
      ...(latest.crv === undefined ? {} : { crv: latest.crv }),
      key_ops: latest.keyOps,
      tags: latest.tags,
    });
  }

  delete(name: string): StoredKey {
    const key = this.key(name);
    const now = this.#options.now();
    key.deleted = { deletedDate: now, scheduledPurgeDate: now + this.#options.retentionDays * 86_400_000 };
    return key;
  }

  purge(name: string): void {
    this.deletedKey(name);
    if (this.#options.purgeProtection) {
      throw new PeerError(
        403,
        'Forbidden',
        'Operation "purge" is not allowed because purge protection is enabled for this vault.',
        'PurgeProtected',
      );
    }
    this.#keys.delete(name);
  }

  recover(name: string): StoredKey {
    const key = this.deletedKey(name);
    delete key.deleted;
    return key;
  }

  /** Checks the version may perform `operation` (enabled, in key_ops), as the service does before any crypto. */
  #usable(name: string, version: string, operation: string): StoredVersion {
    const stored = this.version(name, version);
    if (!stored.enabled)
      throw new PeerError(
        403,
        'Forbidden',
        `Operation ${operation} is not allowed on a disabled key.`,
        'KeyDisabled',
      );
    if (!stored.keyOps.includes(operation))
      throw new PeerError(
        403,
        'Forbidden',
        `Operation ${operation} is not permitted on this key.`,
        'OperationNotAllowed',
      );
    return stored;
  }

  sign(name: string, version: string, alg: string, digest: Buffer): Buffer {
    const stored = this.#usable(name, version, 'sign');
    const scheme = this.#scheme(stored, alg, digest);
    const key = stored.privateKey!;
    if (scheme.family === 'EC') return signDigest(key, digest);
    if (scheme.pss) return signPss(key, scheme.hash, digest);
    return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, rsaDigestInfo(scheme.hash, digest));
  }

  verify(name: string, version: string, alg: string, digest: Buffer, signature: Buffer): boolean {
    const stored = this.#usable(name, version, 'verify');
    const scheme = this.#scheme(stored, alg, digest);
    const key = stored.privateKey!;
    if (scheme.family === 'EC') return verifyDigest(key, digest, signature);
    if (scheme.pss) return verifyPss(key, scheme.hash, digest, signature);
    return verifyPkcs1(key, scheme.hash, digest, signature);
  }

  #scheme(
    stored: StoredVersion,
    alg: string,
    digest: Buffer,
  ): { family: 'RSA' | 'EC'; hash: string; pss?: boolean } {
    const scheme = SIGNATURE_ALGORITHMS[alg];
    if (!scheme || !stored.kty.startsWith(scheme.family) || stored.privateKey === undefined) {
      throw new PeerError(400, 'BadParameter', `Algorithm ${alg} is not supported by a ${stored.kty} key.`);
    }
    if (scheme.family === 'EC' && CURVES[stored.crv ?? '']?.hash !== scheme.hash) {
      throw new PeerError(400, 'BadParameter', `Algorithm ${alg} does not match curve ${stored.crv ?? ''}.`);
    }
    if (digest.length !== DIGEST_LENGTH[scheme.hash]) {
      throw new PeerError(
        400,
        'BadParameter',
        `The digest is ${digest.length} bytes; ${alg} takes ${DIGEST_LENGTH[scheme.hash] ?? 0}.`,
      );
    }
    return scheme;
  }
}

function defaultOps(kty: string): string[] {
  return kty.startsWith('oct')
    ? ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey']
    : ['sign', 'verify', 'encrypt', 'decrypt', 'wrapKey', 'unwrapKey'];
}

// node:crypto signs RSA only over a message it hashes itself. Key Vault signs a digest, so the encodings (PKCS#1
// v1.5 DigestInfo, and PSS per RFC 8017 9.1.1 with MGF1 of the same hash and a salt as long as the digest) are built
// here and raw RSA applied to them.

function mgf1(hash: string, seed: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * DIGEST_LENGTH[hash]! < length; counter += 1) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    blocks.push(createHash(hash).update(seed).update(c).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function modulusBits(key: KeyObject): number {
  return key.asymmetricKeyDetails?.modulusLength ?? 0;
}

function signPss(key: KeyObject, hash: string, digest: Buffer): Buffer {
  const hLen = digest.length;
  const emBits = modulusBits(key) - 1;
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(hLen);
  const h = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - 2 * hLen - 2), Buffer.from([1]), salt]);
  const masked = Buffer.from(db.map((b, i) => b ^ mgf1(hash, h, db.length)[i]!));
  masked[0]! &= 0xff >> (8 * emLen - emBits);
  const em = Buffer.concat([masked, h, Buffer.from([0xbc])]);
  return privateEncrypt(
    { key, padding: constants.RSA_NO_PADDING },
    Buffer.concat([Buffer.alloc(modulusBits(key) / 8 - em.length), em]),
  );
}

function verifyPkcs1(key: KeyObject, hash: string, digest: Buffer, signature: Buffer): boolean {
  try {
    return publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature).equals(
      rsaDigestInfo(hash, digest),
    );
  } catch {
    return false;
  }
}

function verifyPss(key: KeyObject, hash: string, digest: Buffer, signature: Buffer): boolean {
  try {
    const emBits = modulusBits(key) - 1;
    const emLen = Math.ceil(emBits / 8);
    const raw = publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, signature);
    const em = raw.subarray(raw.length - emLen);
    const hLen = digest.length;
    if (em.at(-1) !== 0xbc) return false;
    const masked = em.subarray(0, emLen - hLen - 1);
    const h = em.subarray(emLen - hLen - 1, emLen - 1);
    const db = Buffer.from(masked.map((b, i) => b ^ mgf1(hash, h, masked.length)[i]!));
    db[0]! &= 0xff >> (8 * emLen - emBits);
    const salt = db.subarray(db.length - hLen);
    if (db[db.length - hLen - 1] !== 1 || db.subarray(0, db.length - hLen - 1).some((b) => b !== 0))
      return false;
    return createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest().equals(h);
  } catch {
    return false;
  }
}
