// KeyBackend over an Azure Key Vault (Premium) or Managed HSM through @azure/keyvault-keys. One Azure key per
// Keyward version, named and tagged from its KeyIdentity (./key-names.ts); how each method maps onto Key Vault is
// in docs/backends.md.

import { KeyedLock } from '../keyed-lock.ts';
import { createHash, createPublicKey, randomBytes, verify as verifyLocally } from 'node:crypto';
import type { TokenCredential } from '@azure/identity';
import {
  CryptographyClient,
  type DeletedKey,
  KeyClient,
  type KeyProperties,
  type KeyVaultKey,
} from '@azure/keyvault-keys';
import { type Algorithm, type KeyUsage, isAlgorithm, isAsymmetric, signatureDigest } from '../algorithms.ts';
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
  PermissionDeniedError,
  PolicyViolationError,
  UnsupportedError,
} from '../errors.ts';
import { type KeyIdentity, assertValidIdentity, identityLabel } from '../identity.ts';
import { type PublicKeyInfo, publicKeyInfo } from '../public-key.ts';
import { type AzureConfig, VALIDATED_FIPS_LEVEL } from './config.ts';
import { isKeyStateRefusal, isNotFound, toBackendError } from './errors.ts';
import { TAG, carriesIdentity, identityTags, keyName } from './key-names.ts';
import {
  algorithmsOf,
  keyOpsOf,
  keyTypeOf,
  matchesKeyType,
  signatureAlgorithm,
  usagesOf,
} from './key-types.ts';

/** Key Vault deletes and recovers asynchronously; this is how often the state is read meanwhile. */
const POLL_INTERVAL_MS = 1_000;

/** Retries inside the SDK: 429 and 503 after the Retry-After the vault sends, 5xx and network failures with backoff. */
export const RETRY_OPTIONS = { maxRetries: 5, retryDelayInMs: 500, maxRetryDelayInMs: 16_000 };

/** How long soft-deleted keys are kept and whether they can be purged sooner, as the vault reports on each key. */
interface DeletionPolicy {
  readonly retentionDays: number;
  readonly purgeable: boolean;
}

/** Azure's defaults for a new vault (90 days, no purge protection), until a key shows the vault's own. */
const DEFAULT_DELETION_POLICY: DeletionPolicy = { retentionDays: 90, purgeable: true };

/** A version as found: live (with its key material), disabled (properties only: Key Vault will not return it), or soft-deleted. */
type Found =
  | { readonly kind: 'live'; readonly key: KeyVaultKey; readonly properties: KeyProperties }
  | { readonly kind: 'disabled'; readonly properties: KeyProperties }
  | { readonly kind: 'deleted'; readonly deleted: DeletedKey; readonly properties: KeyProperties };

function base64url(bytes: Uint8Array | undefined): string {
  return Buffer.from(bytes ?? new Uint8Array()).toString('base64url');
}

export class AzureKeyVaultBackend implements KeyBackend {
  readonly type = 'azureKeyVault';
  readonly target: BackendTarget;
  /** The FIPS 140 level this target is validated to, for comparison with the KeyBackend's declared fipsLevel. */
  readonly fipsLevel: number;
  readonly #config: AzureConfig;
  readonly #credential: TokenCredential;
  readonly #who: string;
  readonly #client: KeyClient;
  readonly #cryptography = new Map<string, CryptographyClient>();
  readonly #locks = new KeyedLock();
  readonly #controller = new AbortController();
  #deletion: DeletionPolicy = DEFAULT_DELETION_POLICY;
  #deletionKnown = false;

  constructor(config: AzureConfig, credential: TokenCredential, who: string) {
    this.#config = config;
    this.#credential = credential;
    this.#who = who;
    this.fipsLevel = VALIDATED_FIPS_LEVEL[config.vaultType];
    this.target = {
      id: config.vaultUrl,
      description: `${config.vaultType === 'ManagedHSM' ? 'Managed HSM' : 'Key Vault'} "${config.vaultName}"`,
    };
    this.#client = new KeyClient(config.vaultUrl, credential, this.#pipelineOptions());
  }

