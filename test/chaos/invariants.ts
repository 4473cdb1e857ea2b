// What must hold after every chaos trial, checked on a snapshot of the world (the ManagedKeys as the API server has
// them, the objects the backend holds, when objects were seen to disappear, the ceremonies' transcripts). Pure, so
// that test/unit/chaos/invariants.test.ts can feed it a broken world and see each violation reported.
import { verifyChain } from '../../src/ceremony/transcript.ts';
import type { TranscriptEntry } from '../../src/ceremony/transcript.ts';

/** A ManagedKey at the end of a trial. */
export interface KeySnapshot {
  readonly name: string;
  readonly uid: string;
  /** An offline root's key: never Ready (no PIN in the cluster), so its readiness is not part of convergence. */
  readonly offline?: boolean;
  /** Gone from the API server (its finalizer removed after deletion). */
  readonly gone: boolean;
  readonly deletionPolicy: 'Retain' | 'Disable' | 'Destroy';
  /** destroyAfter in ms. */
  readonly destroyAfterMs: number;
  /** When the trial asked for its deletion (trial time, ms), if it did. */
  readonly deletionRequestedAt?: number;
  /** status.destroyTime (ms), once the operator wrote it. */
  readonly destroyTime?: number;
  readonly generation?: number;
  readonly observedGeneration?: number;
  readonly ready: boolean;
  readonly phase?: string;
  /** A rotation that failed is tried again then (status.nextRotationTime with failedRotationAttempts), ms. */
  readonly rotationRetryAt?: number;
  /** status.versions. */
  readonly versions: readonly { readonly version: number; readonly state: string }[];
}

/** How many live (not destroyed) objects the backend holds for one version of one key. */
export interface BackendObjects {
  readonly uid: string;
  readonly version: number;
  readonly count: number;
}

/** An object of a version seen gone from the backend, at trial time `at` (ms). */
export interface Disappearance {
  readonly uid: string;
  readonly version: number;
  readonly at: number;
}

export interface TranscriptSnapshot {
  readonly ceremony: string;
  /** The chain's genesis: the ceremony's challenge. */
  readonly genesis: string;
  /** status.transcript.headHash, when the ceremony recorded one. */
  readonly headHash?: string;
  readonly entries: readonly TranscriptEntry[];
}

export interface WorldSnapshot {
  /** Trial time (the operators' clock) when the snapshot was taken, ms. */
  readonly now: number;
  readonly keys: readonly KeySnapshot[];
  readonly objects: readonly BackendObjects[];
  readonly disappearances: readonly Disappearance[];
  readonly transcripts: readonly TranscriptSnapshot[];
}

export type InvariantName =
  | 'no-duplicate-object'
  | 'no-untracked-object'
  | 'no-lost-version'
  | 'no-early-destruction'
  | 'transcript-chain-valid'
  | 'status-converged';

export interface Violation {
  readonly invariant: InvariantName;
  readonly message: string;
}

/** The longest a failed rotation waits before it is tried again (src/controllers/managedkey/rotation.ts). */
const MAX_BACKOFF_MS = 24 * 3_600_000;

const iso = (ms: number): string => new Date(ms).toISOString();

/** Why the key has not settled (Ready for the spec it was given, or deleted as its policy says), if it has not. */
export function converged(key: KeySnapshot, now: number): string | undefined {
  if (key.gone) return undefined;
  if (key.deletionRequestedAt !== undefined) {
    // Deleted but still here: only a Destroy policy may wait, in PendingDestruction until its destroy time.
    if (
      key.deletionPolicy === 'Destroy' &&
      key.phase === 'PendingDestruction' &&
      key.destroyTime !== undefined
    ) {
      if (key.destroyTime > now) return undefined;
      return `${key.name}: its window ended at ${iso(key.destroyTime)} but it is still there`;
    }
    return `${key.name} was deleted but is still there (phase ${key.phase ?? 'none'})`;
  }
  if (key.offline) return undefined;
  if (!key.ready) return `${key.name} is not Ready (phase ${key.phase ?? 'none'})`;
  if (key.observedGeneration !== key.generation)
    return `${key.name}: observedGeneration ${String(key.observedGeneration)} != generation ${String(key.generation)}`;
  // A version stays in flight while a failed rotation backs off (1 h doubling up to a day): settled, if the retry
  // is set within the backoff's bound.
  const retrying =
    key.rotationRetryAt !== undefined &&
    key.rotationRetryAt > now &&
    key.rotationRetryAt <= now + MAX_BACKOFF_MS;
  if (!retrying && key.versions.some((v) => v.state === 'Generating'))
    return `${key.name}: a version is still Generating`;
  return undefined;
}

export function checkInvariants(world: WorldSnapshot): Violation[] {
  const violations: Violation[] = [];
  const add = (invariant: InvariantName, message: string): void => {
    violations.push({ invariant, message });
  };
  const keysByUid = new Map(world.keys.map((k) => [k.uid, k]));

  for (const { uid, version, count } of world.objects) {
    const key = keysByUid.get(uid);
    const name = key ? `${key.name} v${version}` : `uid ${uid} v${version}`;
    if (count > 1) add('no-duplicate-object', `${name}: ${count} key objects in the backend`);
    if (key && !key.gone && !key.versions.some((v) => v.version === version))
      add('no-untracked-object', `${name} is in the backend but not in status`);
  }

  for (const key of world.keys) {
    const destroyedByPolicy = key.gone && key.deletionPolicy === 'Destroy';
    if (destroyedByPolicy) {
      for (const { version } of world.objects.filter((o) => o.uid === key.uid))
        add('no-lost-version', `${key.name} v${version} was left in the backend after the key was destroyed`);
    }
    for (const { version, state } of key.versions) {
      if (state === 'Generating' || state === 'Destroyed' || destroyedByPolicy) continue;
      const held = world.objects.find((o) => o.uid === key.uid && o.version === version);
      if (!held || held.count === 0)
        add('no-lost-version', `${key.name} v${version} is ${state} in status but not in the backend`);
    }
    const notConverged = converged(key, world.now);
    if (notConverged !== undefined) add('status-converged', notConverged);
  }

  for (const { uid, version, at } of world.disappearances) {
    const key = keysByUid.get(uid);
    const name = key ? `${key.name} v${version}` : `uid ${uid} v${version}`;
    if (key?.deletionPolicy !== 'Destroy' || key.deletionRequestedAt === undefined) {
      add('no-early-destruction', `${name} disappeared at ${iso(at)} though nothing allowed its destruction`);
      continue;
    }
    // status.destroyTime is what the operator promised; metav1.Time has whole seconds, so the window counted from
    // the request may end up to a second sooner than the request time plus destroyAfter.
    const allowed = Math.max(key.deletionRequestedAt + key.destroyAfterMs - 1000, key.destroyTime ?? 0);
    if (at < allowed)
      add(
        'no-early-destruction',
        `${name} disappeared at ${iso(at)}, before its window ended at ${iso(allowed)}`,
      );
  }

  for (const transcript of world.transcripts) {
    const broken = verifyChain(transcript.entries, transcript.genesis);
    if (broken !== undefined) add('transcript-chain-valid', `${transcript.ceremony}: ${broken}`);
    const head = transcript.entries.at(-1)?.hash;
    if (transcript.headHash !== undefined && transcript.headHash !== head)
      add(
        'transcript-chain-valid',
        `${transcript.ceremony}: status headHash ${transcript.headHash} is not the last entry's hash ${String(head)}`,
      );
  }
  return violations;
}
