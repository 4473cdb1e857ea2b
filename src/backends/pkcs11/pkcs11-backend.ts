// KeyBackend over a PKCS#11 token (SoftHSM2, Luna, nShield, YubiHSM 2, CloudHSM, ...) through pkcs11js.

import { existsSync } from 'node:fs';
import pkcs11js from 'pkcs11js';
import { type Algorithm, type KeyUsage, disallowedUsages, isAsymmetric } from '../algorithms.ts';
import type {
  BackendCapabilities,
  BackendHealth,
  BackendInfo,
  CreateResult,
  KeyBackend,
  KeySpec,
  ObservedKey,
  SignOptions,
} from '../backend.ts';
import {
  AlreadyExistsError,
  ModuleNotFoundError,
  NotFoundError,
  PermissionDeniedError,
  PinLockedError,
  PolicyViolationError,
  TokenNotFoundError,
  UnsupportedError,
} from '../errors.ts';
import { type KeyIdentity, assertValidIdentity } from '../identity.ts';
import { type PublicKeyInfo, publicKeyInfo } from '../public-key.ts';
import { bufferAttribute, readAttributes, useFlagTemplate, usagesOfClass } from './attributes.ts';
import {
  DEFAULT_MAX_SESSIONS,
  type Pkcs11Config,
  type Pkcs11Vendor,
  validatePkcs11Config,
} from './config.ts';
import { CKS_RO_USER_FUNCTIONS, CKS_RW_USER_FUNCTIONS } from './constants.ts';
import { isPkcs11Error, toBackendError } from './errors.ts';
import { generate, generationProblems, generationRequest } from './generation.ts';
import { type IndexedObject, KeyIndex, findObjectsById } from './key-index.ts';
import { type KeyObjects, type KeyState, groupKeyObjects, inspectKey, sameUsages } from './key-objects.ts';
import { KEY_PARAMETERS, supportedAlgorithms } from './key-types.ts';
import { type ModuleLease, openModule } from './module.ts';
import { type ObjectIdentity, objectIdentity } from './object-identity.ts';
import { SessionPool } from './session-pool.ts';
import { SIGNATURE_BUFFER_LENGTH, signatureScheme } from './signing.ts';
import { publicKeyTypes, spkiFromAttributes } from './spki.ts';
import { type FoundToken, findToken, slotNumber, tokenInfo } from './token.ts';
import { pkcs11Uri } from './uri.ts';
import { VENDOR_PROFILES, type VendorProfile } from './vendors.ts';

/** The lock key of operations that the vendor profile makes one-at-a-time per token. */
const TOKEN_WIDE = Buffer.from('token-wide');

/** A lookup that misses re-enumerates the token when the index is older than this (the key may be new). */
const REFRESH_ON_MISS_AFTER_MS = 10_000;

function defaultModulePath(vendor: Pkcs11Vendor): string {
  const candidates = VENDOR_PROFILES[vendor].defaultModulePaths;
  const found = candidates.find((path) => existsSync(path));
  if (found !== undefined) return found;
  throw new ModuleNotFoundError(
    candidates.length === 0
      ? `no PKCS#11 module path is configured and the ${vendor} vendor has no default`
      : `no PKCS#11 module path is configured and none of the ${vendor} defaults exists: ${candidates.join(', ')}`,
  );
}

const PIN_WARNINGS: readonly (readonly [number, string])[] = [
  [pkcs11js.CKF_USER_PIN_COUNT_LOW, 'a wrong user PIN was entered recently'],
  [pkcs11js.CKF_USER_PIN_FINAL_TRY, 'one more wrong user PIN locks the token'],
  [pkcs11js.CKF_USER_PIN_TO_BE_CHANGED, 'the user PIN must be changed'],
];

function isStaleHandle(error: unknown): boolean {
  return (
    isPkcs11Error(error, pkcs11js.CKR_OBJECT_HANDLE_INVALID) ||
    isPkcs11Error(error, pkcs11js.CKR_KEY_HANDLE_INVALID)
  );
}

