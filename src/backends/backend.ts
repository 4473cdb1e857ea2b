// The interface every key backend implements (PKCS#11 now; AWS CloudHSM, Azure Key Vault and GCP KMS later).
// Shaped like a Crossplane external client: observe a key version, create it (idempotently), update what it may do,
// delete it. Every method rejects with a BackendError from ./errors.ts.

import type { Algorithm, KeyUsage } from './algorithms.ts';
import type { KeyIdentity } from './identity.ts';
import type { PublicKeyInfo } from './public-key.ts';

export interface BackendCapabilities {
  /** Algorithms this backend can generate and use, as found on the backend (not assumed from its type). */
  readonly algorithms: readonly Algorithm[];
  /** The backend rotates keys itself on a schedule. */
  readonly nativeRotation: boolean;
  /** The backend keeps versions of one key itself (otherwise each Keyward version is a separate key). */
  readonly versions: boolean;
  /** The shortest delay the backend imposes between a destroy request and the key being gone, in seconds. */
  readonly minDestroyDelaySeconds: number;
}

/** What the backend is, for KeyBackend status. */
export interface BackendInfo {
  readonly manufacturer: string;
  readonly model: string;
  readonly serial: string;
  /** The token, partition, vault or key ring that keys live in. */
  readonly tokenLabel: string;
  readonly firmwareVersion?: string;
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
}

/** A key version as the backend holds it. */
export interface ObservedKey {
  readonly algorithm: Algorithm;
  /** Usages currently enabled; empty when the key is disabled. */
  readonly usages: readonly KeyUsage[];
  /** How other software finds the key: an RFC 7512 `pkcs11:` URI or the cloud's resource name. Never a secret. */
  readonly keyRef: string;
  /** The human-readable name the backend shows (e.g. the PKCS#11 label). */
  readonly label: string;
}

export interface CreateResult {
  /** `adopted` when a key with this identity already existed (a retry, or a crash before status was written). */
  readonly outcome: 'created' | 'adopted';
  readonly key: ObservedKey;
}

export interface SignOptions {
  /** RSA only: PKCS#1 v1.5 (default) or PSS with MGF1 and a salt as long as the digest. */
  readonly rsaPadding?: 'pkcs1' | 'pss';
}

export interface KeyBackend {
  /** Backend type, e.g. `pkcs11`: the `backend_type` metric label. */
  readonly type: string;

  capabilities(): BackendCapabilities;

  /** Checks the backend is reachable and the login still valid; says what it is. */
  health(): Promise<BackendHealth>;

  /** The key version with this identity, or undefined when the backend has none. */
  observe(identity: KeyIdentity): Promise<ObservedKey | undefined>;

  /**
   * Generates the key version inside the backend, or adopts the one that already carries this identity (after
   * checking it has the same algorithm and the required protection). Safe to call again after any failure.
   */
  create(identity: KeyIdentity, spec: KeySpec): Promise<CreateResult>;

  /** The public key of an asymmetric key version; Unsupported for secret keys. */
  publicKey(identity: KeyIdentity): Promise<PublicKeyInfo>;

  /**
   * Signs `data` (the message, not a digest; the backend hashes it with SIGNATURE_DIGEST). ECDSA signatures are raw
   * r||s (IEEE P1363), Ed25519 is PureEdDSA, HMAC_SHA256 returns the MAC. For self-tests and ceremonies.
   */
  sign(identity: KeyIdentity, data: Buffer, options?: SignOptions): Promise<Buffer>;

  /** Verifies inside the backend; false when the signature does not match. Needs `verify` enabled. */
  verify(identity: KeyIdentity, data: Buffer, signature: Buffer, options?: SignOptions): Promise<boolean>;

  /**
   * Sets which operations the key version may perform. An empty list disables it; the spec's usages enable it again;
   * archivedUsages(spec.usages) keeps an archived version for verify/decrypt/unwrap only.
   */
  setUsages(identity: KeyIdentity, usages: readonly KeyUsage[]): Promise<void>;

  /** Destroys the key version (every object carrying its identity). `absent` when there was nothing to destroy. */
  destroy(identity: KeyIdentity): Promise<'destroyed' | 'absent'>;

  /** Re-reads the backend's inventory of keys, e.g. after keys were created or removed outside this process. */
  refresh(): Promise<void>;

  /** Releases sessions and connections. The backend is unusable afterwards. */
  close(): Promise<void>;
}
