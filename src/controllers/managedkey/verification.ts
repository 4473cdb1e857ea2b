// Checks, once per process, at its start, that each recorded version is in the backend on the target it was recorded
// on, is the key that was generated (its fingerprint), and may do exactly what its state allows, restoring the usages
// if someone changed them. A restart checks each version once again. A backend may answer this first check from what
// it read of the whole backend at connect (PKCS#11: the token's enumeration, docs/backends.md), which is such a
// check at the start of the process; later reads go to the backend.
import { isAsymmetric } from '../../api/algorithms.ts';
import { KeyReason } from '../../api/v1alpha1/conditions.ts';
import type { KeyVersion, ManagedKeyObject } from '../../api/v1alpha1/managedkey.ts';
import type { KeyBackend } from '../../backends/backend.ts';
import { FingerprintMismatchError } from './distribution.ts';
import type { PublicKeyCache } from './distribution.ts';
import { keyIdentity, observedFields, usagesInState } from './versions.ts';

/** A recorded version that is gone from the backend, or no longer what was generated. */
export class VersionIntegrityError extends Error {
  readonly reason: string;
  constructor(message: string, reason: string) {
    super(message);
    this.reason = reason;
  }
}

export interface VerificationResult {
  /** The versions, with target and backend id filled in where status predates recording them. */
  readonly versions: KeyVersion[];
  /** Archived or disabled versions that are missing: reported, but the current version goes on being used. */
  readonly missing: readonly number[];
}

/**
 * Throws VersionIntegrityError when the current version is missing or not the generated key, or any version's
 * fingerprint differs; returns the missing older versions.
 */
export async function verifyVersions(
  key: ManagedKeyObject,
  versions: readonly KeyVersion[],
  backend: KeyBackend,
  publicKeys: PublicKeyCache,
  verified: Set<string>,
  now: number,
): Promise<VerificationResult> {
  const missing: number[] = [];
  const checked: KeyVersion[] = [];
  for (const version of versions) {
    const memo = verificationMemo(key, version, backend);
    if (version.state === 'Destroyed' || version.state === 'Generating' || verified.has(memo)) {
      checked.push(version);
      continue;
    }
    const identity = keyIdentity(key, version.version, version);
    const observed = await backend.observe(identity);
    if (!observed || observed.state === 'Destroyed') {
      // Destroyed after its time came, before status said so (a crash): its destruction finishes the record.
      const destroyTime = version.destroyTime === undefined ? Infinity : Date.parse(version.destroyTime);
      if (version.state === 'PendingDestruction' && now >= destroyTime) {
        checked.push(version);
        continue;
      }
      if (version.version !== currentOf(key, versions)) {
        missing.push(version.version);
        checked.push(version);
        continue;
      }
      throw new VersionIntegrityError(
        `version ${version.version} (${version.keyRef ?? 'no reference'}) is missing from ${backend.target.description}; it was not regenerated, to avoid silently replacing a key that is in use`,
        KeyReason.KeyMissing,
      );
    }
    const recorded = { ...version, ...observedFields(observed) };
    if (isAsymmetric(key.spec.algorithm)) {
      try {
        await publicKeys.get(backend, key, recorded);
      } catch (error) {
        if (error instanceof FingerprintMismatchError) {
          throw new VersionIntegrityError(error.message, KeyReason.FingerprintMismatch);
        }
        throw error;
      }
    }
    const expected = usagesInState(version.state, key.spec.usages, backend.capabilities().archival);
    if (!sameSet(observed.usages, expected))
      await backend.setUsages(keyIdentity(key, version.version, recorded), expected);
    verified.add(memo);
    checked.push(recorded);
  }
  return { versions: checked, missing };
}

/** What `verified` holds for a version checked in a state; per target too, so another token is checked again. */
function verificationMemo(key: ManagedKeyObject, version: KeyVersion, backend: KeyBackend): string {
  return `${key.metadata.uid ?? ''}/${version.version}/${version.state}/${backend.target.id}`;
}

/**
 * Counts a version this process has just created as checked: the backend's create read it back and proved it, and
 * its fingerprint was read from the key made, so checking it again at once only costs a token round trip per key
 * (on PKCS#11, synchronous reads that wait on the token while other keys are generated). An adopted version is
 * checked as usual (its usages could differ from the state's).
 */
export function markCreated(
  verified: Set<string>,
  key: ManagedKeyObject,
  version: KeyVersion,
  backend: KeyBackend,
): void {
  verified.add(verificationMemo(key, version, backend));
}

function currentOf(key: ManagedKeyObject, versions: readonly KeyVersion[]): number | undefined {
  return key.status?.currentVersion ?? versions.find((v) => v.state === 'Active')?.version;
}

function sameSet<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item) => b.includes(item));
}