export class Pkcs11Backend implements KeyBackend {
  readonly type = 'pkcs11';
  readonly #lease: ModuleLease;
  readonly #pkcs11: pkcs11js.PKCS11;
  readonly #pool: SessionPool;
  readonly #token: FoundToken;
  readonly #profile: VendorProfile;
  readonly #mechanisms: ReadonlySet<number>;
  readonly #index = new KeyIndex();
  readonly #locks = new Map<string, Promise<unknown>>();
  #refreshing: Promise<void> | undefined;
  #closed = false;

  private constructor(
    lease: ModuleLease,
    pool: SessionPool,
    token: FoundToken,
    profile: VendorProfile,
    mechanisms: ReadonlySet<number>,
  ) {
    this.#lease = lease;
    this.#pkcs11 = lease.pkcs11;
    this.#pool = pool;
    this.#token = token;
    this.#profile = profile;
    this.#mechanisms = mechanisms;
  }

  /**
   * Loads the module (or shares it with other backends of this process), finds the token, logs in and indexes the
   * keys on the token. A missing module, a missing token and a rejected PIN each fail with their own error.
   */
  static async connect(config: Pkcs11Config): Promise<Pkcs11Backend> {
    validatePkcs11Config(config);
    const lease = openModule(config.modulePath ?? defaultModulePath(config.vendor));
    let backend: Pkcs11Backend | undefined;
    try {
      const token = findToken(lease.pkcs11, lease.path, config.token);
      if ((token.flags & pkcs11js.CKF_USER_PIN_LOCKED) !== 0) {
        throw new PinLockedError(
          `the user PIN of token "${token.info.tokenLabel}" is locked; a security officer must reset it`,
        );
      }
      let mechanisms: Set<number>;
      try {
        mechanisms = new Set(lease.pkcs11.C_GetMechanismList(token.slot));
      } catch (error) {
        throw toBackendError(error, 'list the mechanisms of the token');
      }
      const tokenKey = `${slotNumber(token.slot)}/${token.info.serial}`;
      const { pin } = config;
      const pool = new SessionPool(
        lease.pkcs11,
        token.slot,
        config.maxSessions ?? DEFAULT_MAX_SESSIONS,
        (session) => {
          lease.login(session, tokenKey, pin);
        },
        () => {
          lease.endLogin(tokenKey);
        },
      );
      backend = new Pkcs11Backend(lease, pool, token, VENDOR_PROFILES[config.vendor], mechanisms);
      // Opens the first session: the login happens here, so a wrong PIN fails the connect.
      await backend.refresh();
      return backend;
    } catch (error) {
      if (backend === undefined) lease.release();
      else await backend.close();
      throw error;
    }
  }

