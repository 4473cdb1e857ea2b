import { createHash } from 'node:crypto';

/**
 * Who a key version belongs to. A backend derives its key's identity (PKCS#11 CKA_ID and label, a cloud key name)
 * from this and nothing random, so a reconcile that crashed between generating a key and recording it finds and
 * adopts that key instead of making a second one.
 */
export interface KeyIdentity {
  /** metadata.uid of the ManagedKey: unique for the object's lifetime, never reused. */
  readonly uid: string;
  /** namespace and name only make the label readable for humans; they are not part of the digest. */
  readonly namespace: string;
  readonly name: string;
  /** Key version, 1 and up. */
  readonly version: number;
  /**
   * The backend's own id of the version once status recorded it (ObservedVersion.versionId). Backends find the
   * version by it, so an id the backend had to choose (a YubiHSM id that collided) is found again.
   */
  readonly versionId?: string;
  /**
   * The target (BackendTarget.id) status recorded the version on. No backend acts on a version recorded on another
   * target: a KeyBackend edited to point at another token must not generate, change or destroy anything there.
   */
  readonly target?: string;
}

export function assertValidIdentity(identity: KeyIdentity): void {
  if (identity.uid === '' || identity.namespace === '' || identity.name === '') {
    throw new TypeError('key identity needs a uid, a namespace and a name');
  }
  if (!Number.isSafeInteger(identity.version) || identity.version < 1) {
    throw new TypeError(`key version must be a positive integer, got ${identity.version}`);
  }
}

/** SHA-256("keyward/<uid>/<version>"): stable across restarts, unique per ManagedKey and version. */
export function identityDigest(identity: KeyIdentity): Buffer {
  return createHash('sha256').update(`keyward/${identity.uid}/${identity.version}`).digest();
}

/** `<namespace>/<name>/v<version>`, the label a human finds the key by in the backend's own tools. */
export function identityLabel(identity: KeyIdentity): string {
  return `${identity.namespace}/${identity.name}/v${identity.version}`;
}
