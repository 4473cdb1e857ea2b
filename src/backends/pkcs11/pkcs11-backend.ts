// KeyBackend over a PKCS#11 token (SoftHSM2, Luna, nShield, YubiHSM 2, CloudHSM, ...) through pkcs11js.

import { existsSync } from 'node:fs';
import pkcs11js from 'pkcs11js';
import { type Algorithm, type KeyUsage, isAsymmetric } from '../algorithms.ts';
import type {
  BackendCapabilities,
  BackendHealth,
  BackendInfo,
  BackendTarget,
  CallOptions,
  CreateResult,
  DestroyRequest,
  DestroyResult,
  KeyBackend,
  KeySpec,
  ObservedVersion,
  RecoveryWrap,
  RestoreRequest,
  SignInput,
  SignOptions,
} from '../backend.ts';
import { assertKeySpec, assertSignInput, assertUsagesAllowed } from '../checks.ts';
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
import { generationUseFlags, useFlagTemplate, usagesOfClass } from './attributes.ts';
import {
  DEFAULT_MAX_SESSIONS,
  type Pkcs11Config,
  type Pkcs11Vendor,
  validatePkcs11Config,
} from './config.ts';
import { CKS_RO_USER_FUNCTIONS, CKS_RW_USER_FUNCTIONS } from './constants.ts';
import { isPkcs11Error, toBackendError } from './errors.ts';
import { generate, generationProblems, generationRequest, protectionTemplate } from './generation.ts';
import {
  type IndexedObject,
  type KeyIndex,
  type TokenState,
  findObjectsById,
  shareTokenState,
} from './key-index.ts';
import type { SnapshotUse } from './enumeration-snapshot.ts';
import {
  type KeyFacts,
  type KeyObjects,
  type KeyState,
  groupKeyObjects,
  inspectKey,
  keyState,
  readKeyFacts,
  sameUsages,
} from './key-objects.ts';
import { KEY_PARAMETERS, supportedAlgorithms } from './key-types.ts';
import { type ModuleLease, openProbedModule } from './module.ts';
import { type ObjectIdentity, objectIdentity, ownerLabel, versionOfLabel } from './object-identity.ts';
import { pairProblem } from './proof.ts';
import { checkValue, isExtractable, offersRecoveryWrap, seal, unwrapChecked, wrapOnce } from './recovery.ts';
import { SessionPool } from './session-pool.ts';
import { SIGNATURE_BUFFER_LENGTH, type SignatureScheme, signatureScheme } from './signing.ts';
import { materialAttributes } from './object-facts.ts';
import { spkiFromAttributes } from './spki.ts';
import { type FoundToken, findToken, slotNumber, tokenInfo } from './token.ts';
import { pkcs11Uri } from './uri.ts';
import { VENDOR_PROFILES, type VendorProfile } from './vendors.ts';

/** The lock key of operations that the vendor profile makes one-at-a-time per token. */
const TOKEN_WIDE = Buffer.from('token-wide');

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

/** A version's objects on the token and the CKA_ID they carry. */
interface Located {
  readonly id: Buffer;
  readonly objects: KeyObjects | undefined;
}

export class Pkcs11Backend implements KeyBackend {
  readonly type = 'pkcs11';
  readonly target: BackendTarget;
  readonly #lease: ModuleLease;
  readonly #pkcs11: pkcs11js.PKCS11;
  readonly #pool: SessionPool;
  readonly #token: FoundToken;
  readonly #profile: VendorProfile;
  readonly #mechanisms: ReadonlySet<number>;
  /** Shared with every backend of this process on the token: see key-index.ts. */
  readonly #shared: TokenState;
  readonly #index: KeyIndex;
  readonly #pin: Buffer;
  #refreshing: Promise<void> | undefined;
  #closed = false;

  private constructor(
    lease: ModuleLease,
    pool: SessionPool,
    token: FoundToken,
    profile: VendorProfile,
    mechanisms: ReadonlySet<number>,
    pin: Buffer,
    shared: TokenState,
  ) {
    this.#pin = pin;
    this.#shared = shared;
    this.#index = shared.index;
    this.#lease = lease;
    this.#pkcs11 = lease.pkcs11;
    this.#pool = pool;
    this.#token = token;
    this.#profile = profile;
    this.#mechanisms = mechanisms;
    this.target = tokenTarget(token.info);
  }

