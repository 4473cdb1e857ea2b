// KeyBackend over AWS KMS: one KMS key per Keyward version, found by its version alias or its tags (key-index.ts),
// the ManagedKey's current version behind an alias. How each method maps onto the KMS API is in docs/backends.md.

import { KeyedLock } from '../keyed-lock.ts';
import { randomBytes, createPublicKey } from 'node:crypto';
import { KMS, type KeyMetadata } from '@aws-sdk/client-kms';
import { type KeyUsage, isAsymmetric } from '../algorithms.ts';
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
import { EC_FIELD_BYTES, derToRaw, rawToDer } from '../ecdsa.ts';
import {
  AlreadyExistsError,
  NotFoundError,
  PolicyViolationError,
  UnsupportedError,
  isBackendError,
} from '../errors.ts';
import { type KeyIdentity, assertValidIdentity, identityLabel } from '../identity.ts';
import { type PublicKeyInfo, publicKeyInfo } from '../public-key.ts';
import { type AwsClientConfig, awsCall } from '../aws/client-config.ts';
import { awsErrorCode } from '../aws/errors.ts';
import { KmsKeyIndex } from './key-index.ts';
import {
  CUSTOM_KEY_STORE_ALGORITHMS,
  KMS_ALGORITHMS,
  KMS_KEY_SPECS,
  type KmsAlgorithm,
  algorithmOfKeySpec,
  kmsKeyUsage,
  signingAlgorithm,
} from './key-specs.ts';
import {
  type TaggedIdentity,
  currentAlias,
  identityTags,
  isIdentity,
  keyDescription,
  versionAlias,
} from './naming.ts';
import { observedVersion } from './observed.ts';
import { assertGeneratedInside, challengeVerifies } from './proof.ts';
import { digestToSign, macMessage } from './signing.ts';

const DAY_SECONDS = 86_400;
/** ScheduleKeyDeletion's PendingWindowInDays bounds. */
const MIN_PENDING_DAYS = 7;
const MAX_PENDING_DAYS = 30;
/** EnableKeyRotation's RotationPeriodInDays bounds. */
const MIN_ROTATION_DAYS = 90;
const MAX_ROTATION_DAYS = 2560;

export interface AwsKmsOptions {
  readonly client: AwsClientConfig;
  readonly region: string;
  readonly customKeyStoreId?: string;
}

/** ScheduleKeyDeletion's window for a destroy delay: raised to KMS's 7 days; past its 30 days refused, never shortened. */
function pendingWindowDays(delaySeconds: number): number {
  const days = Math.max(MIN_PENDING_DAYS, Math.ceil(delaySeconds / DAY_SECONDS));
  if (days > MAX_PENDING_DAYS) {
    throw new UnsupportedError(
      `KMS deletes keys at most ${MAX_PENDING_DAYS} days after they are scheduled for deletion, not ${delaySeconds / DAY_SECONDS} days`,
    );
  }
  return days;
}

/** A version's key, read from KMS and proven to carry the version's identity. */
interface FoundKey {
  readonly metadata: KeyMetadata;
  readonly tagged: TaggedIdentity;
}

export class AwsKmsBackend implements KeyBackend {
  readonly type = 'awsKMS';
  readonly target: BackendTarget;
  readonly #client: KMS;
  /**
   * CreateKey is not idempotent: the SDK retrying one whose response was lost would make a second key. So it goes
   * through a client that never retries, and create() itself finds a key made by a lost attempt (key-index.ts).
   */
  readonly #createClient: KMS;
  readonly #index: KmsKeyIndex;
  readonly #customKeyStoreId: string | undefined;
  readonly #region: string;
  readonly #creating = new KeyedLock();
  /** Versions signed with before: their key id and algorithm, which never change. */
  readonly #usableKeys = new Map<string, { keyId: string; algorithm: KmsAlgorithm }>();

  private constructor(options: AwsKmsOptions) {
    this.#client = new KMS(options.client);
    this.#createClient = new KMS({ ...options.client, maxAttempts: 1 });
    this.#index = new KmsKeyIndex(this.#client);
    this.#customKeyStoreId = options.customKeyStoreId;
    this.#region = options.region;
    const store = options.customKeyStoreId === undefined ? '' : `/${options.customKeyStoreId}`;
    this.target = {
      id: `aws-kms:${options.region}${store}`,
      description: `AWS KMS in ${options.region}${store === '' ? '' : ` (custom key store ${options.customKeyStoreId})`}`,
    };
  }

