// The interface every key backend implements: PKCS#11 tokens (SoftHSM2, Luna, nShield, YubiHSM 2, CloudHSM), Azure
// Key Vault and Managed HSM, GCP Cloud KMS and Cloud HSM, AWS KMS. Shaped like a Crossplane external client: observe
// a key version, create it (idempotently), update what it may do, delete it. Every method rejects with a
// BackendError from ./errors.ts, and every method takes a CallOptions whose signal ends the call (a hung network HSM
// must not hold a worker forever).
//
// How each backend family maps onto it is in docs/backends.md.

import type { ARCHIVAL_ENFORCEMENTS } from '../api/v1alpha1/keybackend.ts';
import type { Algorithm, KeyUsage, SignatureDigest } from './algorithms.ts';
import type { KeyIdentity } from './identity.ts';
import type { PublicKeyInfo } from './public-key.ts';

/**
 * How an archived version is kept from signing or encrypting anew:
 * - `usages`: the backend restricts the version itself to verify/decrypt/unwrap (PKCS#11 attributes, Azure key_ops);
 * - `primary`: the version stops being the backend's primary, so new encryptions use the new one; the version could
 *   still encrypt if named explicitly (GCP and AWS symmetric keys);
 * - `reference`: only Keyward's published reference moves on; the backend would still sign with the version if asked
 *   directly, so access to it must be limited by the backend's own IAM (GCP and AWS asymmetric keys).
 */
export type ArchivalEnforcement = (typeof ARCHIVAL_ENFORCEMENTS)[number];

export interface BackendCapabilities {
  /** Algorithms this backend can generate and use, as found on the backend (not assumed from its type). */
  readonly algorithms: readonly Algorithm[];
  /** Algorithms the backend rotates itself on a schedule (e.g. GCP and AWS symmetric keys); empty for none. */
  readonly nativeRotation: readonly Algorithm[];
  /** The backend keeps versions of one key itself (otherwise each Keyward version is a separate key). */
  readonly versions: boolean;
  /** How archival is enforced (see ArchivalEnforcement). */
  readonly archival: ArchivalEnforcement;
  /** The shortest delay the backend imposes between a destroy request and the key being gone, in seconds. */
  readonly minDestroyDelaySeconds: number;
  /** The longest destroy delay the backend accepts (AWS KMS: 30 days); undefined when there is no bound. */
  readonly maxDestroyDelaySeconds?: number;
  /** A version scheduled for destruction can be restored until its destroy time (GCP, AWS, Azure soft delete). */
  readonly restorable: boolean;
  /**
   * The backend finds a version by metadata it stores beside the key (PKCS#11 CKA_ID and label, cloud tags and
   * labels), so a version whose creation was interrupted is found again, never created twice.
   */
  readonly lookupBy: 'attributes' | 'tags' | 'labels';
  /**
   * Recovery backups (ManagedKey spec.recovery): the backend generates a secret key that can be wrapped once under a
   * fresh key-encryption key inside it (AES key wrap with padding, RFC 5649), then made unextractable for good, and
   * unwraps such a blob back into a key (wrapForRecovery, sealRecovery, restoreKey below). False: those methods are
   * absent, and a ManagedKey with spec.recovery on it is refused before anything is generated.
   */
  readonly recoveryWrap: boolean;
}

/**
 * Where keys live, stated so that a KeyBackend edited to point elsewhere (another token, vault or key ring) is
 * noticed: a version records the target it was made on, and no backend generates, changes or destroys a version
 * recorded on another target.
 */
export interface BackendTarget {
  /** Stable and unique: `pkcs11:<manufacturer>/<model>/<serial>`, the vault URL, the key ring's resource name. */
  readonly id: string;
  /** What a person calls it, e.g. the token label. */
  readonly description: string;
}

/** What the backend is, for KeyBackend status. */
export interface BackendInfo {
  readonly manufacturer: string;
  readonly model: string;
  readonly serial: string;
  /** The token, partition, vault or key ring that keys live in. */
  readonly tokenLabel: string;
  readonly firmwareVersion?: string;
  /** Cluster, key store or vault state as the cloud reports it, e.g. a CloudHSM cluster's ACTIVE. */
  readonly state?: string;
  /** HSMs in the cluster (AWS CloudHSM): the keyward_cloudhsm_cluster_hsms metric. */
  readonly hsmCount?: number;
  /** Availability Zones the cluster's HSMs are in (AWS CloudHSM). */
  readonly availabilityZones?: readonly string[];
  /**
   * When the newest backup that completed was taken (ms since the epoch; AWS CloudHSM): the
   * keyward_cloudhsm_backup_age_seconds metric is the time since.
   */
  readonly latestBackupTime?: number;
  /**
   * The FIPS 140 level the target is validated to, where the backend can know it (a cloud's service, not a token
   * it cannot tell from another). The KeyBackend's declared fipsLevel may not exceed it.
   */
  readonly validatedFipsLevel?: number;
}

