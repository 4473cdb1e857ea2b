// The versions of a ManagedKey in its backend: their identities, the usages each state allows, and generation.
//
// A version's backend identity is derived from the ManagedKey's uid and the version number, never chosen at random,
// so whatever a crashed reconcile left in the backend is found and adopted: a key is never generated twice, and a
// version the status never recorded is never lost.
import { isAsymmetric } from '../../api/algorithms.ts';
import type { KeyVersion, ManagedKeyObject, ManagedKeyStatus } from '../../api/v1alpha1/managedkey.ts';
import { archivedUsages } from '../../backends/algorithms.ts';
import type { KeyBackend } from '../../backends/backend.ts';
import type { KeyIdentity } from '../../backends/identity.ts';
import type { KeyUsage } from '../../api/algorithms.ts';
import { formatTime } from '../../runtime/clock.ts';

export type VersionState = KeyVersion['state'];

export function keyIdentity(key: ManagedKeyObject, version: number): KeyIdentity {
  const { uid = '', namespace = '', name = '' } = key.metadata;
  return { uid, namespace, name, version };
}

/** What a version in a given state may do in the backend. */
export function usagesInState(state: VersionState, usages: readonly KeyUsage[]): KeyUsage[] {
  switch (state) {
    case 'Active':
      return [...usages];
    case 'Archived':
      return archivedUsages(usages);
    case 'Disabled':
    case 'PendingDestruction':
    case 'Destroyed':
      return [];
  }
}

/** Versions whose public keys verifiers should accept: the current one and the archived ones. */
export function usableVersions(versions: readonly KeyVersion[]): KeyVersion[] {
  return versions.filter((v) => v.state === 'Active' || v.state === 'Archived');
}

export function newestVersion(versions: readonly KeyVersion[] | undefined): number {
  return Math.max(0, ...(versions ?? []).map((v) => v.version));
}

/** The status fields that name the current version. */
export function currentVersionFields(
  entry: KeyVersion,
): Pick<ManagedKeyStatus, 'currentVersion' | 'keyRef' | 'publicKeyFingerprint'> {
  return { currentVersion: entry.version, keyRef: entry.keyRef, publicKeyFingerprint: entry.fingerprint };
}

/**
 * Generates `version` in the backend, or adopts it if a reconcile that crashed before recording it already did.
 * Returns the status entry to record, Active from now.
 */
export async function generateVersion(
  backend: KeyBackend,
  key: ManagedKeyObject,
  version: number,
  nowMs: number,
): Promise<{ entry: KeyVersion; outcome: 'created' | 'adopted' }> {
  const identity = keyIdentity(key, version);
  const { outcome, key: observed } = await backend.create(identity, {
    algorithm: key.spec.algorithm,
    usages: key.spec.usages,
  });
  const fingerprint = isAsymmetric(key.spec.algorithm)
    ? (await backend.publicKey(identity)).fingerprint
    : undefined;
  return {
    outcome,
    entry: {
      version,
      state: 'Active',
      keyRef: observed.keyRef,
      ...(fingerprint ? { fingerprint } : {}),
      createdTime: formatTime(nowMs),
    },
  };
}