  /**
   * Loads the module (or shares it with other backends of this process), finds the token, logs in and indexes the
   * keys on the token. A missing module, a missing token and a rejected PIN each fail with their own error.
   */
  static async connect(config: Pkcs11Config): Promise<Pkcs11Backend> {
    validatePkcs11Config(config);
    const lease = await openProbedModule(config.modulePath ?? defaultModulePath(config.vendor));
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
      // The pool logs in again whenever the token forgets the login, so the backend keeps a copy of the PIN, which
      // close() zeroes.
      const pin = Buffer.from(config.pin);
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
      backend = new Pkcs11Backend(
        lease,
        pool,
        token,
        VENDOR_PROFILES[config.vendor],
        mechanisms,
        pin,
        shareTokenState(`${lease.path}|${tokenKey}`),
      );
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
      nativeRotation: [],
      versions: false,
      archival: 'usages',
      minDestroyDelaySeconds: 0,
      restorable: false,
      lookupBy: 'attributes',
      recoveryWrap: offersRecoveryWrap(this.#mechanisms),
    };
  }

  /** The token as found at connect time. */
  get info(): BackendInfo {
    return this.#token.info;
  }

  async health(options?: CallOptions): Promise<BackendHealth> {
    return this.#pool.use(
      'check the token',
      (session) => {
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
        const warnings = PIN_WARNINGS.flatMap(([flag, warning]) =>
          (raw.flags & flag) !== 0 ? [warning] : [],
        );
        return { info, warnings };
      },
      options?.signal,
    );
  }

  async observe(identity: KeyIdentity, options?: CallOptions): Promise<ObservedVersion | undefined> {
    return this.#withKey(
      identity,
      'observe',
      (session, { id, objects }, oid) =>
        objects === undefined
          ? undefined
          : this.#observed(
              this.#ownState(this.#firstRead('observe', session, id, objects), oid),
              objects,
              id,
              identity.version,
            ),
      options,
    );
  }

  async versions(identity: KeyIdentity, options?: CallOptions): Promise<ObservedVersion[]> {
    assertValidIdentity(identity);
    // Candidates by label, confirmed by CKA_ID: a label anyone can write, the id is derived from the uid.
    const found: { version: number; id: string }[] = [];
    const owner = ownerLabel(identity, this.#profile);
    const candidates =
      owner === undefined
        ? this.#index.entries() // a label that may have been cut: only a scan of the index finds it
        : this.#index
            .idsOfOwner(owner)
            .map((id): [string, readonly IndexedObject[]] => [
              id,
              this.#index.lookup(Buffer.from(id, 'hex')),
            ]);
    for (const [id, objects] of candidates) {
      const version = objects.map((o) => versionOfLabel(o.label)).find((v) => v !== undefined);
      if (version === undefined) continue;
      const { ids } = objectIdentity({ ...identity, version, versionId: undefined }, this.#profile);
      if (ids.some((candidate) => candidate.toString('hex') === id)) found.push({ version, id });
    }
    found.sort((a, b) => b.version - a.version);
    const observed: ObservedVersion[] = [];
    for (const { version, id } of found) {
      const version_ = await this.observe({ ...identity, version, versionId: id }, options);
      if (version_) observed.push(version_);
    }
    return observed;
  }

  async create(identity: KeyIdentity, spec: KeySpec, options?: CallOptions): Promise<CreateResult> {
    assertValidIdentity(identity);
    assertKeySpec(spec, this.capabilities(), `token "${this.#token.info.tokenLabel}"`);
    const oid = objectIdentity(identity, this.#profile);
    return this.#shared.locks.run((oid.ids[0] ?? TOKEN_WIDE).toString('hex'), () =>
      this.#pool.use(
        `create ${oid.label}`,
        async (session): Promise<CreateResult> => {
          const search = (id: Buffer): readonly IndexedObject[] => {
            const found = findObjectsById(this.#pkcs11, session, id);
            this.#index.put(id, found);
            return found;
          };
          // The index is trusted (one writer per token, see key-index.ts): no search of the token per key. A version
          // status recorded (versionId) that the index lacks was made after the last enumeration; only that is
          // searched, and so is an id whose indexed objects were destroyed behind our back (stale handles).
          const lookup = (id: Buffer): readonly IndexedObject[] => {
            const indexed = this.#index.lookup(id);
            return indexed.length === 0 && identity.versionId !== undefined ? search(id) : indexed;
          };
          try {
            return await this.#createOn(session, spec, oid, lookup);
          } catch (error) {
            if (!isStaleHandle(error)) throw error;
            return await this.#createOn(session, spec, oid, search);
          }
        },
        options?.signal,
      ),
    );
  }

  async #createOn(
    session: pkcs11js.Handle,
    spec: KeySpec,
    oid: ObjectIdentity,
    lookup: (id: Buffer) => readonly IndexedObject[],
  ): Promise<CreateResult> {
    const free = [];
    for (const id of oid.ids) {
      const found = lookup(id);
      if (!found.every((o) => o.label === oid.label || o.label === oid.publicLabel)) continue; // another key's id
      const existing = groupKeyObjects(found, oid.label);
      if (existing !== undefined)
        return { outcome: 'adopted', ...(await this.#adopt(session, existing, oid, id, spec)) };
      free.push({ id, found });
    }
    const [slot] = free;
    if (slot === undefined) {
      throw new AlreadyExistsError(`every id ${oid.label} may have is taken by other keys on the token`);
    }
    // Only public halves can be left without a key (a destroy interrupted halfway); they hold nothing secret.
    for (const stray of slot.found) this.#pkcs11.C_DestroyObject(session, stray.handle);
    this.#index.put(slot.id, []);
    const request = generationRequest(spec, oid, slot.id, this.#profile);
    // Where the token makes one key at a time, only the generation itself waits for the others: looking up, reading
    // back and proving a key go on beside the next key's generation.
    const generated = this.#profile.serialGeneration
      ? await this.#shared.locks.run(TOKEN_WIDE.toString('hex'), () =>
          generate(this.#pkcs11, session, request, oid),
        )
      : await generate(this.#pkcs11, session, request, oid);
    this.#index.put(slot.id, [generated.primary, ...(generated.public ? [generated.public] : [])]);
    return { outcome: 'created', ...(await this.#verifyGenerated(session, generated, oid, slot.id, spec)) };
  }

  async publicKey(identity: KeyIdentity, options?: CallOptions): Promise<PublicKeyInfo> {
    return this.#withKey(
      identity,
      'read the public key of',
      (session, { id, objects }, oid) => {
        const facts = this.#firstRead('publicKey', session, id, this.#require(objects, oid));
        return publicKeyInfo(this.#spki(facts, this.#ownState(facts, oid).algorithm, oid));
      },
      options,
    );
  }

  async sign(identity: KeyIdentity, input: SignInput, options?: SignOptions & CallOptions): Promise<Buffer> {
    return this.#withKey(
      identity,
      'sign with',
      async (session, { objects }, oid) => {
        const { key, scheme } = this.#signing(session, objects, oid, input, options);
        this.#pkcs11.C_SignInit(session, scheme.mechanism, key.primary.handle);
        return scheme.encode(
          await this.#pkcs11.C_SignAsync(session, scheme.data, Buffer.alloc(SIGNATURE_BUFFER_LENGTH)),
        );
      },
      options,
    );
  }

  async verify(
    identity: KeyIdentity,
    input: SignInput,
    signature: Buffer,
    options?: SignOptions & CallOptions,
  ): Promise<boolean> {
    return this.#withKey(
      identity,
      'verify with',
      async (session, { objects }, oid) => {
        const { key, algorithm, scheme } = this.#signing(session, objects, oid, input, options);
        const verifier = isAsymmetric(algorithm) ? key.public : key.primary;
        if (verifier === undefined)
          throw new NotFoundError(`the public key object of ${oid.label} is missing`);
        const decoded = scheme.decode(signature);
        if (decoded === undefined) return false;
        this.#pkcs11.C_VerifyInit(session, scheme.mechanism, verifier.handle);
        try {
          return await this.#pkcs11.C_VerifyAsync(session, scheme.data, decoded);
        } catch (error) {
          if (isPkcs11Error(error, pkcs11js.CKR_SIGNATURE_INVALID)) return false;
          if (isPkcs11Error(error, pkcs11js.CKR_SIGNATURE_LEN_RANGE)) return false;
          throw error;
        }
      },
      options,
    );
  }

  async setUsages(identity: KeyIdentity, usages: readonly KeyUsage[], options?: CallOptions): Promise<void> {
    assertValidIdentity(identity);
    const oid = objectIdentity(identity, this.#profile);
    await this.#shared.locks.run((oid.ids[0] ?? TOKEN_WIDE).toString('hex'), () =>
      this.#withKey(
        identity,
        'set the usages of',
        (session, { id, objects }) => {
          const key = this.#require(objects, oid);
          const state = this.#ownState(readKeyFacts(this.#pkcs11, session, key), oid);
          assertUsagesAllowed(state.algorithm, usages);
          this.#index.forgetSnapshot(id);
          this.#pkcs11.C_SetAttributeValue(
            session,
            key.primary.handle,
            useFlagTemplate(key.primary.cls, usages),
          );
          if (key.public !== undefined) {
            this.#pkcs11.C_SetAttributeValue(session, key.public.handle, useFlagTemplate('public', usages));
          }
          // Read back: a token that silently keeps a flag must not pass for a disabled key.
          const settable = [key.primary, key.public].flatMap((object) =>
            object ? usagesOfClass(object.cls) : [],
          );
          const expected = usages.filter((usage) => settable.includes(usage));
          const actual = inspectKey(this.#pkcs11, session, key).usages;
          if (!sameUsages(actual, expected)) {
            throw new PermissionDeniedError(
              `the token kept the usages of ${oid.label} at [${actual.join(', ')}] instead of [${expected.join(', ')}]`,
            );
          }
        },
        options,
      ),
    );
  }

  async destroy(identity: KeyIdentity, request: DestroyRequest): Promise<DestroyResult> {
    assertValidIdentity(identity);
    const oid = objectIdentity(identity, this.#profile);
    // A token has no delayed destroy: the controller keeps the window (status destroyTime) and asks when it is over.
    return this.#shared.locks.run((oid.ids[0] ?? TOKEN_WIDE).toString('hex'), () =>
      this.#pool.use(
        `destroy ${oid.label}`,
        (session): DestroyResult => {
          for (const id of oid.ids) {
            const found = findObjectsById(this.#pkcs11, session, id);
            this.#index.put(id, found); // what the token holds, whatever follows
            // With short ids (YubiHSM) another key could share an id: only objects with our labels are ours.
            const ours = found.filter((o) => o.label === oid.label || o.label === oid.publicLabel);
            if (ours.length === 0 && found.length > 0 && oid.ids.length === 1) {
              const label = found[0]?.label ?? '';
              throw new AlreadyExistsError(
                `the id of ${oid.label} is taken by an object labelled "${label}"`,
              );
            }
            if (ours.length === 0) continue;
            // Private and secret keys first: an interruption leaves at most a public key, which create cleans up.
            const ordered = [
              ...ours.filter((o) => o.cls !== 'public'),
              ...ours.filter((o) => o.cls === 'public'),
            ];
            for (const object of ordered) this.#pkcs11.C_DestroyObject(session, object.handle);
            this.#index.put(
              id,
              found.filter((o) => !ours.includes(o)),
            );
            return { outcome: 'destroyed' };
          }
          return { outcome: 'absent' };
        },
        request.signal,
      ),
    );
  }

  async wrapForRecovery(identity: KeyIdentity, options?: CallOptions): Promise<RecoveryWrap> {
    return this.#recoveryCall(identity, 'wrap for recovery', options, (session, key, oid) => {
      const value = this.#checkValueOf(session, key, oid);
      if (!isExtractable(this.#pkcs11, session, key.primary.handle))
        return { outcome: 'sealed', checkValue: value };
      return {
        outcome: 'wrapped',
        ...wrapOnce(this.#pkcs11, session, key.primary.handle),
        checkValue: value,
      };
    });
  }

  async sealRecovery(identity: KeyIdentity, options?: CallOptions): Promise<string> {
    return this.#recoveryCall(identity, 'seal', options, (session, key, oid, id) => {
      this.#index.forgetSnapshot(id);
      seal(this.#pkcs11, session, key.primary.handle, oid.label);
      return this.#checkValueOf(session, key, oid);
    });
  }

  async restoreKey(identity: KeyIdentity, request: RestoreRequest): Promise<CreateResult> {
    assertValidIdentity(identity);
    if (KEY_PARAMETERS[request.algorithm].kind !== 'secret' || !this.capabilities().recoveryWrap) {
      throw new UnsupportedError(
        `token "${this.#token.info.tokenLabel}" cannot restore a ${request.algorithm} key`,
      );
    }
    const oid = objectIdentity(identity, this.#profile);
    const id = oid.ids[0] ?? Buffer.alloc(0);
    return this.#shared.locks.run(id.toString('hex'), () =>
      this.#pool.use(
        `restore ${oid.label}`,
        (session): CreateResult => {
          const found = findObjectsById(this.#pkcs11, session, id);
          this.#index.put(id, found);
          const existing = groupKeyObjects(found, oid.label);
          if (existing !== undefined) {
            const state = this.#ownState(readKeyFacts(this.#pkcs11, session, existing), oid);
            // A restore finished before (its ceremony interrupted): the same key, if the token can tell.
            if (checkValue(this.#pkcs11, session, existing.primary.handle) !== request.checkValue)
              throw new AlreadyExistsError(
                `the token already holds ${oid.label}, and it is not provably the key of the backup (another check value, or none the token can compute); restore into another token, or remove it`,
              );
            return { outcome: 'adopted', version: this.#observed(state, existing, id, oid.version) };
          }
          const handle = unwrapChecked(this.#pkcs11, session, {
            wrappedKey: request.wrappedKey,
            kek: request.kek,
            checkValue: request.checkValue,
            label: oid.label,
            template: [
              ...protectionTemplate(this.#profile, false),
              { type: pkcs11js.CKA_ID, value: id },
              { type: pkcs11js.CKA_LABEL, value: oid.label },
              ...generationUseFlags('secret', request.usages),
            ],
          });
          const key: KeyObjects = { primary: { cls: 'secret', handle, label: oid.label }, public: undefined };
          this.#index.put(id, [key.primary]);
          return {
            outcome: 'created',
            version: this.#observed(
              this.#ownState(readKeyFacts(this.#pkcs11, session, key), oid),
              key,
              id,
              oid.version,
            ),
          };
        },
        request.signal,
      ),
    );
  }

  /** Runs `fn` on a recoverable secret key of ours, under the key's lock. */
  async #recoveryCall<T>(
    identity: KeyIdentity,
    verb: string,
    options: CallOptions | undefined,
    fn: (session: pkcs11js.Handle, key: KeyObjects, oid: ObjectIdentity, id: Buffer) => T,
  ): Promise<T> {
    assertValidIdentity(identity);
    const oid = objectIdentity(identity, this.#profile);
    return this.#shared.locks.run((oid.ids[0] ?? TOKEN_WIDE).toString('hex'), () =>
      this.#withKey(
        identity,
        verb,
        (session, { id, objects }) => {
          const key = this.#require(objects, oid);
          this.#ownState(readKeyFacts(this.#pkcs11, session, key), oid, true);
          if (key.primary.cls !== 'secret') throw new UnsupportedError(`${oid.label} is not a secret key`);
          return fn(session, key, oid, id);
        },
        options,
      ),
    );
  }

  #checkValueOf(session: pkcs11js.Handle, key: KeyObjects, oid: ObjectIdentity): string {
    const value = checkValue(this.#pkcs11, session, key.primary.handle);
    if (value === undefined)
      throw new UnsupportedError(
        `token "${this.#token.info.tokenLabel}" gives no check value for ${oid.label}`,
      );
    return value;
  }

  async refresh(options?: CallOptions): Promise<void> {
    this.#refreshing ??= this.#pool
      .use(
        'enumerate the keys on the token',
        (session) => this.#index.rebuild(this.#pkcs11, session),
        options?.signal,
      )
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close();
    this.#shared.release();
    this.#pin.fill(0);
    this.#lease.release();
  }

  /**
   * Finds the key version through the index and runs `fn` on a session with its objects (undefined when the token
   * has none). An id the index misses is searched on the token for that id alone (never by enumerating the whole
   * token), and a handle gone stale (the object was destroyed elsewhere) is looked up again once.
   */
  async #withKey<T>(
    identity: KeyIdentity,
    verb: string,
    fn: (session: pkcs11js.Handle, located: Located, oid: ObjectIdentity) => T | Promise<T>,
    options: CallOptions | undefined,
  ): Promise<T> {
    assertValidIdentity(identity);
    const oid = objectIdentity(identity, this.#profile);
    return this.#pool.use(
      `${verb} ${oid.label}`,
      async (session) => {
        const search = (id: Buffer): readonly IndexedObject[] => {
          const found = findObjectsById(this.#pkcs11, session, id);
          this.#index.put(id, found);
          return found;
        };
        const locate = (lookup: (id: Buffer) => readonly IndexedObject[]): Located => {
          for (const id of oid.ids) {
            const objects = lookup(id).filter((o) => o.label === oid.label || o.label === oid.publicLabel);
            const grouped = groupKeyObjects(objects, oid.label);
            if (grouped !== undefined) return { id, objects: grouped };
          }
          return { id: oid.ids[0] ?? Buffer.alloc(0), objects: undefined };
        };
        let located = locate((id) => this.#index.lookup(id));
        // A version status recorded must be there: the index missing it is searched for. An unrecorded one the index
        // lacks is absent (one writer per token, see key-index.ts), so looking for it costs no scan.
        if (located.objects === undefined && identity.versionId !== undefined) located = locate(search);
        try {
          return await fn(session, located, oid);
        } catch (error) {
          if (!isStaleHandle(error)) throw error;
          return await fn(session, locate(search), oid);
        }
      },
      options?.signal,
    );
  }

  /** The key, its algorithm and the signature scheme for `input`, after the checks every backend runs. */
  #signing(
    session: pkcs11js.Handle,
    objects: KeyObjects | undefined,
    oid: ObjectIdentity,
    input: SignInput,
    options: SignOptions | undefined,
  ): { key: KeyObjects; algorithm: Algorithm; scheme: SignatureScheme } {
    const key = this.#require(objects, oid);
    const { algorithm } = this.#ownState(readKeyFacts(this.#pkcs11, session, key), oid);
    assertSignInput(algorithm, input);
    return { key, algorithm, scheme: signatureScheme(algorithm, this.#mechanisms, input, options) };
  }

  #require(key: KeyObjects | undefined, oid: ObjectIdentity): KeyObjects {
    if (key === undefined) throw new NotFoundError(`the token holds no key ${oid.label}`);
    return key;
  }

  /**
   * A version's objects for the first `use` after an enumeration as the enumeration read them, else read now (with
   * the public key's material for publicKey). See enumeration-snapshot.ts.
   */
  #firstRead(use: SnapshotUse, session: pkcs11js.Handle, id: Buffer, key: KeyObjects): KeyFacts {
    return (
      this.#index.takeSnapshot(id, key, use) ?? readKeyFacts(this.#pkcs11, session, key, use === 'publicKey')
    );
  }

  /** The state of a key version that is recognizably ours: an algorithm Keyward makes and our label. */
  #ownState(
    facts: KeyFacts,
    oid: ObjectIdentity,
    recoverable = false,
  ): KeyState & { readonly algorithm: Algorithm } {
    const state = keyState(facts, recoverable);
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

  #observed(
    state: KeyState & { readonly algorithm: Algorithm },
    key: KeyObjects,
    id: Buffer,
    version: number,
  ): ObservedVersion {
    const keyRef = pkcs11Uri({
      token: this.#token.info.tokenLabel,
      serial: this.#token.info.serial,
      object: state.label,
      id: state.id,
      type: key.primary.cls,
    });
    return {
      version,
      versionId: id.toString('hex'),
      target: this.target.id,
      state: state.usages.length > 0 ? 'Enabled' : 'Disabled',
      algorithm: state.algorithm,
      usages: state.usages,
      keyRef,
      label: state.label,
    };
  }

  /** The SPKI of a version read with its public key's material. */
  #spki(facts: KeyFacts, algorithm: Algorithm, oid: ObjectIdentity): Buffer {
    const parameters = KEY_PARAMETERS[algorithm];
    if (parameters.kind === 'secret') {
      throw new UnsupportedError(`${oid.label} is a secret key without a public key`);
    }
    if (facts.public === undefined)
      throw new NotFoundError(`the public key object of ${oid.label} is missing`);
    return spkiFromAttributes(parameters, materialAttributes(facts.public));
  }

  /**
   * The public key of an asymmetric version once its halves are proved one key pair made inside this token, or why
   * they are not. Secret keys have neither.
   */
  async #provePair(
    session: pkcs11js.Handle,
    key: KeyObjects,
    facts: KeyFacts,
    state: KeyState & { readonly algorithm: Algorithm },
    oid: ObjectIdentity,
  ): Promise<{ publicKey?: PublicKeyInfo; problem?: string }> {
    if (!isAsymmetric(state.algorithm)) return {};
    const spki = this.#spki(facts, state.algorithm, oid);
    const problem = await pairProblem({
      pkcs11: this.#pkcs11,
      session,
      privateKey: key.primary.handle,
      algorithm: state.algorithm,
      usages: state.usages,
      spki,
      mechanisms: this.#mechanisms,
    });
    return problem === undefined ? { publicKey: publicKeyInfo(spki) } : { problem };
  }

  async #adopt(
    session: pkcs11js.Handle,
    key: KeyObjects,
    oid: ObjectIdentity,
    id: Buffer,
    spec: KeySpec,
  ): Promise<Omit<CreateResult, 'outcome'>> {
    const facts = readKeyFacts(this.#pkcs11, session, key, true);
    const state = this.#ownState(facts, oid, spec.recoverable);
    if (state.algorithm !== spec.algorithm) {
      throw new AlreadyExistsError(`${oid.label} exists as ${state.algorithm}, not ${spec.algorithm}`);
    }
    const problems = [...state.problems];
    const { publicKey, problem } = await this.#provePair(session, key, facts, state, oid);
    if (problem !== undefined) problems.push(problem);
    if (problems.length > 0) {
      throw new PolicyViolationError(`${oid.label} exists but cannot be adopted: ${problems.join('; ')}`);
    }
    return { version: this.#observed(state, key, id, oid.version), ...(publicKey ? { publicKey } : {}) };
  }

  /** Reads a new key back; one the token did not make as asked is destroyed and reported, never used. */
  async #verifyGenerated(
    session: pkcs11js.Handle,
    key: KeyObjects,
    oid: ObjectIdentity,
    id: Buffer,
    spec: KeySpec,
  ): Promise<Omit<CreateResult, 'outcome'>> {
    const facts = readKeyFacts(this.#pkcs11, session, key, true);
    const state = keyState(facts, spec.recoverable);
    const problems = generationProblems(state, oid, id, spec);
    const { algorithm } = state;
    let publicKey: PublicKeyInfo | undefined;
    if (problems.length === 0 && algorithm !== undefined) {
      const proof = await this.#provePair(session, key, facts, { ...state, algorithm }, oid);
      if (proof.problem !== undefined) problems.push(proof.problem);
      publicKey = proof.publicKey;
    }
    if (problems.length > 0 || algorithm === undefined) {
      this.#destroyObjects(session, key);
      this.#index.put(id, []);
      throw new PolicyViolationError(
        `the token did not generate ${oid.label} as requested: ${problems.join('; ')}`,
      );
    }
    return {
      version: this.#observed({ ...state, algorithm }, key, id, oid.version),
      ...(publicKey ? { publicKey } : {}),
    };
  }

  #destroyObjects(session: pkcs11js.Handle, key: KeyObjects): void {
    for (const object of [key.primary, key.public]) {
      if (object !== undefined) this.#pkcs11.C_DestroyObject(session, object.handle);
    }
  }
}

/** The token's identity: what keys recorded on it are compared with (a re-initialised token gets a new serial). */
function tokenTarget(info: BackendInfo): BackendTarget {
  return {
    id: `pkcs11:manufacturer=${info.manufacturer};model=${info.model};serial=${info.serial}`,
    description: `token "${info.tokenLabel}" (serial ${info.serial})`,
  };
}