export interface BackendHealth {
  readonly info: BackendInfo;
  /** Conditions worth surfacing that do not stop the backend, e.g. "PIN count low". */
  readonly warnings: readonly string[];
}

export interface KeySpec {
  readonly algorithm: Algorithm;
  /** Usages to enable; each must be allowed for the algorithm (ALLOWED_USAGES). */
  readonly usages: readonly KeyUsage[];
  /**
   * Set only for an algorithm in capabilities().nativeRotation, when the backend is to rotate the key's material
   * itself (AWS KMS EnableKeyRotation); a period the backend cannot keep is refused with UnsupportedError.
   */
  readonly nativeRotationPeriodSeconds?: number;
  /**
   * Generate a secret key that stays extractable until sealRecovery, so that wrapForRecovery can wrap it once
   * (capabilities().recoveryWrap only). Sensitive all the same: its value is never readable in plaintext.
   */
  readonly recoverable?: boolean;
}

/**
 * A version's state as the backend reports it. Asynchronous backends pass through PendingGeneration (GCP HSM keys)
 * and DestroyScheduled (GCP, AWS pending deletion, Azure soft delete) before they settle.
 */
export type ObservedState = 'Enabled' | 'Disabled' | 'PendingGeneration' | 'DestroyScheduled' | 'Destroyed';

/** A key version as the backend holds it. */
export interface ObservedVersion {
  /** The Keyward version number the backend stores beside the key (label, tag). */
  readonly version: number;
  /** The backend's own name for the version: a derived CKA_ID (hex), an Azure version GUID, a GCP version number. */
  readonly versionId: string;
  /** The target it lives on (BackendTarget.id). */
  readonly target: string;
  readonly state: ObservedState;
  /** With DestroyScheduled: when the backend destroys it (ms since the epoch). */
  readonly destroyTime?: number;
  readonly algorithm: Algorithm;
  /** Usages currently enabled; empty when the key is disabled. */
  readonly usages: readonly KeyUsage[];
  /** How other software finds the key: an RFC 7512 `pkcs11:` URI or the cloud's resource name. Never a secret. */
  readonly keyRef: string;
  /** The human-readable name the backend shows (e.g. the PKCS#11 label). */
  readonly label: string;
}

export interface CreateResult {
  /** `adopted` when a version with this identity already existed (a retry, or a crash before status was written). */
  readonly outcome: 'created' | 'adopted';
  readonly version: ObservedVersion;
  /** The public key, where the backend read it while creating or adopting (PKCS#11 proves the pair with it). */
  readonly publicKey?: PublicKeyInfo;
}

/** What a signature covers: a message (the backend hashes it as the key's algorithm says) or a digest of one. */
export type SignInput =
  { readonly message: Buffer } | { readonly digest: Buffer; readonly hash: SignatureDigest };

export interface SignOptions {
  /** RSA only: PKCS#1 v1.5 (default) or PSS with MGF1 and a salt as long as the digest. */
  readonly rsaPadding?: 'pkcs1' | 'pss';
  /** ECDSA only: DER (what X.509, CMS and openssl use; the default) or raw r||s (IEEE P1363, JOSE). */
  readonly ecdsaFormat?: 'der' | 'raw';
}

export interface CallOptions {
  /** Ends the call with a RetryableError when aborted (the runtime's per-call deadline, or shutdown). */
  readonly signal?: AbortSignal;
}

/**
 * The controller asks for a destruction when the window it keeps (status destroyTime) is over. A backend that can
 * destroy at once does (PKCS#11); one that schedules destruction does so `delaySeconds` out, at least its own
 * minimum (GCP DESTROY_SCHEDULED, AWS pending deletion, Azure soft delete), and answers `scheduled` with its time
 * until it is gone.
 */
export interface DestroyRequest extends CallOptions {
  /** How much longer the backend should hold the version; raised to capabilities().minDestroyDelaySeconds. */
  readonly delaySeconds: number;
}

/** `absent` when there was nothing to destroy; otherwise the version's state afterwards. */
export type DestroyResult =
  | { readonly outcome: 'absent' }
  | { readonly outcome: 'destroyed' }
  | { readonly outcome: 'scheduled'; readonly destroyTime: number };

/**
 * A key version wrapped for recovery: `wrappedKey` is the RFC 5649 blob, `kek` the key-encryption key it was wrapped
 * under (made in the backend, read out once, its object destroyed: the caller splits it and zeroes it), `checkValue`
 * the key's check value (hex of the first 3 bytes of AES-ECB of a zero block, CKA_CHECK_VALUE). `sealed`: the key was
 * already made unextractable (a retry after sealRecovery), so nothing was wrapped.
 */
