// Key rings, CryptoKeys and CryptoKeyVersions with the state machine the Cloud KMS API reference documents:
// versions are numbered 1, 2, 3... per CryptoKey and never reused; Cloud HSM (and asymmetric) versions answer
// PENDING_GENERATION until their key is made; DESTROY_SCHEDULED lasts the CryptoKey's destroyScheduledDuration and
// then becomes DESTROYED with the material gone; restore returns a scheduled version to DISABLED. States advance when
// they are read, against the peer's clock, which tests may move forward.

import { status } from '@grpc/grpc-js';
import { ALGORITHMS, type Material, wipe } from './key-material.ts';

export class KmsError extends Error {
  readonly code: status;
  constructor(code: status, message: string) {
    super(message);
    this.code = code;
  }
}

export type VersionState = 'PENDING_GENERATION' | 'ENABLED' | 'DISABLED' | 'DESTROY_SCHEDULED' | 'DESTROYED';

export interface VersionRecord {
  readonly number: number;
  state: VersionState;
  readonly createTime: number;
  /** When PENDING_GENERATION ends. */
  readonly generateAt: number;
  destroyTime?: number;
  destroyEventTime?: number;
  readonly material: Material;
}

export interface CryptoKeyRecord {
  readonly name: string;
  readonly purpose: string;
  readonly algorithm: string;
  readonly protectionLevel: string;
  readonly labels: Record<string, string>;
  readonly createTime: number;
  readonly destroyScheduledMs: number;
  primary?: number;
  readonly versions: VersionRecord[];
}

const ID = /^[a-zA-Z0-9_-]{1,63}$/;
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
const DAY_MS = 86_400_000;
const PROTECTION_LEVELS = new Set(['SOFTWARE', 'HSM', 'EXTERNAL']);

export interface StateOptions {
  readonly now: () => number;
  /** How long a new Cloud HSM or asymmetric version stays PENDING_GENERATION. */
  readonly pendingGenerationMs: () => number;
}

export interface NewCryptoKey {
  readonly purpose: string;
  readonly algorithm: string;
  readonly protectionLevel: string;
  readonly labels: Record<string, string>;
  readonly destroyScheduledMs?: number;
  readonly skipInitialVersionCreation: boolean;
}

export class KmsState {
  readonly keyRings = new Map<string, number>();
  readonly keys = new Map<string, CryptoKeyRecord>();
  readonly #options: StateOptions;

  constructor(options: StateOptions) {
    this.#options = options;
  }

  now(): number {
    return this.#options.now();
  }

  createKeyRing(parent: string, id: string): string {
    if (!/^projects\/[^/]+\/locations\/[^/]+$/.test(parent)) throw invalid(`invalid parent ${parent}`);
    if (!ID.test(id)) throw invalid(`invalid key ring id ${id}`);
    const name = `${parent}/keyRings/${id}`;
    if (this.keyRings.has(name)) throw new KmsError(status.ALREADY_EXISTS, `KeyRing ${name} already exists.`);
    this.keyRings.set(name, this.now());
    return name;
  }

  keyRing(name: string): number {
    const created = this.keyRings.get(name);
    if (created === undefined) throw notFound('KeyRing', name);
    return created;
  }

  createCryptoKey(parent: string, id: string, spec: NewCryptoKey): CryptoKeyRecord {
    this.keyRing(parent);
    if (!ID.test(id)) throw invalid(`invalid crypto key id ${id}`);
    const name = `${parent}/cryptoKeys/${id}`;
    if (this.keys.has(name)) throw new KmsError(status.ALREADY_EXISTS, `CryptoKey ${name} already exists.`);
    const algorithm = ALGORITHMS[spec.algorithm];
    if (!algorithm) throw invalid(`algorithm ${spec.algorithm} is not supported by this peer`);
    if (algorithm.purpose !== spec.purpose) {
      throw invalid(`algorithm ${spec.algorithm} is not compatible with purpose ${spec.purpose}`);
    }
    if (!PROTECTION_LEVELS.has(spec.protectionLevel))
      throw invalid(`invalid protection level ${spec.protectionLevel}`);
    validateLabels(spec.labels);
    const destroyScheduledMs = spec.destroyScheduledMs ?? 30 * DAY_MS;
    if (destroyScheduledMs < DAY_MS || destroyScheduledMs > 120 * DAY_MS) {
      throw invalid('destroy_scheduled_duration must be between 24 hours and 120 days');
    }
    if (spec.protectionLevel === 'EXTERNAL' && !spec.skipInitialVersionCreation) {
      throw invalid('an EXTERNAL key version needs an external key URI');
    }
    const key: CryptoKeyRecord = {
      name,
      purpose: spec.purpose,
      algorithm: spec.algorithm,
      protectionLevel: spec.protectionLevel,
      labels: { ...spec.labels },
      createTime: this.now(),
      destroyScheduledMs,
      versions: [],
    };
    this.keys.set(name, key);
    if (!spec.skipInitialVersionCreation) {
      this.#addVersion(key);
      if (key.purpose === 'ENCRYPT_DECRYPT') key.primary = 1;
    }
    return key;
  }