  #pipelineOptions(): ConstructorParameters<typeof KeyClient>[2] {
    return {
      retryOptions: RETRY_OPTIONS,
      disableChallengeResourceVerification: this.#config.disableChallengeResourceVerification,
    };
  }

  capabilities(): BackendCapabilities {
    const retention = this.#deletion.retentionDays * 86_400;
    return {
      algorithms: algorithmsOf(this.#config.vaultType),
      nativeRotation: [],
      versions: false,
      archival: 'usages',
      minDestroyDelaySeconds: this.#deletion.purgeable ? 0 : retention,
      maxDestroyDelaySeconds: retention,
      restorable: true,
      lookupBy: 'tags',
      recoveryWrap: false,
    };
  }

  async health(options?: CallOptions): Promise<BackendHealth> {
    // Listing one key proves the vault answers and the credential may read it, and shows its deletion policy.
    await this.#call('list the keys of', options, async (abortSignal) => {
      for await (const page of this.#client
        .listPropertiesOfKeys({ abortSignal })
        .byPage({ maxPageSize: 1 })) {
        const first = page[0];
        if (first) this.#learnDeletionPolicy(first);
        break;
      }
    });
    const managed = this.#config.vaultType === 'ManagedHSM';
    const { retentionDays, purgeable } = this.#deletion;
    const warnings = [
      ...(purgeable || !this.#deletionKnown
        ? []
        : [`purge protection is on: a destroyed key is kept for ${retentionDays} days before it is gone`]),
    ];
    return {
      info: {
        manufacturer: 'Microsoft',
        model: managed
          ? `Azure Managed HSM (FIPS 140-3 Level ${this.fipsLevel})`
          : `Azure Key Vault Premium (HSM-protected keys, FIPS 140 Level ${this.fipsLevel})`,
        serial: new URL(this.#config.vaultUrl).hostname,
        tokenLabel: this.#config.vaultName,
        validatedFipsLevel: this.fipsLevel,
      },
      warnings,
    };
  }

  async observe(identity: KeyIdentity, options?: CallOptions): Promise<ObservedVersion | undefined> {
    assertValidIdentity(identity);
    const found = await this.#call(`look up ${identityLabel(identity)} in`, options, (signal) =>
      this.#find(identity, signal),
    );
    return found && this.#observed(identity, found);
  }

  async versions(identity: KeyIdentity, options?: CallOptions): Promise<ObservedVersion[]> {
    assertValidIdentity(identity);
    const found = await this.#call(
      `list the versions of ${identity.namespace}/${identity.name} in`,
      options,
      async (abortSignal) => {
        const numbers = new Set<number>();
        const ours = (tags: Record<string, string> | undefined): void => {
          if (tags?.[TAG.uid] === identity.uid) numbers.add(Number(tags[TAG.version]));
        };
        for await (const properties of this.#client.listPropertiesOfKeys({ abortSignal }))
          ours(properties.tags);
        for await (const deleted of this.#client.listDeletedKeys({ abortSignal }))
          ours(deleted.properties.tags);
        const versions: ObservedVersion[] = [];
        for (const version of numbers) {
          if (!Number.isSafeInteger(version) || version < 1) continue;
          const versionIdentity = { ...identity, version };
          const one = await this.#find(versionIdentity, abortSignal);
          if (one) versions.push(this.#observed(versionIdentity, one));
        }
        return versions;
      },
    );
    return found.sort((a, b) => Number(b.label.split('/v').at(-1)) - Number(a.label.split('/v').at(-1)));
  }

  async create(identity: KeyIdentity, spec: KeySpec, options?: CallOptions): Promise<CreateResult> {
    assertValidIdentity(identity);
    assertKeySpec(spec, this.capabilities(), this.target.description);
    const name = keyName(identity);
    // One create per key at a time: two that both find nothing would make two Azure versions of one key.
    return this.#locks.run(name, () =>
      this.#call(`create ${identityLabel(identity)} in`, options, async (abortSignal) => {
        const existing = await this.#find(identity, abortSignal);
        if (existing?.kind === 'deleted') {
          throw new AlreadyExistsError(
            `${identityLabel(identity)} (${name}) is soft-deleted in ${this.target.description}; restore it by enabling its usages, or wait for its purge`,
          );
        }
        if (existing) {
          this.#assertNotRejected(identity, existing.properties);
          const algorithm = this.#algorithmOf(identity, existing.properties);
          if (algorithm !== spec.algorithm) {
            throw new AlreadyExistsError(
              `${identityLabel(identity)} exists as ${algorithm}, not ${spec.algorithm}`,
            );
          }
          if (existing.kind === 'live') {
            await this.#assertProtected(identity, spec.algorithm, existing.key, abortSignal);
            await this.#prove(identity, spec, existing.key, abortSignal);
          }
          return { outcome: 'adopted', version: this.#observed(identity, existing) };
        }
        const type = keyTypeOf(spec.algorithm);
        const key = await this.#client.createKey(name, type.kty, {
          abortSignal,
          ...(type.keySize === undefined ? {} : { keySize: type.keySize }),
          ...(type.curve === undefined ? {} : { curve: type.curve }),
          keyOps: keyOpsOf(spec.usages),
          tags: identityTags(identity, spec.algorithm),
          enabled: true,
          exportable: false,
        });
        this.#learnDeletionPolicy(key.properties);
        await this.#assertProtected(identity, spec.algorithm, key, abortSignal);
        await this.#prove(identity, spec, key, abortSignal);
        return {
          outcome: 'created',
          version: this.#observed(identity, { kind: 'live', key, properties: key.properties }),
        };
      }),
    );
  }

  async publicKey(identity: KeyIdentity, options?: CallOptions): Promise<PublicKeyInfo> {
    assertValidIdentity(identity);
    const key = await this.#call(`read the public key of ${identityLabel(identity)} in`, options, (signal) =>
      this.#live(identity, signal),
    );
    const algorithm = this.#algorithmOf(identity, key.properties);
    if (!isAsymmetric(algorithm)) {
      throw new UnsupportedError(`${identityLabel(identity)} is a secret key without a public key`);
    }
    return publicKeyInfo(this.#spki(key));
  }

  async sign(identity: KeyIdentity, input: SignInput, options?: SignOptions & CallOptions): Promise<Buffer> {
    assertValidIdentity(identity);
    return this.#call(`sign with ${identityLabel(identity)} in`, options, async (abortSignal) => {
      const key = await this.#live(identity, abortSignal);
      const algorithm = this.#algorithmOf(identity, key.properties);
      assertSignInput(algorithm, input);
      const { result } = await this.#crypto(key).sign(
        signatureAlgorithm(algorithm, options),
        this.#digest(algorithm, input),
        { abortSignal },
      );
      const signature = Buffer.from(result);
      return algorithm.startsWith('EC_') && options?.ecdsaFormat !== 'raw' ? rawToDer(signature) : signature;
    });
  }

  async verify(
    identity: KeyIdentity,
    input: SignInput,
    signature: Buffer,
    options?: SignOptions & CallOptions,
  ): Promise<boolean> {
    assertValidIdentity(identity);
    return this.#call(`verify with ${identityLabel(identity)} in`, options, async (abortSignal) => {
      const key = await this.#live(identity, abortSignal);
      const algorithm = this.#algorithmOf(identity, key.properties);
      assertSignInput(algorithm, input);
      let raw = signature;
      if (algorithm in EC_FIELD_BYTES && options?.ecdsaFormat !== 'raw') {
        try {
          raw = derToRaw(signature, EC_FIELD_BYTES[algorithm as keyof typeof EC_FIELD_BYTES]);
        } catch {
          return false; // not a DER signature: it cannot match
        }
      }
      const { result } = await this.#crypto(key).verify(
        signatureAlgorithm(algorithm, options),
        this.#digest(algorithm, input),
        raw,
        { abortSignal },
      );
      return result;
    });
  }

  async setUsages(identity: KeyIdentity, usages: readonly KeyUsage[], options?: CallOptions): Promise<void> {
    assertValidIdentity(identity);
    const name = keyName(identity);
    await this.#call(`set the usages of ${identityLabel(identity)} in`, options, async (abortSignal) => {
      let found = await this.#find(identity, abortSignal);
      if (!found) throw new NotFoundError(`${identityLabel(identity)} is not in ${this.target.description}`);
      assertUsagesAllowed(this.#algorithmOf(identity, found.properties), usages);
      if (usages.length > 0) this.#assertNotRejected(identity, found.properties);
      if (found.kind === 'deleted') {
        if (usages.length === 0) return; // a soft-deleted key can do nothing already
        const poller = await this.#client.beginRecoverDeletedKey(name, {
          abortSignal,
          intervalInMs: POLL_INTERVAL_MS,
        });
        await poller.pollUntilDone({ abortSignal });
        found = await this.#find(identity, abortSignal);
        if (!found || found.kind === 'deleted')
          throw new NotFoundError(`${identityLabel(identity)} was not recovered`);
      }
      const enabled = usages.length > 0;
      // Disabling keeps key_ops as they were: a disabled key does nothing, and enabling again sets them anew.
      const updated = await this.#client.updateKeyProperties(name, found.properties.version ?? '', {
        abortSignal,
        enabled,
        ...(enabled ? { keyOps: keyOpsOf(usages) } : {}),
      });
      // Read back: a vault that kept an operation must not pass for a restricted key.
      const actual = updated.properties.enabled === false ? [] : usagesOf(updated.keyOperations ?? []);
      const expected = [...usages].sort();
      if (actual.length !== expected.length || [...actual].sort().some((usage, i) => usage !== expected[i])) {
        throw new PermissionDeniedError(
          `the vault kept the usages of ${identityLabel(identity)} at [${actual.join(', ')}] instead of [${usages.join(', ')}]`,
        );
      }
    });
  }

  async destroy(identity: KeyIdentity, request: DestroyRequest): Promise<DestroyResult> {
    assertValidIdentity(identity);
    const name = keyName(identity);
    return this.#call(
      `destroy ${identityLabel(identity)} in`,
      request,
      async (abortSignal): Promise<DestroyResult> => {
        let found = await this.#find(identity, abortSignal);
        if (!found) return { outcome: 'absent' };
        this.#cryptography.delete(name);
        if (found.kind !== 'deleted') {
          const poller = await this.#client.beginDeleteKey(name, {
            abortSignal,
            intervalInMs: POLL_INTERVAL_MS,
          });
          const deleted = await poller.pollUntilDone({ abortSignal });
          this.#learnDeletionPolicy(deleted.properties);
          found = { kind: 'deleted', deleted, properties: deleted.properties };
        }
        if (request.delaySeconds <= 0 && this.#deletion.purgeable) {
          await this.#client.purgeDeletedKey(name, { abortSignal });
          return { outcome: 'destroyed' };
        }
        return { outcome: 'scheduled', destroyTime: this.#purgeTime(found.deleted) };
      },
    );
  }

  refresh(): Promise<void> {
    // Nothing is cached that can go stale: every call reads the vault (cryptography clients hold only key ids).
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#controller.abort();
    this.#cryptography.clear();
    return Promise.resolve();
  }

  /**
   * Runs `fn` with a signal that ends at the caller's signal (which carries the deadline guarded() sets) or at
   * close(), and maps its errors.
   */
  async #call<T>(
    what: string,
    options: CallOptions | undefined,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const signals = [this.#controller.signal];
    if (options?.signal) signals.push(options.signal);
    try {
      return await fn(AbortSignal.any(signals));
    } catch (error) {
      throw toBackendError(error, `${what} ${this.target.description}`, this.#who);
    }
  }

  async #find(identity: KeyIdentity, abortSignal: AbortSignal): Promise<Found | undefined> {
    const name = keyName(identity);
    let found: Found | undefined;
    try {
      const key = await this.#client.getKey(name, { abortSignal });
      found = { kind: 'live', key, properties: key.properties };
    } catch (error) {
      if (isKeyStateRefusal(error)) {
        // Key Vault refuses to return a disabled key; its properties still list.
        for await (const properties of this.#client.listPropertiesOfKeyVersions(name, { abortSignal })) {
          if (carriesIdentity(properties.tags, identity)) found = { kind: 'disabled', properties };
        }
      } else if (isNotFound(error)) {
        try {
          const deleted = await this.#client.getDeletedKey(name, { abortSignal });
          found = { kind: 'deleted', deleted, properties: deleted.properties };
        } catch (deletedError) {
          if (!isNotFound(deletedError)) throw deletedError;
          return undefined;
        }
      } else {
        throw error;
      }
    }
    if (!found || !carriesIdentity(found.properties.tags, identity)) {
      throw new AlreadyExistsError(
        `key ${name} in ${this.target.description} does not carry the tags of ${identityLabel(identity)}; it is not Keyward's to use`,
      );
    }
    this.#learnDeletionPolicy(found.properties);
    return found;
  }

  async #live(identity: KeyIdentity, abortSignal: AbortSignal): Promise<KeyVaultKey> {
    const found = await this.#find(identity, abortSignal);
    if (!found) throw new NotFoundError(`${identityLabel(identity)} is not in ${this.target.description}`);
    if (found.kind === 'disabled') throw new PermissionDeniedError(`${identityLabel(identity)} is disabled`);
    if (found.kind === 'deleted') throw new NotFoundError(`${identityLabel(identity)} is soft-deleted`);
    this.#assertNotRejected(identity, found.properties);
    await this.#assertProtected(
      identity,
      this.#algorithmOf(identity, found.properties),
      found.key,
      abortSignal,
    );
    return found.key;
  }

  #algorithmOf(identity: KeyIdentity, properties: KeyProperties): Algorithm {
    const algorithm = properties.tags?.[TAG.algorithm] ?? '';
    if (!isAlgorithm(algorithm)) {
      throw new AlreadyExistsError(`${identityLabel(identity)} has no valid ${TAG.algorithm} tag`);
    }
    return algorithm;
  }

  /**
   * A key must be the HSM type asked for and not exportable. A vault that made a software key instead (kty RSA or
   * EC) would hand out a weaker key under the same name: it is disabled and tagged as rejected, and never used.
   */
  async #assertProtected(
    identity: KeyIdentity,
    algorithm: Algorithm,
    key: KeyVaultKey,
    abortSignal: AbortSignal,
  ): Promise<void> {
    const reported = key.key ?? {};
    const exportable = key.properties.exportable === true || key.properties.releasePolicy !== undefined;
    if (matchesKeyType(algorithm, reported) && !exportable) return;
    const what = exportable ? 'an exportable key' : `a ${reported.kty ?? 'key of unknown type'} key`;
    await this.#client.updateKeyProperties(key.name, key.properties.version ?? '', {
      abortSignal,
      enabled: false,
      tags: {
        ...key.properties.tags,
        [TAG.rejected]: exportable ? 'exportable' : `kty ${reported.kty ?? ''}`,
      },
    });
    throw this.#rejected(identity, what);
  }

  #rejected(identity: KeyIdentity, what: string): PolicyViolationError {
    return new PolicyViolationError(
      `${this.target.description} holds ${identityLabel(identity)} as ${what}, not the HSM-protected, non-exportable key Keyward asked for; it is disabled and not used`,
    );
  }

  #assertNotRejected(identity: KeyIdentity, properties: KeyProperties): void {
    const reason = properties.tags?.[TAG.rejected];
    if (reason !== undefined) throw this.#rejected(identity, `a rejected key (${reason})`);
  }

  /** Signs the digest of a fresh challenge in the vault and checks the signature over it with the public key read back. */
  async #prove(
    identity: KeyIdentity,
    spec: KeySpec,
    key: KeyVaultKey,
    abortSignal: AbortSignal,
  ): Promise<void> {
    if (!isAsymmetric(spec.algorithm) || !(key.keyOperations ?? []).includes('sign')) return;
    const hash = signatureDigest(spec.algorithm) ?? 'sha256';
    const challenge = randomBytes(32);
    const { result } = await this.#crypto(key).sign(
      signatureAlgorithm(spec.algorithm, undefined),
      createHash(hash).update(challenge).digest(),
      { abortSignal },
    );
    const publicKey = createPublicKey({ key: this.#spki(key), format: 'der', type: 'spki' });
    const verifier = spec.algorithm.startsWith('EC_')
      ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const }
      : publicKey;
    if (!verifyLocally(hash, challenge, verifier, Buffer.from(result))) {
      throw new PolicyViolationError(
        `a challenge signed by ${identityLabel(identity)} in ${this.target.description} does not verify with its public key`,
      );
    }
  }

  #spki(key: KeyVaultKey): Buffer {
    const jwk = key.key;
    if (!jwk) throw new NotFoundError(`${key.name} came back without key material`);
    const kty = jwk.kty?.startsWith('EC') ? 'EC' : 'RSA';
    const material =
      kty === 'EC'
        ? { kty, crv: jwk.crv ?? '', x: base64url(jwk.x), y: base64url(jwk.y) }
        : { kty, n: base64url(jwk.n), e: base64url(jwk.e) };
    return createPublicKey({ key: material, format: 'jwk' }).export({ format: 'der', type: 'spki' });
  }

  #crypto(key: KeyVaultKey): CryptographyClient {
    const id = key.id ?? '';
    let client = this.#cryptography.get(key.name);
    if (client === undefined || client.keyID !== id) {
      client = new CryptographyClient(key, this.#credential, this.#pipelineOptions());
      this.#cryptography.set(key.name, client);
    }
    return client;
  }

  #digest(algorithm: Algorithm, input: SignInput): Buffer {
    if ('digest' in input) return input.digest;
    return createHash(signatureDigest(algorithm) ?? 'sha256')
      .update(input.message)
      .digest();
  }

  #observed(identity: KeyIdentity, found: Found): ObservedVersion {
    const algorithm = this.#algorithmOf(identity, found.properties);
    const properties = found.properties;
    const base = {
      version: identity.version,
      versionId: properties.version ?? '',
      target: this.target.id,
      algorithm,
      keyRef:
        properties.id ?? `${this.#config.vaultUrl}/keys/${keyName(identity)}/${properties.version ?? ''}`,
      label: identityLabel(identity),
    };
    if (found.kind === 'deleted') {
      return { ...base, state: 'DestroyScheduled', destroyTime: this.#purgeTime(found.deleted), usages: [] };
    }
    if (found.kind === 'disabled') return { ...base, state: 'Disabled', usages: [] };
    return { ...base, state: 'Enabled', usages: usagesOf(found.key.keyOperations ?? []) };
  }

  #purgeTime(deleted: DeletedKey): number {
    return (
      deleted.properties.scheduledPurgeDate?.getTime() ??
      Date.now() + this.#deletion.retentionDays * 86_400_000
    );
  }

  /** recoveryLevel says whether keys can be purged before their retention ends ("+Purgeable"). */
  #learnDeletionPolicy(properties: KeyProperties): void {
    if (properties.recoverableDays === undefined || properties.recoveryLevel === undefined) return;
    this.#deletion = {
      retentionDays: properties.recoverableDays,
      purgeable: properties.recoveryLevel.includes('Purgeable'),
    };
    this.#deletionKnown = true;
  }
}