export type RecoveryWrap =
  | {
      readonly outcome: 'wrapped';
      readonly wrappedKey: Buffer;
      readonly kek: Buffer;
      readonly checkValue: string;
    }
  | { readonly outcome: 'sealed'; readonly checkValue: string };

/** What restoreKey unwraps: a RecoveryWrap's blob under its KEK (the caller zeroes `kek`), and what to expect. */
export interface RestoreRequest extends CallOptions {
  readonly algorithm: Algorithm;
  /** The usages the restored version gets (those of its state). */
  readonly usages: readonly KeyUsage[];
  readonly wrappedKey: Buffer;
  readonly kek: Buffer;
  /** The check value recorded at wrapping; a key that unwraps to another value is refused, nothing stored. */
  readonly checkValue: string;
}

export interface KeyBackend {
  /** Backend type, e.g. `pkcs11`: the `backend_type` metric label. */
  readonly type: string;

  /** Where this connection's keys live. */
  readonly target: BackendTarget;

  capabilities(): BackendCapabilities;

  /** Checks the backend is reachable and the login still valid; says what it is. */
  health(options?: CallOptions): Promise<BackendHealth>;

  /** The key version with this identity, or undefined when the backend has none. */
  observe(identity: KeyIdentity, options?: CallOptions): Promise<ObservedVersion | undefined>;

  /**
   * The versions of this key (the uid of `identity`; its version is ignored) that the backend holds, newest first,
   * found by what the backend stores beside them. For a status that was lost or restored from a backup.
   */
  versions(identity: KeyIdentity, options?: CallOptions): Promise<ObservedVersion[]>;

  /**
   * Generates the key version inside the backend, or adopts the one that already carries this identity. Before it
   * returns, the backend proves the version: generated inside it (never imported), protected as required, and for
   * key pairs a fresh challenge signed inside the backend verifies with the public key read back. Safe to call again
   * after any failure; the caller only calls it for a version it marked in flight.
   */
  create(identity: KeyIdentity, spec: KeySpec, options?: CallOptions): Promise<CreateResult>;

  /** The public key of an asymmetric key version; Unsupported for secret keys. */
  publicKey(identity: KeyIdentity, options?: CallOptions): Promise<PublicKeyInfo>;

  /**
   * Signs with the version. The hash follows the key (SIGNATURE_DIGEST: P-384 with SHA-384, P-521 with SHA-512);
   * a digest of another hash is Unsupported. Ed25519 signs messages only (PureEdDSA); HMAC_SHA256 returns the MAC.
   */
  sign(identity: KeyIdentity, input: SignInput, options?: SignOptions & CallOptions): Promise<Buffer>;

  /** Verifies inside the backend; false when the signature does not match. Needs `verify` enabled. */
  verify(
    identity: KeyIdentity,
    input: SignInput,
    signature: Buffer,
    options?: SignOptions & CallOptions,
  ): Promise<boolean>;

  /**
   * Sets which operations the key version may perform, as far as capabilities().archival allows: an empty list
   * disables it, the spec's usages enable it, archivedUsages(spec.usages) keeps it for verify/decrypt/unwrap where
   * the backend restricts usages (elsewhere it stays enabled). Reads the result back.
   */
  setUsages(identity: KeyIdentity, usages: readonly KeyUsage[], options?: CallOptions): Promise<void>;

  /** Schedules, then performs, the destruction of the key version (see DestroyRequest). Never acts on an object
   * that is not provably this version. */
  destroy(identity: KeyIdentity, request: DestroyRequest): Promise<DestroyResult>;

  /**
   * Wraps a version generated with KeySpec.recoverable under a fresh KEK inside the backend (capabilities()
   * .recoveryWrap). Call once, store the blob, then sealRecovery.
   */
  wrapForRecovery?(identity: KeyIdentity, options?: CallOptions): Promise<RecoveryWrap>;

  /** Makes the version unextractable for good (one-way); returns its check value. Safe to call again. */
  sealRecovery?(identity: KeyIdentity, options?: CallOptions): Promise<string>;

  /**
   * Unwraps a recovery blob into the backend as the version `identity` (sensitive, never extractable), after checking
   * in a throwaway session object that it has the recorded check value. A version already there with that check value
   * is adopted; one with another is refused.
   */
  restoreKey?(identity: KeyIdentity, request: RestoreRequest): Promise<CreateResult>;

  /** Re-reads the backend's inventory of keys, e.g. after keys were created or removed outside this process. */
  refresh(options?: CallOptions): Promise<void>;

  /** Releases sessions and connections. The backend is unusable afterwards. */
  close(): Promise<void>;
}