  cryptoKey(name: string): CryptoKeyRecord {
    const key = this.keys.get(name);
    if (!key) throw notFound('CryptoKey', name);
    for (const version of key.versions) this.#advance(version);
    return key;
  }

  createVersion(parent: string): { key: CryptoKeyRecord; version: VersionRecord } {
    const key = this.cryptoKey(parent);
    if (key.protectionLevel === 'EXTERNAL')
      throw invalid('an EXTERNAL key version needs an external key URI');
    return { key, version: this.#addVersion(key) };
  }

  #addVersion(key: CryptoKeyRecord): VersionRecord {
    const definition = ALGORITHMS[key.algorithm];
    if (!definition) throw invalid(`algorithm ${key.algorithm} is not supported by this peer`);
    const now = this.now();
    const pending = key.protectionLevel === 'HSM' || key.purpose.startsWith('ASYMMETRIC_');
    const version: VersionRecord = {
      number: key.versions.length + 1,
      state: pending ? 'PENDING_GENERATION' : 'ENABLED',
      createTime: now,
      generateAt: pending ? now + this.#options.pendingGenerationMs() : now,
      material: definition.make(),
    };
    key.versions.push(version);
    this.#advance(version);
    return version;
  }

  /** The version a `.../cryptoKeyVersions/N` name points at. */
  version(name: string): { key: CryptoKeyRecord; version: VersionRecord } {
    const match = /^(.+\/cryptoKeys\/[^/]+)\/cryptoKeyVersions\/(\d+)$/.exec(name);
    if (!match?.[1] || !match[2]) throw invalid(`invalid CryptoKeyVersion name ${name}`);
    const key = this.cryptoKey(match[1]);
    const version = key.versions[Number(match[2]) - 1];
    if (!version) throw notFound('CryptoKeyVersion', name);
    return { key, version };
  }

  #advance(version: VersionRecord): void {
    const now = this.now();
    if (version.state === 'PENDING_GENERATION' && now >= version.generateAt) version.state = 'ENABLED';
    if (
      version.state === 'DESTROY_SCHEDULED' &&
      version.destroyTime !== undefined &&
      now >= version.destroyTime
    ) {
      version.state = 'DESTROYED';
      version.destroyEventTime = version.destroyTime;
      wipe(version.material);
    }
  }

  setState(name: string, state: string): { key: CryptoKeyRecord; version: VersionRecord } {
    const found = this.version(name);
    if (state !== 'ENABLED' && state !== 'DISABLED') throw invalid(`cannot set state ${state}`);
    if (found.version.state !== 'ENABLED' && found.version.state !== 'DISABLED') {
      throw precondition(`${name} is in state ${found.version.state}`);
    }
    found.version.state = state;
    return found;
  }

  setPrimary(keyName: string, versionId: string): CryptoKeyRecord {
    const key = this.cryptoKey(keyName);
    if (key.purpose !== 'ENCRYPT_DECRYPT')
      throw precondition(`${keyName} has no primary (purpose ${key.purpose})`);
    const { version } = this.version(`${keyName}/cryptoKeyVersions/${versionId}`);
    if (version.state !== 'ENABLED')
      throw precondition(`version ${versionId} is ${version.state}, not ENABLED`);
    key.primary = version.number;
    return key;
  }

  destroy(name: string): { key: CryptoKeyRecord; version: VersionRecord } {
    const found = this.version(name);
    const { key, version } = found;
    if (version.state !== 'ENABLED' && version.state !== 'DISABLED') {
      throw precondition(`${name} is in state ${version.state} and cannot be destroyed`);
    }
    version.state = 'DESTROY_SCHEDULED';
    version.destroyTime = this.now() + key.destroyScheduledMs;
    return found;
  }

  restore(name: string): { key: CryptoKeyRecord; version: VersionRecord } {
    const found = this.version(name);
    if (found.version.state !== 'DESTROY_SCHEDULED') {
      throw precondition(`${name} is in state ${found.version.state}, not DESTROY_SCHEDULED`);
    }
    found.version.state = 'DISABLED';
    delete found.version.destroyTime;
    return found;
  }

  /** The version, which must be ENABLED and of the purpose the operation needs. */
  usable(name: string, purpose: string): { key: CryptoKeyRecord; version: VersionRecord } {
    const found = this.version(name);
    if (found.key.purpose !== purpose)
      throw invalid(`${found.key.name} has purpose ${found.key.purpose}, not ${purpose}`);
    if (found.version.state !== 'ENABLED')
      throw precondition(`${name} is not enabled, current state is: ${found.version.state}`);
    return found;
  }
}

function validateLabels(labels: Record<string, string>): void {
  if (Object.keys(labels).length > 64) throw invalid('a resource has at most 64 labels');
  for (const [key, value] of Object.entries(labels)) {
    if (!LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) throw invalid(`invalid label ${key}=${value}`);
  }
}

function invalid(message: string): KmsError {
  return new KmsError(status.INVALID_ARGUMENT, message);
}

function precondition(message: string): KmsError {
  return new KmsError(status.FAILED_PRECONDITION, message);
}

function notFound(kind: string, name: string): KmsError {
  return new KmsError(status.NOT_FOUND, `${kind} ${name} not found.`);
}