  /** Connects and checks that the credentials can list keys (and that a custom key store is there). */
  static async open(options: AwsKmsOptions, callOptions?: CallOptions): Promise<AwsKmsBackend> {
    const backend = new AwsKmsBackend(options);
    try {
      await backend.health(callOptions);
      return backend;
    } catch (error) {
      await backend.close();
      throw error;
    }
  }

  capabilities(): BackendCapabilities {
    return {
      algorithms: this.#customKeyStoreId === undefined ? KMS_ALGORITHMS : CUSTOM_KEY_STORE_ALGORITHMS,
      nativeRotation: ['AES_256'],
      versions: false,
      archival: 'reference',
      minDestroyDelaySeconds: MIN_PENDING_DAYS * DAY_SECONDS,
      maxDestroyDelaySeconds: MAX_PENDING_DAYS * DAY_SECONDS,
      restorable: true,
      lookupBy: 'tags',
      recoveryWrap: false,
    };
  }

  async health(options?: CallOptions): Promise<BackendHealth> {
    const info = {
      manufacturer: 'Amazon Web Services',
      model: 'AWS KMS',
      serial: this.#region,
      tokenLabel: this.#customKeyStoreId ?? this.#region,
      // The HSMs of AWS KMS are FIPS 140-3 level 3 validated (a custom key store's CloudHSM cluster too).
      validatedFipsLevel: 3,
    };
    if (this.#customKeyStoreId === undefined) {
      await this.#call('ListKeys', options, (kms, abortSignal) =>
        kms.listKeys({ Limit: 1 }, { abortSignal }),
      );
      return { info, warnings: [] };
    }
    const stores = await this.#call('DescribeCustomKeyStores', options, (kms, abortSignal) =>
      kms.describeCustomKeyStores({ CustomKeyStoreId: this.#customKeyStoreId }, { abortSignal }),
    );
    const store = stores.CustomKeyStores?.[0];
    const state = store?.ConnectionState ?? 'UNKNOWN';
    const warnings =
      state === 'CONNECTED'
        ? []
        : [
            `custom key store ${this.#customKeyStoreId} is ${state}${store?.ConnectionErrorCode ? ` (${store.ConnectionErrorCode})` : ''}: its keys cannot be created or used until it is connected`,
          ];
    return {
      info: {
        ...info,
        state,
        ...(store?.CustomKeyStoreName ? { tokenLabel: store.CustomKeyStoreName } : {}),
      },
      warnings,
    };
  }

  async observe(identity: KeyIdentity, options?: CallOptions): Promise<ObservedVersion | undefined> {
    assertValidIdentity(identity);
    const found = await this.#find(identity, options);
    return found && this.#observed(found);
  }

  async versions(identity: KeyIdentity, options?: CallOptions): Promise<ObservedVersion[]> {
    assertValidIdentity(identity);
    await this.#index.scan(options);
    const observed: ObservedVersion[] = [];
    for (const { version, keyId } of this.#index.versionsOf(identity.uid)) {
      const found = await this.#verified(keyId, { ...identity, version }, options);
      if (found) observed.push(this.#observed(found));
    }
    return observed;
  }

  /** One create per version at a time in this process, so two racing creates make one key (the second adopts it). */
  async create(identity: KeyIdentity, spec: KeySpec, options?: CallOptions): Promise<CreateResult> {
    assertValidIdentity(identity);
    return this.#creating.run(`${identity.uid}/${String(identity.version)}`, () =>
      this.#create(identity, spec, options),
    );
  }

  async #create(identity: KeyIdentity, spec: KeySpec, options?: CallOptions): Promise<CreateResult> {
    const capabilities = this.capabilities();
    assertKeySpec(spec, capabilities, this.target.description);
    const algorithm = spec.algorithm as keyof typeof KMS_KEY_SPECS;
    const keyUsage = kmsKeyUsage(algorithm, spec.usages);
    const rotationDays = this.#rotationDays(spec);