  capabilities(): BackendCapabilities {
    return {
      algorithms: supportedAlgorithms(this.#mechanisms),
      nativeRotation: false,
      versions: false,
      minDestroyDelaySeconds: 0,
    };
  }

  /** The token as found at connect time. */
  get info(): BackendInfo {
    return this.#token.info;
  }

  async health(): Promise<BackendHealth> {
    return this.#pool.use('check the token', (session) => {
      const raw = this.#pkcs11.C_GetTokenInfo(this.#token.slot);
      const info = tokenInfo(raw);
      if (info.serial !== this.#token.info.serial || info.tokenLabel !== this.#token.info.tokenLabel) {
        throw new TokenNotFoundError(
          `the slot now holds token "${info.tokenLabel}" (serial ${info.serial}), not "${this.#token.info.tokenLabel}"`,
        );
      }
      const { state } = this.#pkcs11.C_GetSessionInfo(session);
      if (state !== CKS_RO_USER_FUNCTIONS && state !== CKS_RW_USER_FUNCTIONS) {
        // Handled like the token reporting it: the pool drops the session and logs in again on the next one.
        throw new pkcs11js.Pkcs11Error(
          'CKR_USER_NOT_LOGGED_IN',
          pkcs11js.CKR_USER_NOT_LOGGED_IN,
          'C_GetSessionInfo',
        );
      }
      const warnings = PIN_WARNINGS.flatMap(([flag, warning]) => ((raw.flags & flag) !== 0 ? [warning] : []));
      return { info, warnings };
    });
  }

  async observe(identity: KeyIdentity): Promise<ObservedKey | undefined> {
    return this.#withKey(identity, 'observe', (session, key, oid) =>
      key === undefined ? undefined : this.#observed(this.#ownState(session, key, oid), key),
    );
  }

  async create(identity: KeyIdentity, spec: KeySpec): Promise<CreateResult> {
    assertValidIdentity(identity);
    this.#checkSpec(spec);
    const oid = objectIdentity(identity, this.#profile);
    const exclusive = <T>(fn: () => Promise<T>): Promise<T> =>
      this.#profile.serialGeneration ? this.#exclusive(TOKEN_WIDE, fn) : this.#exclusive(oid.id, fn);
    return exclusive(() =>
      this.#pool.use(`create ${oid.label}`, async (session): Promise<CreateResult> => {
        // Searched on the token, not the index: this is what stops a second key being generated.
        const found = findObjectsById(this.#pkcs11, session, oid.id);
        this.#index.put(oid.id, found);
        const existing = groupKeyObjects(found, oid.label);
        if (existing !== undefined) {
          return { outcome: 'adopted', key: this.#adopt(session, existing, oid, spec) };
        }
        // Only public halves can be left without a key (a destroy interrupted halfway); they hold nothing secret.
        this.#assertOwnLabels(session, found, oid);
        for (const stray of found) this.#pkcs11.C_DestroyObject(session, stray.handle);
        this.#index.put(oid.id, []);
        const generated = await generate(this.#pkcs11, session, generationRequest(spec, oid, this.#profile));
        this.#index.put(
          oid.id,
          generated.public === undefined ? [generated.primary] : [generated.primary, generated.public],
        );
        return { outcome: 'created', key: this.#verifyGenerated(session, generated, oid, spec) };
      }),
    );
  }

  async publicKey(identity: KeyIdentity): Promise<PublicKeyInfo> {
    return this.#withKey(identity, 'read the public key of', (session, key, oid) => {
      const objects = this.#require(key, oid);
      const parameters = KEY_PARAMETERS[this.#ownState(session, objects, oid).algorithm];
      if (parameters.kind === 'secret') {
        throw new UnsupportedError(`${oid.label} is a secret key without a public key`);
      }
      const publicObject = objects.public;
      if (publicObject === undefined) {
        throw new NotFoundError(`the public key object of ${oid.label} is missing`);
      }
      const attributes = readAttributes(
        this.#pkcs11,
        session,
        publicObject.handle,
        publicKeyTypes(parameters),
      );
      return publicKeyInfo(spkiFromAttributes(parameters, attributes));
    });
  }

  async sign(identity: KeyIdentity, data: Buffer, options?: SignOptions): Promise<Buffer> {
    return this.#withKey(identity, 'sign with', async (session, key, oid) => {
      const objects = this.#require(key, oid);
      const scheme = signatureScheme(
        this.#ownState(session, objects, oid).algorithm,
        this.#mechanisms,
        options,
      );
      this.#pkcs11.C_SignInit(session, scheme.mechanism, objects.primary.handle);
      return this.#pkcs11.C_SignAsync(session, scheme.input(data), Buffer.alloc(SIGNATURE_BUFFER_LENGTH));
    });
  }

  async verify(
    identity: KeyIdentity,
    data: Buffer,
    signature: Buffer,
    options?: SignOptions,
  ): Promise<boolean> {
    return this.#withKey(identity, 'verify with', async (session, key, oid) => {
      const objects = this.#require(key, oid);
      const state = this.#ownState(session, objects, oid);
      const scheme = signatureScheme(state.algorithm, this.#mechanisms, options);
      const verifier = isAsymmetric(state.algorithm) ? objects.public : objects.primary;
      if (verifier === undefined) throw new NotFoundError(`the public key object of ${oid.label} is missing`);
      this.#pkcs11.C_VerifyInit(session, scheme.mechanism, verifier.handle);
      try {
        return await this.#pkcs11.C_VerifyAsync(session, scheme.input(data), signature);
      } catch (error) {
        if (isPkcs11Error(error, pkcs11js.CKR_SIGNATURE_INVALID)) return false;
        if (isPkcs11Error(error, pkcs11js.CKR_SIGNATURE_LEN_RANGE)) return false;
        throw error;
      }
    });
  }

  async setUsages(identity: KeyIdentity, usages: readonly KeyUsage[]): Promise<void> {
    assertValidIdentity(identity);
    const { id } = objectIdentity(identity, this.#profile);
    await this.#exclusive(id, () =>
      this.#withKey(identity, 'set the usages of', (session, key, oid) => {
        const objects = this.#require(key, oid);
        const state = this.#ownState(session, objects, oid);
        const disallowed = disallowedUsages(state.algorithm, usages);
        if (disallowed.length > 0) {
          throw new UnsupportedError(
            `${state.algorithm} keys cannot ${disallowed.join(', ')} (${oid.label})`,
          );
        }
        this.#pkcs11.C_SetAttributeValue(
          session,
          objects.primary.handle,
          useFlagTemplate(objects.primary.cls, usages),
        );
        if (objects.public !== undefined) {
          this.#pkcs11.C_SetAttributeValue(session, objects.public.handle, useFlagTemplate('public', usages));
        }
        // Read back: a token that silently keeps a flag must not pass for a disabled key.
        const settable = [objects.primary, objects.public].flatMap((object) =>
          object ? usagesOfClass(object.cls) : [],
        );
        const expected = usages.filter((usage) => settable.includes(usage));
        const actual = inspectKey(this.#pkcs11, session, objects).usages;
        if (!sameUsages(actual, expected)) {
          throw new PermissionDeniedError(
            `the token kept the usages of ${oid.label} at [${actual.join(', ')}] instead of [${expected.join(', ')}]`,
          );
        }
      }),
    );
  }

  async destroy(identity: KeyIdentity): Promise<'destroyed' | 'absent'> {
    assertValidIdentity(identity);
    const oid = objectIdentity(identity, this.#profile);
    return this.#exclusive(oid.id, () =>
      this.#pool.use(`destroy ${oid.label}`, (session) => {
        const found = findObjectsById(this.#pkcs11, session, oid.id);
        this.#assertOwnLabels(session, found, oid);
        // Private and secret keys first: an interruption leaves at most a public key, which create cleans up.
        const ordered = [
          ...found.filter((o) => o.cls !== 'public'),
          ...found.filter((o) => o.cls === 'public'),
        ];
        for (const object of ordered) this.#pkcs11.C_DestroyObject(session, object.handle);
        this.#index.put(oid.id, []);
        return found.length > 0 ? 'destroyed' : 'absent';
      }),
    );
  }

  async refresh(): Promise<void> {
    this.#refreshing ??= this.#pool
      .use('enumerate the keys on the token', (session) => this.#index.rebuild(this.#pkcs11, session))
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close();
    this.#lease.release();
  }

  #checkSpec(spec: KeySpec): void {
    if (!this.capabilities().algorithms.includes(spec.algorithm)) {
      throw new UnsupportedError(`token "${this.#token.info.tokenLabel}" does not offer ${spec.algorithm}`);
    }
    if (spec.usages.length === 0) throw new UnsupportedError('a key needs at least one usage');
    const disallowed = disallowedUsages(spec.algorithm, spec.usages);
    if (disallowed.length > 0) {
      throw new UnsupportedError(`${spec.algorithm} keys cannot ${disallowed.join(', ')}`);
    }
  }

  /** Runs `fn` after every earlier create/setUsages/destroy of the same key version has finished. */
  async #exclusive<T>(id: Buffer, fn: () => Promise<T>): Promise<T> {
    const key = id.toString('hex');
    const run = (this.#locks.get(key) ?? Promise.resolve()).catch(() => undefined).then(fn);
    this.#locks.set(key, run);
    try {
      return await run;
    } finally {
      if (this.#locks.get(key) === run) this.#locks.delete(key);
    }
  }

  /**
   * Finds the key version through the index and runs `fn` on a session with its objects (undefined when the token
   * has none). A handle gone stale (the object was destroyed elsewhere) is looked up again on the token once.
   */
  async #withKey<T>(
    identity: KeyIdentity,
    verb: string,
    fn: (session: pkcs11js.Handle, key: KeyObjects | undefined, oid: ObjectIdentity) => T | Promise<T>,
  ): Promise<T> {
    assertValidIdentity(identity);
    const oid = objectIdentity(identity, this.#profile);
    const indexed = await this.#locate(oid.id);
    return this.#pool.use(`${verb} ${oid.label}`, async (session) => {
      try {
        return await fn(session, groupKeyObjects(indexed, oid.label), oid);
      } catch (error) {
        if (!isStaleHandle(error)) throw error;
        const found = findObjectsById(this.#pkcs11, session, oid.id);
        this.#index.put(oid.id, found);
        return await fn(session, groupKeyObjects(found, oid.label), oid);
      }
    });
  }

  async #locate(id: Buffer): Promise<readonly IndexedObject[]> {
    const objects = this.#index.lookup(id);
    if (objects.length > 0 || this.#index.age() < REFRESH_ON_MISS_AFTER_MS) return objects;
    await this.refresh();
    return this.#index.lookup(id);
  }

  /** With short ids (YubiHSM) another key could share ours: only objects carrying our labels may be destroyed. */
  #assertOwnLabels(session: pkcs11js.Handle, objects: readonly IndexedObject[], oid: ObjectIdentity): void {
    for (const object of objects) {
      const label = bufferAttribute(
        readAttributes(this.#pkcs11, session, object.handle, [pkcs11js.CKA_LABEL]),
        pkcs11js.CKA_LABEL,
      ).toString('utf8');
      if (label !== oid.label && label !== oid.publicLabel) {
        throw new AlreadyExistsError(`the id of ${oid.label} is taken by an object labelled "${label}"`);
      }
    }
  }

  #require(key: KeyObjects | undefined, oid: ObjectIdentity): KeyObjects {
    if (key === undefined) throw new NotFoundError(`the token holds no key ${oid.label}`);
    return key;
  }

  /** The state of a key version that is recognizably ours: an algorithm Keyward makes and our label. */
  #ownState(
    session: pkcs11js.Handle,
    key: KeyObjects,
    oid: ObjectIdentity,
  ): KeyState & { readonly algorithm: Algorithm } {
    const state = inspectKey(this.#pkcs11, session, key);
    if (state.label !== oid.label) {
      throw new AlreadyExistsError(`the id of ${oid.label} is taken by a key labelled "${state.label}"`);
    }
    const { algorithm } = state;
    if (algorithm === undefined) {
      throw new AlreadyExistsError(
        `the token holds a key with the id of ${oid.label} of a kind Keyward does not make`,
      );
    }
    return { ...state, algorithm };
  }

  #observed(state: KeyState & { readonly algorithm: Algorithm }, key: KeyObjects): ObservedKey {
    const keyRef = pkcs11Uri({
      token: this.#token.info.tokenLabel,
      serial: this.#token.info.serial,
      object: state.label,
      id: state.id,
      type: key.primary.cls,
    });
    return { algorithm: state.algorithm, usages: state.usages, keyRef, label: state.label };
  }

  #adopt(session: pkcs11js.Handle, key: KeyObjects, oid: ObjectIdentity, spec: KeySpec): ObservedKey {
    const state = this.#ownState(session, key, oid);
    if (state.algorithm !== spec.algorithm) {
      throw new AlreadyExistsError(`${oid.label} exists as ${state.algorithm}, not ${spec.algorithm}`);
    }
    if (state.problems.length > 0) {
      throw new PolicyViolationError(
        `${oid.label} exists but is not protected: ${state.problems.join('; ')}`,
      );
    }
    return this.#observed(state, key);
  }

  /** Reads a new key back; one the token did not make as asked is destroyed and reported, never used. */
  #verifyGenerated(
    session: pkcs11js.Handle,
    key: KeyObjects,
    oid: ObjectIdentity,
    spec: KeySpec,
  ): ObservedKey {
    const state = inspectKey(this.#pkcs11, session, key);
    const problems = generationProblems(state, oid, spec);
    if (problems.length > 0 || state.algorithm === undefined) {
      for (const object of [key.primary, key.public]) {
        if (object !== undefined) this.#pkcs11.C_DestroyObject(session, object.handle);
      }
      this.#index.put(oid.id, []);
      throw new PolicyViolationError(
        `the token did not generate ${oid.label} as requested: ${problems.join('; ')}`,
      );
    }
    return this.#observed({ ...state, algorithm: state.algorithm }, key);
  }
}
