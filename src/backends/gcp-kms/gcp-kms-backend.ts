// KeyBackend over a Google Cloud KMS key ring (Cloud HSM or software keys) through @google-cloud/kms (gRPC). One
// CryptoKey per ManagedKey, Keyward version N = CryptoKeyVersion N (see names.ts); every payload is checked with
// CRC32C both ways. How each method maps onto Cloud KMS is in docs/backends.md.

import { KeyedLock } from '../keyed-lock.ts';
import { type KeyObject, constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import type { KeyManagementServiceClient } from '@google-cloud/kms';
import type { GcpKmsBackend as GcpKmsSpec } from '../../api/v1alpha1/keybackend.ts';
import { parseDuration } from '../../runtime/duration.ts';
import { Backoff, sleep } from '../../runtime/backoff.ts';
import { type Algorithm, type KeyUsage, isAsymmetric } from '../algorithms.ts';
import type {
  BackendCapabilities,
  BackendHealth,
  BackendTarget,
  CallOptions,
  CreateResult,
  DestroyRequest,
  DestroyResult,
  KeyBackend,
  KeySpec,
  ObservedVersion,
  SignInput,
  SignOptions,
} from '../backend.ts';
import { assertKeySpec, assertSignInput, assertUsagesAllowed } from '../checks.ts';
import {
  AlreadyExistsError,
  NotFoundError,
  PolicyViolationError,
  RetryableError,
  UnsupportedError,
} from '../errors.ts';
import { type KeyIdentity, assertValidIdentity, identityLabel } from '../identity.ts';
import { type PublicKeyInfo, publicKeyInfo } from '../public-key.ts';
import { type GcpProtectionLevel, type KeyTemplate, keyTemplate, offeredAlgorithms } from './algorithms.ts';
import { type CallPolicy, Caller, type GaxCallOptions } from './calls.ts';
import { crc32cMatches, crc32cValue } from './crc32c.ts';
import {
  type KeyRingPath,
  cryptoKeyId,
  cryptoKeyLabels,
  cryptoKeyName,
  keyRingName,
  labelsBelongTo,
  locationName,
  versionName,
  versionNumber,
} from './names.ts';
import { assertRsaPadding, formatSignature, signPayload, verifyWithPublicKey } from './signatures.ts';
import {
  type CryptoKey,
  type CryptoKeyVersion,
  algorithmOfKey,
  gcpState,
  observedVersion,
} from './versions.ts';

export interface GcpKmsOptions {
  readonly callPolicy?: CallPolicy;
  /** How long create waits for a PENDING_GENERATION version before it returns it as PendingGeneration. */
  readonly pendingGenerationWaitMs?: number;
  /** First and longest pause between looks at a PENDING_GENERATION version. */
  readonly pendingPollMs?: readonly [number, number];
}

/** Rounds of look-then-create in one create call; each round after a transient failure looks again first. */
const CREATE_ROUNDS = 3;

export class GcpKmsBackend implements KeyBackend {
  readonly type = 'gcpKMS';
  readonly target: BackendTarget;
  readonly #client: KeyManagementServiceClient;
  readonly #caller: Caller;
  readonly #path: KeyRingPath;
  readonly #ring: string;
  readonly #protectionLevel: GcpProtectionLevel;
  readonly #destroyAfterSeconds: number;
  readonly #pendingWaitMs: number;
  readonly #pendingPollMs: readonly [number, number];
  /** CryptoKeys by ManagedKey uid. Purpose, template and labels never change; the primary changes only here. */
  readonly #keys = new Map<string, CryptoKey>();
  readonly #publicKeys = new Map<string, KeyObject>();
  /** One create, setUsages or destroy at a time per ManagedKey, so two rounds never both see N - 1 as newest. */
  readonly #locks = new KeyedLock();

  private constructor(client: KeyManagementServiceClient, spec: GcpKmsSpec, options: GcpKmsOptions) {
    this.#client = client;
    this.#caller = new Caller(options.callPolicy);
    this.#path = { project: spec.project, location: spec.location, keyRing: spec.keyRing };
    this.#ring = keyRingName(this.#path);
    this.#protectionLevel = spec.protectionLevel;
    this.#destroyAfterSeconds = parseDuration(spec.destroyScheduledDuration) / 1000;
    this.#pendingWaitMs = options.pendingGenerationWaitMs ?? 60_000;
    this.#pendingPollMs = options.pendingPollMs ?? [200, 2_000];
    this.target = {
      id: this.#ring,
      description: `Cloud KMS key ring ${this.#ring} (${spec.protectionLevel})`,
    };
  }

  /** Opens the key ring, making it when it is missing. */
  static async connect(
    client: KeyManagementServiceClient,
    spec: GcpKmsSpec,
    options: GcpKmsOptions = {},
    call: CallOptions = {},
  ): Promise<GcpKmsBackend> {
    const backend = new GcpKmsBackend(client, spec, options);
    try {
      await backend.#ensureKeyRing(call);
      return backend;
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  async #ensureKeyRing(call: CallOptions): Promise<void> {
    const found = await this.#find(() =>
      this.#caller.call('get the key ring', (o) => this.#client.getKeyRing({ name: this.#ring }, o), call),
    );
    if (found) return;
    await this.#find(() =>
      this.#caller.call(
        'create the key ring',
        (o) =>
          this.#client.createKeyRing(
            { parent: locationName(this.#path), keyRingId: this.#path.keyRing, keyRing: {} },
            o,
          ),
        call,
      ),
    ).catch((error: unknown) => {
      if (!(error instanceof AlreadyExistsError)) throw error;
    });
  }

  capabilities(): BackendCapabilities {
    return {
      algorithms: offeredAlgorithms(this.#protectionLevel),
      nativeRotation: [],
      versions: true,
      archival: 'reference',
      minDestroyDelaySeconds: this.#destroyAfterSeconds,
      maxDestroyDelaySeconds: this.#destroyAfterSeconds,
      restorable: true,
      lookupBy: 'labels',
      recoveryWrap: false,
    };
  }

  async health(options: CallOptions = {}): Promise<BackendHealth> {
    await this.#caller.call(
      'get the key ring',
      (o) => this.#client.getKeyRing({ name: this.#ring }, o),
      options,
    );
    return {
      info: {
        manufacturer: 'Google',
        model: this.#protectionLevel === 'HSM' ? 'Cloud HSM' : `Cloud KMS (${this.#protectionLevel})`,
        serial: this.#ring,
        tokenLabel: this.#path.keyRing,
        // Cloud HSM is FIPS 140-2 level 3; software keys level 1; EXTERNAL keys are the external manager's.
        ...(this.#protectionLevel === 'EXTERNAL'
          ? {}
          : { validatedFipsLevel: this.#protectionLevel === 'HSM' ? 3 : 1 }),
      },
      warnings:
        this.#protectionLevel === 'EXTERNAL'
          ? [
              'EXTERNAL (Cloud EKM) keys are linked to keys made in the external key manager; Keyward makes none',
            ]
          : [],
    };
  }

  async observe(identity: KeyIdentity, options: CallOptions = {}): Promise<ObservedVersion | undefined> {
    assertValidIdentity(identity);
    const key = await this.#cryptoKey(identity, options);
    if (!key) return undefined;
    const version = await this.#version(identity, options);
    return version && observedVersion(this.#ring, identity, key, version);
  }

  async versions(identity: KeyIdentity, options: CallOptions = {}): Promise<ObservedVersion[]> {
    assertValidIdentity(identity);
    const key = await this.#cryptoKey(identity, options);
    if (!key) return [];
    const versions = await this.#listVersions(identity, options);
    return versions
      .sort((a, b) => versionNumber(String(b.name)) - versionNumber(String(a.name)))
      .map((version) => observedVersion(this.#ring, identity, key, version));
  }

  async create(identity: KeyIdentity, spec: KeySpec, options: CallOptions = {}): Promise<CreateResult> {
    assertValidIdentity(identity);
    assertKeySpec(
      spec,
      this.capabilities(),
      `Cloud KMS key ring ${this.#path.keyRing} (${this.#protectionLevel})`,
    );
    const template = keyTemplate(spec);
    return this.#locks.run(identity.uid, () => this.#create(identity, spec, template, options));
  }

  /**
   * Look before you create: the CryptoKey and the versions it has decide whether this version is adopted, made, or
   * cannot be made as CryptoKeyVersion N. A create call that failed transiently may still have happened, so the next
   * round looks again instead of repeating it.
   */
  async #create(
    identity: KeyIdentity,
    spec: KeySpec,
    template: KeyTemplate,
    options: CallOptions,
  ): Promise<CreateResult> {
    let made = false;
    let lastFailure: unknown;
    for (let round = 0; round < CREATE_ROUNDS; round++) {
      this.#keys.delete(identity.uid);
      const key = await this.#cryptoKey(identity, options);
      try {
        if (!key) {
          if (identity.version !== 1) {
            throw new NotFoundError(
              `CryptoKey ${cryptoKeyName(this.#ring, identity)} does not exist, so version ${identity.version} cannot be made as CryptoKeyVersion ${identity.version}`,
            );
          }
          await this.#createCryptoKey(identity, spec, template, options);
          made = true;
          continue;
        }
        this.#assertTemplate(key, template);
        const versions = await this.#listVersions(identity, options);
        const existing = versions.find((v) => versionNumber(String(v.name)) === identity.version);
        if (existing) return await this.#finish(identity, existing, made ? 'created' : 'adopted', options);
        const newest = Math.max(0, ...versions.map((v) => versionNumber(String(v.name))));
        if (newest !== identity.version - 1) {
          throw new AlreadyExistsError(
            `CryptoKey ${String(key.name)} has ${newest} versions, so a new one would be CryptoKeyVersion ${newest + 1}, not ${identity.version}`,
          );
        }
        const version = await this.#createVersion(identity, options);
        made = true;
        if (versionNumber(String(version.name)) !== identity.version) {
          throw new AlreadyExistsError(
            `Cloud KMS made ${String(version.name)} for version ${identity.version}: someone else made a version of this key`,
          );
        }
        return await this.#finish(identity, version, 'created', options);
      } catch (error) {
        if (!(error instanceof RetryableError) || options.signal?.aborted) throw error;
        lastFailure = error;
      }
    }
    throw lastFailure instanceof Error ? lastFailure : new RetryableError('create: no attempt was made');
  }

  async #createCryptoKey(identity: KeyIdentity, spec: KeySpec, template: KeyTemplate, options: CallOptions) {
    try {
      await this.#caller.call(
        'create the CryptoKey',
        (o) =>
          this.#client.createCryptoKey(
            {
              parent: this.#ring,
              cryptoKeyId: cryptoKeyId(identity),
              cryptoKey: {
                purpose: template.purpose,
                versionTemplate: { algorithm: template.algorithm, protectionLevel: this.#protectionLevel },
                labels: cryptoKeyLabels(identity, spec.usages),
                destroyScheduledDuration: { seconds: this.#destroyAfterSeconds },
                importOnly: false,
              },
            },
            o,
          ),
        options,
      );
    } catch (error) {
      // A retry of a create whose response was lost; the next round adopts what it made.
      if (!(error instanceof AlreadyExistsError)) throw error;
    }
  }

  /** Never retried here: a lost response may hide a version that was made, and only listing can tell. */
  async #createVersion(identity: KeyIdentity, options: CallOptions): Promise<CryptoKeyVersion> {
    const [version] = await this.#caller.call(
      'create the CryptoKeyVersion',
      (o) =>
        this.#client.createCryptoKeyVersion(
          { parent: cryptoKeyName(this.#ring, identity), cryptoKeyVersion: {} },
          o,
        ),
      options,
      false,
    );
    return version;
  }

  #assertTemplate(key: CryptoKey, template: KeyTemplate): void {
    const algorithm = String(key.versionTemplate?.algorithm);
    if (key.purpose !== template.purpose || algorithm !== template.algorithm) {
      throw new AlreadyExistsError(
        `CryptoKey ${String(key.name)} is ${String(key.purpose)} ${algorithm}, not ${template.purpose} ${template.algorithm}`,
      );
    }
    if (key.versionTemplate?.protectionLevel !== this.#protectionLevel) {
      throw new PolicyViolationError(
        `CryptoKey ${String(key.name)} makes ${String(key.versionTemplate?.protectionLevel)} versions, not ${this.#protectionLevel}`,
      );
    }
  }

  /** Waits out PENDING_GENERATION, proves the version, makes a symmetric one primary. */
  async #finish(
    identity: KeyIdentity,
    initial: CryptoKeyVersion,
    outcome: CreateResult['outcome'],
    options: CallOptions,
  ): Promise<CreateResult> {
    const version = await this.#waitForGeneration(identity, initial, options);
    let key = await this.#requireKey(identity, options);
    if (gcpState(version) === 'ENABLED') {
      await this.#prove(identity, key, version, options);
      if (key.purpose === 'ENCRYPT_DECRYPT' && key.primary?.name !== version.name) {
        key = await this.#makePrimary(identity, options);
      }
    }
    return { outcome, version: observedVersion(this.#ring, identity, key, version) };
  }

  /**
   * Cloud HSM versions answer PENDING_GENERATION for a while. Polls with a growing pause, without treating the
   * state as an error; returns the version still pending once the wait is over (a later create finishes it).
   */
  async #waitForGeneration(
    identity: KeyIdentity,
    version: CryptoKeyVersion,
    options: CallOptions,
  ): Promise<CryptoKeyVersion> {
    const deadline = Date.now() + this.#pendingWaitMs;
    const [initialMs, maxMs] = this.#pendingPollMs;
    const backoff = new Backoff({ initialMs, maxMs, factor: 1.5, jitter: 0.2 });
    let current = version;
    while (gcpState(current) === 'PENDING_GENERATION' && Date.now() < deadline) {
      await sleep(Math.min(backoff.next(), Math.max(0, deadline - Date.now())), options.signal);
      if (options.signal?.aborted)
        throw new RetryableError('create: cancelled while the version was being generated');
      current = (await this.#version(identity, options)) ?? current;
    }
    if (gcpState(current) === 'GENERATION_FAILED') {
      throw new PolicyViolationError(
        `Cloud KMS could not generate ${String(current.name)}: ${current.generationFailureReason ?? 'no reason given'}`,
      );
    }
    return current;
  }

  /**
   * Generated inside Cloud KMS at the configured protection level (never imported), and the key works: a fresh
   * challenge is signed and verified with the public key, decrypted after encrypting it with the public key,
   * encrypted and decrypted, or MACed and verified.
   */
  async #prove(identity: KeyIdentity, key: CryptoKey, version: CryptoKeyVersion, options: CallOptions) {
    const name = String(version.name);
    if (version.protectionLevel !== this.#protectionLevel) {
      throw new PolicyViolationError(
        `${name} is ${String(version.protectionLevel)}, not ${this.#protectionLevel}`,
      );
    }
    if (key.importOnly === true || (version.importJob ?? '') !== '') {
      throw new PolicyViolationError(
        `${name} was imported; Keyward only uses keys generated inside Cloud KMS`,
      );
    }
    const challenge = randomBytes(32);
    const algorithm = algorithmOfKey(key);
    let proven: boolean;
    switch (key.purpose) {
      case 'ASYMMETRIC_SIGN': {
        const signature = await this.#asymmetricSign(name, algorithm, { message: challenge }, {}, options);
        const publicKey = await this.#publicKeyObject(name, options);
        proven = verifyWithPublicKey(algorithm, publicKey, { message: challenge }, signature, {});
        break;
      }
      case 'ASYMMETRIC_DECRYPT': {
        const publicKey = await this.#publicKeyObject(name, options);
        const ciphertext = publicEncrypt(
          { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
          challenge,
        );
        proven = (await this.#asymmetricDecrypt(name, ciphertext, options)).equals(challenge);
        break;
      }
      case 'ENCRYPT_DECRYPT': {
        const ciphertext = await this.#encrypt(name, challenge, options);
        proven = (await this.#decrypt(cryptoKeyName(this.#ring, identity), ciphertext, options)).equals(
          challenge,
        );
        break;
      }
      default: {
        const mac = await this.#macSign(name, challenge, options);
        proven = await this.#macVerify(name, challenge, mac, options);
      }
    }
    if (!proven) throw new PolicyViolationError(`${name} failed its proof of possession after generation`);
  }

  async publicKey(identity: KeyIdentity, options: CallOptions = {}): Promise<PublicKeyInfo> {
    assertValidIdentity(identity);
    const key = await this.#requireKey(identity, options);
    const algorithm = algorithmOfKey(key);
    if (!isAsymmetric(algorithm)) throw new UnsupportedError(`${algorithm} keys have no public key`);
    const publicKey = await this.#publicKeyObject(versionName(this.#ring, identity), options);
    return publicKeyInfo(publicKey.export({ format: 'der', type: 'spki' }));
  }

  async sign(
    identity: KeyIdentity,
    input: SignInput,
    options: SignOptions & CallOptions = {},
  ): Promise<Buffer> {
    assertValidIdentity(identity);
    const key = await this.#requireKey(identity, options);
    const algorithm = algorithmOfKey(key);
    assertSignInput(algorithm, input);
    const name = versionName(this.#ring, identity);
    if (key.purpose === 'MAC') return this.#macSign(name, macData(input), options);
    this.#assertSigningKey(key, algorithm);
    return this.#asymmetricSign(name, algorithm, input, options, options);
  }

  async verify(
    identity: KeyIdentity,
    input: SignInput,
    signature: Buffer,
    options: SignOptions & CallOptions = {},
  ): Promise<boolean> {
    assertValidIdentity(identity);
    const key = await this.#requireKey(identity, options);
    const algorithm = algorithmOfKey(key);
    assertSignInput(algorithm, input);
    const name = versionName(this.#ring, identity);
    if (key.purpose === 'MAC') return this.#macVerify(name, macData(input), signature, options);
    this.#assertSigningKey(key, algorithm);
    assertRsaPadding(algorithm, options);
    // Cloud KMS has no asymmetric verify; an unusable version must not pass because the public key still works.
    const version = await this.#version(identity, options);
    if (!version || gcpState(version) !== 'ENABLED') {
      throw new NotFoundError(`${name} is ${version ? gcpState(version) : 'absent'}; it verifies nothing`);
    }
    const publicKey = await this.#publicKeyObject(name, options);
    return verifyWithPublicKey(algorithm, publicKey, input, signature, options);
  }

  #assertSigningKey(key: CryptoKey, algorithm: Algorithm): void {
    if (key.purpose !== 'ASYMMETRIC_SIGN') {
      throw new UnsupportedError(
        `this ${algorithm} key was made to decrypt (${String(key.purpose)}); it does not sign`,
      );
    }
  }

  /**
   * An empty list disables the version. Usages enable it, restoring it first if it is DESTROY_SCHEDULED (Cloud
   * KMS restores to DISABLED). Symmetric keys: a version whose usages include encrypt or wrap becomes primary; one
   * without them stops being primary (the newest other enabled version takes over). Asymmetric versions cannot be
   * restricted in Cloud KMS: archival leaves them enabled (capabilities().archival is `reference`).
   */
  async setUsages(
    identity: KeyIdentity,
    usages: readonly KeyUsage[],
    options: CallOptions = {},
  ): Promise<void> {
    assertValidIdentity(identity);
    return this.#locks.run(identity.uid, async () => {
      const key = await this.#requireKey(identity, options);
      assertUsagesAllowed(algorithmOfKey(key), usages);
      const name = versionName(this.#ring, identity);
      let version = await this.#version(identity, options);
      if (!version) throw new NotFoundError(`${name} does not exist`);
      if (usages.length === 0) {
        if (gcpState(version) !== 'DISABLED') await this.#setState(name, 'DISABLED', options);
        return;
      }
      if (gcpState(version) === 'DESTROY_SCHEDULED') {
        [version] = await this.#caller.call(
          'restore the CryptoKeyVersion',
          (o) => this.#client.restoreCryptoKeyVersion({ name }, o),
          options,
        );
      }
      if (gcpState(version) === 'DISABLED') await this.#setState(name, 'ENABLED', options);
      else if (gcpState(version) !== 'ENABLED') {
        throw new NotFoundError(`${name} is ${gcpState(version)} and cannot be enabled`);
      }
      if (key.purpose !== 'ENCRYPT_DECRYPT') return;
      const current = usages.includes('encrypt') || usages.includes('wrap');
      if (current && key.primary?.name !== name) await this.#makePrimary(identity, options);
      if (!current && key.primary?.name === name) await this.#handOverPrimary(identity, options);
    });
  }

  async #setState(name: string, state: 'ENABLED' | 'DISABLED', options: CallOptions): Promise<void> {
    const [updated] = await this.#caller.call(
      `set the CryptoKeyVersion ${state}`,
      (o) =>
        this.#client.updateCryptoKeyVersion(
          { cryptoKeyVersion: { name, state }, updateMask: { paths: ['state'] } },
          o,
        ),
      options,
    );
    if (updated.state !== state)
      throw new RetryableError(`${name} is ${String(updated.state)} after setting it ${state}`);
  }

  async #makePrimary(
    identity: KeyIdentity,
    options: CallOptions,
    version = identity.version,
  ): Promise<CryptoKey> {
    const [key] = await this.#caller.call(
      'make the CryptoKeyVersion primary',
      (o) =>
        this.#client.updateCryptoKeyPrimaryVersion(
          { name: cryptoKeyName(this.#ring, identity), cryptoKeyVersionId: String(version) },
          o,
        ),
      options,
    );
    this.#keys.set(identity.uid, key);
    return key;
  }

  /** Moves the primary to the newest other enabled version; with none, the version stays primary. */
  async #handOverPrimary(identity: KeyIdentity, options: CallOptions): Promise<void> {
    const versions = await this.#listVersions(identity, options);
    const successor = versions
      .filter((v) => gcpState(v) === 'ENABLED' && versionNumber(String(v.name)) !== identity.version)
      .map((v) => versionNumber(String(v.name)))
      .sort((a, b) => b - a)[0];
    if (successor !== undefined) await this.#makePrimary(identity, options, successor);
  }

  /**
   * DestroyCryptoKeyVersion: Cloud KMS holds the version DESTROY_SCHEDULED, restorable, for the CryptoKey's
   * destroyScheduledDuration (fixed when the key was made), then destroys it; later calls answer with that time.
   */
  async destroy(identity: KeyIdentity, request: DestroyRequest): Promise<DestroyResult> {
    assertValidIdentity(identity);
    return this.#locks.run(identity.uid, async () => {
      const key = await this.#cryptoKey(identity, request);
      const version = key && (await this.#version(identity, request));
      if (!version) return { outcome: 'absent' };
      const state = gcpState(version);
      if (state === 'DESTROYED' || state === 'GENERATION_FAILED') return { outcome: 'destroyed' };
      if (state === 'DESTROY_SCHEDULED') return this.#destroyResult(identity, key, version);
      const windowSeconds = Number(key.destroyScheduledDuration?.seconds ?? this.#destroyAfterSeconds);
      if (request.delaySeconds > windowSeconds) {
        throw new UnsupportedError(
          `${String(key.name)} holds destroyed versions for ${windowSeconds}s (its destroyScheduledDuration, fixed when it was made), not ${request.delaySeconds}s`,
        );
      }
      const [scheduled] = await this.#caller.call(
        'destroy the CryptoKeyVersion',
        (o) => this.#client.destroyCryptoKeyVersion({ name: String(version.name) }, o),
        request,
      );
      return this.#destroyResult(identity, key, scheduled);
    });
  }

  #destroyResult(identity: KeyIdentity, key: CryptoKey, version: CryptoKeyVersion): DestroyResult {
    const observed = observedVersion(this.#ring, identity, key, version);
    if (observed.state === 'Destroyed') return { outcome: 'destroyed' };
    if (observed.destroyTime === undefined) {
      throw new RetryableError(`${String(version.name)} is ${gcpState(version)} without a destroy time`);
    }
    return { outcome: 'scheduled', destroyTime: observed.destroyTime };
  }

  refresh(): Promise<void> {
    this.#keys.clear();
    this.#publicKeys.clear();
    return Promise.resolve();
  }

  async close(): Promise<void> {
    await this.#client.close();
  }

  // --- lookups ---

  /** A missing resource as undefined; any other failure rejects. */
  async #find<T>(lookup: () => Promise<T>): Promise<T | undefined> {
    try {
      return await lookup();
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  /** The ManagedKey's CryptoKey, or undefined. One whose labels name another ManagedKey is never used. */
  async #cryptoKey(identity: KeyIdentity, options: CallOptions): Promise<CryptoKey | undefined> {
    const cached = this.#keys.get(identity.uid);
    if (cached) return cached;
    const name = cryptoKeyName(this.#ring, identity);
    const found = await this.#find(() =>
      this.#caller.call('get the CryptoKey', (o) => this.#client.getCryptoKey({ name }, o), options),
    );
    const key = found?.[0];
    if (!key) return undefined;
    if (!labelsBelongTo(key.labels ?? {}, identity)) {
      throw new AlreadyExistsError(
        `CryptoKey ${name} exists but its labels do not name ManagedKey ${identity.uid}`,
      );
    }
    this.#keys.set(identity.uid, key);
    return key;
  }

  async #requireKey(identity: KeyIdentity, options: CallOptions): Promise<CryptoKey> {
    const key = await this.#cryptoKey(identity, options);
    if (!key) throw new NotFoundError(`${identityLabel(identity)} has no CryptoKey in ${this.#ring}`);
    return key;
  }

  async #version(identity: KeyIdentity, options: CallOptions): Promise<CryptoKeyVersion | undefined> {
    const name = versionName(this.#ring, identity);
    const found = await this.#find(() =>
      this.#caller.call(
        'get the CryptoKeyVersion',
        (o) => this.#client.getCryptoKeyVersion({ name }, o),
        options,
      ),
    );
    return found?.[0];
  }

  async #listVersions(identity: KeyIdentity, options: CallOptions): Promise<CryptoKeyVersion[]> {
    const [versions] = await this.#caller.call(
      'list the CryptoKeyVersions',
      (o) =>
        this.#client.listCryptoKeyVersions({ parent: cryptoKeyName(this.#ring, identity), view: 'FULL' }, o),
      options,
    );
    return versions;
  }

  async #publicKeyObject(name: string, options: CallOptions): Promise<KeyObject> {
    const cached = this.#publicKeys.get(name);
    if (cached) return cached;
    const [response] = await this.#caller.call(
      'get the public key',
      async (o) => {
        const result = await this.#client.getPublicKey({ name }, o);
        const [publicKey] = result;
        if (
          publicKey.name !== name ||
          !crc32cMatches(Buffer.from(publicKey.pem ?? ''), publicKey.pemCrc32c)
        ) {
          throw integrityFailure('get the public key');
        }
        return result;
      },
      options,
    );
    const publicKey = createPublicKey(String(response.pem));
    this.#publicKeys.set(name, publicKey);
    return publicKey;
  }

  // --- cryptographic calls, each with CRC32C both ways ---

  async #asymmetricSign(
    name: string,
    algorithm: Algorithm,
    input: SignInput,
    signOptions: SignOptions,
    options: CallOptions,
  ): Promise<Buffer> {
    assertRsaPadding(algorithm, signOptions);
    const payload = signPayload(algorithm, input);
    const request =
      'data' in payload
        ? { name, data: payload.data, dataCrc32c: crc32cValue(payload.data) }
        : { name, digest: { [payload.hash]: payload.digest }, digestCrc32c: crc32cValue(payload.digest) };
    const der = await this.#caller.call(
      'sign',
      async (o: GaxCallOptions) => {
        const [response] = await this.#client.asymmetricSign(request, o);
        const signature = Buffer.from(response.signature ?? []);
        const verified = 'data' in payload ? response.verifiedDataCrc32c : response.verifiedDigestCrc32c;
        if (
          verified !== true ||
          response.name !== name ||
          !crc32cMatches(signature, response.signatureCrc32c)
        ) {
          throw integrityFailure('sign');
        }
        return signature;
      },
      options,
    );
    return formatSignature(algorithm, der, signOptions);
  }

  #macSign(name: string, data: Buffer, options: CallOptions): Promise<Buffer> {
    return this.#caller.call(
      'MAC',
      async (o) => {
        const [response] = await this.#client.macSign({ name, data, dataCrc32c: crc32cValue(data) }, o);
        const mac = Buffer.from(response.mac ?? []);
        if (
          response.verifiedDataCrc32c !== true ||
          response.name !== name ||
          !crc32cMatches(mac, response.macCrc32c)
        ) {
          throw integrityFailure('MAC');
        }
        return mac;
      },
      options,
    );
  }

  #macVerify(name: string, data: Buffer, mac: Buffer, options: CallOptions): Promise<boolean> {
    return this.#caller.call(
      'verify the MAC',
      async (o) => {
        const [response] = await this.#client.macVerify(
          { name, data, dataCrc32c: crc32cValue(data), mac, macCrc32c: crc32cValue(mac) },
          o,
        );
        const success = response.success === true;
        if (
          response.verifiedDataCrc32c !== true ||
          response.verifiedMacCrc32c !== true ||
          response.name !== name ||
          response.verifiedSuccessIntegrity !== success
        ) {
          throw integrityFailure('verify the MAC');
        }
        return success;
      },
      options,
    );
  }

  #encrypt(name: string, plaintext: Buffer, options: CallOptions): Promise<Buffer> {
    return this.#caller.call(
      'encrypt',
      async (o) => {
        const [response] = await this.#client.encrypt(
          { name, plaintext, plaintextCrc32c: crc32cValue(plaintext) },
          o,
        );
        const ciphertext = Buffer.from(response.ciphertext ?? []);
        if (
          response.verifiedPlaintextCrc32c !== true ||
          !crc32cMatches(ciphertext, response.ciphertextCrc32c)
        ) {
          throw integrityFailure('encrypt');
        }
        return ciphertext;
      },
      options,
    );
  }

  #decrypt(name: string, ciphertext: Buffer, options: CallOptions): Promise<Buffer> {
    return this.#caller.call(
      'decrypt',
      async (o) => {
        const [response] = await this.#client.decrypt(
          { name, ciphertext, ciphertextCrc32c: crc32cValue(ciphertext) },
          o,
        );
        const plaintext = Buffer.from(response.plaintext ?? []);
        if (!crc32cMatches(plaintext, response.plaintextCrc32c)) throw integrityFailure('decrypt');
        return plaintext;
      },
      options,
    );
  }

  #asymmetricDecrypt(name: string, ciphertext: Buffer, options: CallOptions): Promise<Buffer> {
    return this.#caller.call(
      'decrypt',
      async (o) => {
        const [response] = await this.#client.asymmetricDecrypt(
          { name, ciphertext, ciphertextCrc32c: crc32cValue(ciphertext) },
          o,
        );
        const plaintext = Buffer.from(response.plaintext ?? []);
        if (
          response.verifiedCiphertextCrc32c !== true ||
          !crc32cMatches(plaintext, response.plaintextCrc32c)
        ) {
          throw integrityFailure('decrypt');
        }
        return plaintext;
      },
      options,
    );
  }
}

/** HMAC covers the message (the shared checks refuse a digest for it). */
function macData(input: SignInput): Buffer {
  if (!('message' in input)) throw new UnsupportedError('HMAC_SHA256 signs messages, not digests');
  return input.message;
}

/** A CRC32C that does not match: the payload was corrupted on the way, and Google's advice is to retry. */
function integrityFailure(operation: string): RetryableError {
  return new RetryableError(`${operation}: the CRC32C integrity check of the Cloud KMS response failed`);
}
