// The versions of a ManagedKey in its backend: their identities, the usages each state allows, and generation.
//
// A version's backend identity is derived from the ManagedKey's uid and the version number, never chosen at random,
// and status marks the version in flight (Generating) before the backend is asked to make it. So whatever a crashed
// reconcile left in the backend is found and adopted, a key is never generated twice, a version the status never
// recorded is never lost, and a version status never marked is never taken over.
import { isAsymmetric } from '../../api/algorithms.ts';
import type { KeyUsage } from '../../api/algorithms.ts';
import type { KeyVersion, ManagedKeyObject, ManagedKeyStatus } from '../../api/v1alpha1/managedkey.ts';
import { archivedUsages } from '../../backends/algorithms.ts';
import type { ArchivalEnforcement, KeyBackend, ObservedVersion } from '../../backends/backend.ts';
import type { KeyIdentity } from '../../backends/identity.ts';
import type { KubeClient } from '../../kube/client.ts';
import { formatTime } from '../../runtime/clock.ts';
import { EXTERNAL_NAME_ANNOTATION } from './names.ts';
import { backUpVersion } from './recovery.ts';

export type VersionState = KeyVersion['state'];

/** The uid the key's versions are made under: its own, or the one keyward.io/external-name names. */
export function identityRoot(key: ManagedKeyObject): string {
  return key.metadata.annotations?.[EXTERNAL_NAME_ANNOTATION] ?? key.metadata.uid ?? '';
}

/** The backend identity of a version; with its status entry, the backend's own id and target as recorded. */
export function keyIdentity(key: ManagedKeyObject, version: number, entry?: KeyVersion): KeyIdentity {
  const { namespace = '', name = '' } = key.metadata;
  return {
    uid: identityRoot(key),
    namespace,
    name,
    version,
    ...(entry?.backendVersion === undefined ? {} : { versionId: entry.backendVersion }),
    ...(entry?.target === undefined ? {} : { target: entry.target }),
  };
}

/**
 * What a version in a given state may do in the backend. An archived version keeps verify/decrypt/unwrap only where
 * the backend restricts usages; elsewhere it stays enabled and archival moves the primary or the reference.
 */
export function usagesInState(
  state: VersionState,
  usages: readonly KeyUsage[],
  archival: ArchivalEnforcement = 'usages',
): KeyUsage[] {
  switch (state) {
    case 'Active':
      return [...usages];
    case 'Archived':
      return archival === 'usages' ? archivedUsages(usages) : [...usages];
    case 'Generating':
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

/** The version status marked in flight, if a generation is under way (or was, before a crash). */
export function inFlightVersion(status: ManagedKeyStatus): KeyVersion | undefined {
  return status.versions?.find((v) => v.state === 'Generating');
}

/** The status with `version` marked in flight: to be saved before the backend is asked to make it. */
export function markInFlight(status: ManagedKeyStatus, version: number, now: number): ManagedKeyStatus {
  const entry: KeyVersion = { version, state: 'Generating', createdTime: formatTime(now) };
  return { ...status, versions: [entry, ...(status.versions ?? [])] };
}

/** The status fields that name the current version. */
export function currentVersionFields(
  entry: KeyVersion,
): Pick<ManagedKeyStatus, 'currentVersion' | 'keyRef' | 'publicKeyFingerprint'> {
  return { currentVersion: entry.version, keyRef: entry.keyRef, publicKeyFingerprint: entry.fingerprint };
}

/** The fields of a status entry that record where and what a version is in the backend. */
export function observedFields(
  observed: ObservedVersion,
): Pick<KeyVersion, 'keyRef' | 'backendVersion' | 'target'> {
  return { keyRef: observed.keyRef, backendVersion: observed.versionId, target: observed.target };
}

export type GenerationOutcome =
  | { readonly done: true; readonly entry: KeyVersion; readonly outcome: 'created' | 'adopted' }
  | { readonly done: false; readonly entry: KeyVersion };

/**
 * Generates the in-flight version `entry` in the backend, or adopts it if a reconcile that crashed after marking
 * it already did. Returns the entry to record: Active once the backend has the key, still Generating (with the
 * backend's id) while an asynchronous backend is making it.
 */
export async function generateVersion(
  backend: KeyBackend,
  key: ManagedKeyObject,
  entry: KeyVersion,
  nowMs: number,
  client: KubeClient,
): Promise<GenerationOutcome> {
  const identity = keyIdentity(key, entry.version, entry);
  const created = await backend.create(identity, {
    algorithm: key.spec.algorithm,
    usages: key.spec.usages,
    ...(key.spec.recovery ? { recoverable: true } : {}),
  });
  const { outcome, version: observed } = created;
  const recorded: KeyVersion = { ...entry, ...observedFields(observed) };
  if (observed.state === 'PendingGeneration') return { done: false, entry: recorded };
  // Backed up and sealed before the version is recorded Active (recovery.ts says why that order is crash-safe).
  const recovery = key.spec.recovery
    ? await backUpVersion(
        backend,
        client,
        key,
        { ...identity, versionId: observed.versionId, target: observed.target },
        nowMs,
      )
    : undefined;
  const fingerprint = isAsymmetric(key.spec.algorithm)
    ? (
        created.publicKey ??
        (await backend.publicKey({ ...identity, versionId: observed.versionId, target: observed.target }))
      ).fingerprint
    : undefined;
  return {
    done: true,
    outcome,
    entry: {
      ...recorded,
      state: 'Active',
      ...(fingerprint ? { fingerprint } : {}),
      ...(recovery ? { recovery } : {}),
      createdTime: formatTime(nowMs),
    },
  };
}

/** Versions the backend holds that status does not record: never taken over unless asked for (EXTERNAL_NAME). */
export function unrecorded(
  observed: readonly ObservedVersion[],
  recorded: readonly KeyVersion[] | undefined,
): number[] {
  const known = new Set((recorded ?? []).map((v) => v.version));
  return observed
    .map((o) => o.version)
    .filter((version) => !known.has(version))
    .sort((a, b) => a - b);
}