    const existing = await this.#find(identity, options);
    if (existing) {
      const { metadata, tagged } = existing;
      if (metadata.KeySpec !== KMS_KEY_SPECS[algorithm] || metadata.KeyUsage !== keyUsage) {
        throw new AlreadyExistsError(
          `KMS key ${metadata.KeyId ?? ''} carries ${identityLabel(identity)} but is ${metadata.KeySpec ?? '?'} for ${metadata.KeyUsage ?? '?'}, not ${KMS_KEY_SPECS[algorithm]} for ${keyUsage}`,
        );
      }
      if (metadata.KeyState === 'PendingDeletion') {
        throw new AlreadyExistsError(
          `KMS key ${metadata.KeyId ?? ''} of ${identityLabel(identity)} is scheduled for deletion; it is not adopted`,
        );
      }
      await this.#finishCreate(identity, metadata, rotationDays, options);
      return {
        outcome: 'adopted',
        version: this.#observed({ metadata: await this.#describe(metadata.KeyId ?? '', options), tagged }),
      };
    }

    this.#index.markUncertain(identity);
    const created = await awsCall('KMS CreateKey', options, (abortSignal) =>
      this.#createClient.createKey(
        {
          KeySpec: KMS_KEY_SPECS[algorithm],
          KeyUsage: keyUsage,
          Description: keyDescription(identity),
          Tags: identityTags(identity, spec.usages),
          ...(this.#customKeyStoreId === undefined
            ? {}
            : { CustomKeyStoreId: this.#customKeyStoreId, Origin: 'AWS_CLOUDHSM' as const }),
        },
        { abortSignal },
      ),
    );
    const metadata = created.KeyMetadata;
    if (metadata?.KeyId === undefined) throw new NotFoundError('KMS CreateKey returned no key id');
    this.#index.remember(identity, metadata.KeyId);
    const tagged: TaggedIdentity = {
      uid: identity.uid,
      version: identity.version,
      managedKey: `${identity.namespace}/${identity.name}`,
      usages: spec.usages,
    };
    await this.#finishCreate(identity, metadata, rotationDays, options);
    return {
      outcome: 'created',
      version: this.#observed({ metadata: await this.#describe(metadata.KeyId, options), tagged }),
    };
  }

  async publicKey(identity: KeyIdentity, options?: CallOptions): Promise<PublicKeyInfo> {
    const { metadata } = await this.#require(identity, options);
    const algorithm = algorithmOfKeySpec(metadata.KeySpec);
    if (algorithm === undefined || !isAsymmetric(algorithm)) {
      throw new UnsupportedError(`${identityLabel(identity)} is a secret key and has no public key`);
    }
    return publicKeyInfo(await this.#publicKey(metadata.KeyId ?? '', options));
  }

  async sign(identity: KeyIdentity, input: SignInput, options?: SignOptions & CallOptions): Promise<Buffer> {
    const { keyId, algorithm } = await this.#usable(identity, options);
    assertSignInput(algorithm, input);
    return this.#sign(keyId, algorithm, input, options);
  }

  async #sign(
    keyId: string,
    algorithm: KmsAlgorithm,
    input: SignInput,
    options?: SignOptions & CallOptions,
  ): Promise<Buffer> {
    if (algorithm === 'HMAC_SHA256') {
      const mac = await this.#call('GenerateMac', options, (kms, abortSignal) =>
        kms.generateMac(
          { KeyId: keyId, MacAlgorithm: 'HMAC_SHA_256', Message: macMessage(input) },
          { abortSignal },
        ),
      );
      return Buffer.from(mac.Mac ?? []);
    }
    const signed = await this.#call('Sign', options, (kms, abortSignal) =>
      kms.sign(
        {
          KeyId: keyId,
          Message: digestToSign(algorithm, input),
          MessageType: 'DIGEST',
          SigningAlgorithm: signingAlgorithm(algorithm, options?.rsaPadding),
        },
        { abortSignal },
      ),
    );
    const signature = Buffer.from(signed.Signature ?? []);
    return options?.ecdsaFormat === 'raw' && algorithm in EC_FIELD_BYTES
      ? derToRaw(signature, EC_FIELD_BYTES[algorithm as keyof typeof EC_FIELD_BYTES])
      : signature;
  }

  async verify(
    identity: KeyIdentity,
    input: SignInput,
    signature: Buffer,
    options?: SignOptions & CallOptions,
  ): Promise<boolean> {
    const { keyId, algorithm } = await this.#usable(identity, options);
    assertSignInput(algorithm, input);
    try {
      if (algorithm === 'HMAC_SHA256') {
        const result = await this.#call('VerifyMac', options, (kms, abortSignal) =>
          kms.verifyMac(
            { KeyId: keyId, MacAlgorithm: 'HMAC_SHA_256', Message: macMessage(input), Mac: signature },
            { abortSignal },
          ),
        );
        return result.MacValid === true;
      }
      const der =
        options?.ecdsaFormat === 'raw' && algorithm in EC_FIELD_BYTES ? rawToDer(signature) : signature;
      const result = await this.#call('Verify', options, (kms, abortSignal) =>
        kms.verify(
          {
            KeyId: keyId,
            Message: digestToSign(algorithm, input),
            MessageType: 'DIGEST',
            Signature: der,
            SigningAlgorithm: signingAlgorithm(algorithm, options?.rsaPadding),
          },
          { abortSignal },
        ),
      );
      return result.SignatureValid === true;
    } catch (error) {
      // KMS answers a signature that does not match with an exception rather than SignatureValid: false.
      const cause = isBackendError(error) ? error.cause : error;
      const code = awsErrorCode(cause);
      if (code === 'KMSInvalidSignatureException' || code === 'KMSInvalidMacException') return false;
      throw error;
    }
  }

  async setUsages(identity: KeyIdentity, usages: readonly KeyUsage[], options?: CallOptions): Promise<void> {
    const { metadata, tagged } = await this.#require(identity, options);
    const algorithm = algorithmOfKeySpec(metadata.KeySpec);
    if (algorithm === undefined)
      throw new AlreadyExistsError(`KMS key ${metadata.KeyId ?? ''} is not a Keyward key`);
    assertUsagesAllowed(algorithm, usages);
    const beyond = usages.filter((usage) => !tagged.usages.includes(usage));
    if (beyond.length > 0) {
      throw new UnsupportedError(
        `a KMS key's usage is fixed when it is made: ${identityLabel(identity)} was made for ${tagged.usages.join(', ')}, not ${beyond.join(', ')}`,
      );
    }
    const keyId = metadata.KeyId ?? '';
    if (usages.length === 0) {
      if (metadata.KeyState === 'Enabled')
        await this.#call('DisableKey', options, (kms, abortSignal) =>
          kms.disableKey({ KeyId: keyId }, { abortSignal }),
        );
      return;
    }
    // Enabling a version scheduled for destruction restores it first (CancelKeyDeletion leaves it Disabled).
    if (metadata.KeyState === 'PendingDeletion') {
      await this.#call('CancelKeyDeletion', options, (kms, abortSignal) =>
        kms.cancelKeyDeletion({ KeyId: keyId }, { abortSignal }),
      );
    }
    if (metadata.KeyState !== 'Enabled')
      await this.#call('EnableKey', options, (kms, abortSignal) =>
        kms.enableKey({ KeyId: keyId }, { abortSignal }),
      );
  }

  async destroy(identity: KeyIdentity, request: DestroyRequest): Promise<DestroyResult> {
    assertValidIdentity(identity);
    // KMS deletes the key itself when the window ends: afterwards it is absent.
    const found = await this.#find(identity, request);
    if (!found) return { outcome: 'absent' };
    const { metadata } = found;
    if (metadata.KeyState === 'PendingDeletion' && metadata.DeletionDate) {
      return { outcome: 'scheduled', destroyTime: metadata.DeletionDate.getTime() };
    }
    const days = pendingWindowDays(request.delaySeconds);
    const scheduled = await this.#call('ScheduleKeyDeletion', request, (kms, abortSignal) =>
      kms.scheduleKeyDeletion({ KeyId: metadata.KeyId, PendingWindowInDays: days }, { abortSignal }),
    );
    const destroyTime = scheduled.DeletionDate?.getTime() ?? Date.now() + days * DAY_SECONDS * 1000;
    return { outcome: 'scheduled', destroyTime };
  }

  async refresh(): Promise<void> {
    this.#index.clear();
    this.#usableKeys.clear();
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.#client.destroy();
    this.#createClient.destroy();
    return Promise.resolve();
  }

  /**
   * The version's key: from the index (or the key id status recorded), else behind its version alias, else (when the index may not have seen it) after
   * a scan of the account's keys. Every candidate is described and its tags checked.
   */
  async #find(identity: KeyIdentity, options?: CallOptions): Promise<FoundKey | undefined> {
    const indexed = this.#index.lookup(identity) ?? identity.versionId;
    const fromIndex = indexed === undefined ? undefined : await this.#verified(indexed, identity, options);
    if (fromIndex) return fromIndex;
    const behindAlias = await this.#describeIfExists(versionAlias(identity), options);
    const fromAlias =
      behindAlias?.KeyId === undefined
        ? undefined
        : await this.#verified(behindAlias.KeyId, identity, options);
    if (fromAlias || !this.#index.mayBeMissing(identity)) return fromAlias;
    await this.#index.scan(options);
    const scanned = this.#index.lookup(identity);
    return scanned === undefined ? undefined : this.#verified(scanned, identity, options);
  }

  async #require(identity: KeyIdentity, options?: CallOptions): Promise<FoundKey> {
    assertValidIdentity(identity);
    const found = await this.#find(identity, options);
    if (!found)
      throw new NotFoundError(`no KMS key in ${this.target.description} carries ${identityLabel(identity)}`);
    return found;
  }

  /** The key id and algorithm to sign with; one lookup per version, then none (a key's spec never changes). */
  async #usable(
    identity: KeyIdentity,
    options?: CallOptions,
  ): Promise<{ keyId: string; algorithm: KmsAlgorithm }> {
    const cached = this.#usableKeys.get(identityLabel(identity) + identity.uid);
    if (cached) return cached;
    const { metadata } = await this.#require(identity, options);
    const algorithm = algorithmOfKeySpec(metadata.KeySpec);
    if (algorithm === undefined || metadata.KeyId === undefined) {
      throw new AlreadyExistsError(`KMS key ${metadata.KeyId ?? ''} is not a key Keyward makes`);
    }
    const usable = { keyId: metadata.KeyId, algorithm };
    this.#usableKeys.set(identityLabel(identity) + identity.uid, usable);
    return usable;
  }

  /** The key with its metadata and tags when its tags say it is this version; undefined when it is gone or not. */
  async #verified(
    keyId: string,
    identity: KeyIdentity,
    options?: CallOptions,
  ): Promise<FoundKey | undefined> {
    const metadata = await this.#describeIfExists(keyId, options);
    if (metadata?.KeyId === undefined) return undefined;
    const tagged = await this.#index.identityOf(metadata.KeyId, options);
    return tagged && isIdentity(tagged, identity) ? { metadata, tagged } : undefined;
  }

  async #describe(keyId: string, options?: CallOptions): Promise<KeyMetadata> {
    const described = await this.#call('DescribeKey', options, (kms, abortSignal) =>
      kms.describeKey({ KeyId: keyId }, { abortSignal }),
    );
    if (!described.KeyMetadata) throw new NotFoundError(`KMS DescribeKey returned nothing for ${keyId}`);
    return described.KeyMetadata;
  }

  async #describeIfExists(keyIdOrAlias: string, options?: CallOptions): Promise<KeyMetadata | undefined> {
    try {
      return await this.#describe(keyIdOrAlias, options);
    } catch (error) {
      if (isBackendError(error) && error.code === 'NotFound') return undefined;
      throw error;
    }
  }

  #observed(found: FoundKey): ObservedVersion {
    return observedVersion(found.metadata, found.tagged, this.target.id);
  }

  /** RotationPeriodInDays for a key KMS rotates itself, or undefined. */
  #rotationDays(spec: KeySpec): number | undefined {
    const period = spec.nativeRotationPeriodSeconds;
    if (period === undefined) return undefined;
    if (!this.capabilities().nativeRotation.includes(spec.algorithm)) {
      throw new UnsupportedError(`KMS rotates only symmetric keys itself, not ${spec.algorithm} keys`);
    }
    const days = Math.round(period / DAY_SECONDS);
    if (days < MIN_ROTATION_DAYS || days > MAX_ROTATION_DAYS) {
      throw new UnsupportedError(
        `KMS rotates keys every ${MIN_ROTATION_DAYS} to ${MAX_ROTATION_DAYS} days, not every ${period / DAY_SECONDS} days`,
      );
    }
    return days;
  }

  /** Aliases, native rotation and the proof, for a key just made or adopted. Each step is safe to repeat. */
  async #finishCreate(
    identity: KeyIdentity,
    metadata: KeyMetadata,
    rotationDays: number | undefined,
    options?: CallOptions,
  ): Promise<void> {
    const keyId = metadata.KeyId ?? '';
    await this.#pointAlias(versionAlias(identity), keyId, options);
    await this.#pointCurrentAlias(identity, keyId, options);
    if (rotationDays !== undefined) {
      await this.#call('EnableKeyRotation', options, (kms, abortSignal) =>
        kms.enableKeyRotation({ KeyId: keyId, RotationPeriodInDays: rotationDays }, { abortSignal }),
      );
    }
    assertGeneratedInside(metadata);
    if (metadata.KeyState === 'Enabled') await this.#prove(keyId, metadata, options);
  }

  async #pointAlias(alias: string, keyId: string, options?: CallOptions): Promise<void> {
    try {
      await this.#call('CreateAlias', options, (kms, abortSignal) =>
        kms.createAlias({ AliasName: alias, TargetKeyId: keyId }, { abortSignal }),
      );
    } catch (error) {
      if (!(isBackendError(error) && error.code === 'AlreadyExists')) throw error;
      const current = await this.#describeIfExists(alias, options);
      if (current?.KeyId === keyId) return;
      await this.#call('UpdateAlias', options, (kms, abortSignal) =>
        kms.updateAlias({ AliasName: alias, TargetKeyId: keyId }, { abortSignal }),
      );
    }
  }

  /** Moves the ManagedKey's alias to this version unless a newer version of the same ManagedKey holds it. */
  async #pointCurrentAlias(identity: KeyIdentity, keyId: string, options?: CallOptions): Promise<void> {
    const alias = currentAlias(identity);
    const current = await this.#describeIfExists(alias, options);
    if (current?.KeyId === keyId) return;
    if (current?.KeyId !== undefined) {
      const holder = await this.#index.identityOf(current.KeyId, options);
      if (holder?.uid === identity.uid && holder.version > identity.version) return;
    }
    await this.#pointAlias(alias, keyId, options);
  }

  /** A signing key signs a fresh challenge that verifies with its public key; a secret key round-trips. */
  async #prove(keyId: string, metadata: KeyMetadata, options?: CallOptions): Promise<void> {
    const algorithm = algorithmOfKeySpec(metadata.KeySpec);
    if (algorithm === undefined) return;
    const challenge = randomBytes(32);
    const failed = (how: string) =>
      new PolicyViolationError(`KMS key ${keyId} failed its proof after creation: ${how}`);
    if (metadata.KeyUsage === 'SIGN_VERIFY') {
      const signature = await this.#sign(keyId, algorithm, { message: challenge }, options);
      if (!challengeVerifies(await this.#publicKey(keyId, options), algorithm, challenge, signature)) {
        throw failed('a signature it made does not verify with its public key');
      }
    } else if (metadata.KeyUsage === 'GENERATE_VERIFY_MAC') {
      const mac = await this.#call('GenerateMac', options, (kms, abortSignal) =>
        kms.generateMac({ KeyId: keyId, MacAlgorithm: 'HMAC_SHA_256', Message: challenge }, { abortSignal }),
      );
      const checked = await this.#call('VerifyMac', options, (kms, abortSignal) =>
        kms.verifyMac(
          { KeyId: keyId, MacAlgorithm: 'HMAC_SHA_256', Message: challenge, Mac: mac.Mac },
          { abortSignal },
        ),
      );
      if (checked.MacValid !== true) throw failed('a MAC it made does not verify');
    } else if (algorithm === 'AES_256') {
      const encrypted = await this.#call('Encrypt', options, (kms, abortSignal) =>
        kms.encrypt({ KeyId: keyId, Plaintext: challenge }, { abortSignal }),
      );
      const decrypted = await this.#call('Decrypt', options, (kms, abortSignal) =>
        kms.decrypt({ KeyId: keyId, CiphertextBlob: encrypted.CiphertextBlob }, { abortSignal }),
      );
      if (!challenge.equals(Buffer.from(decrypted.Plaintext ?? [])))
        throw failed('what it encrypted does not decrypt');
    } else {
      // An RSA encryption key: its public key must at least be there and parse.
      createPublicKey({ key: await this.#publicKey(keyId, options), format: 'der', type: 'spki' });
    }
  }

  async #publicKey(keyId: string, options?: CallOptions): Promise<Buffer> {
    const read = await this.#call('GetPublicKey', options, (kms, abortSignal) =>
      kms.getPublicKey({ KeyId: keyId }, { abortSignal }),
    );
    if (!read.PublicKey) throw new NotFoundError(`KMS GetPublicKey returned no key for ${keyId}`);
    return Buffer.from(read.PublicKey);
  }

  async #call<T>(
    operation: string,
    options: CallOptions | undefined,
    run: (kms: KMS, abortSignal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    return awsCall(`KMS ${operation}`, options, (abortSignal) => run(this.#client, abortSignal));
  }
}
