// Rotation and the later lifecycle of a ManagedKey's versions: when the key rotates, and what becomes of the
// versions it rotated away from (archived, disabled beyond retainVersions, destroyed after destroyArchivedAfter).
//
// Crash safety: a new version's identity is derived (versions.ts), so a rotation that died after generating it is
// finished by adopting it; status is written once the version exists, so no version is lost; a version is marked
// PendingDestruction with its time in status before it is destroyed, so nothing is destroyed early; and backend
// usages follow status (the controller's verification restores them after a crash).
import type { KeyVersion, ManagedKeyObject, ManagedKeyStatus } from '../../api/v1alpha1/managedkey.ts';
import { formatTime } from '../../runtime/clock.ts';
import { parseDuration } from '../../runtime/duration.ts';
import { nextWindowOpening, rotationRetryDelay } from './schedule.ts';
import { currentVersionFields } from './versions.ts';

/** Set this annotation to any new value (e.g. the current time) to rotate the key once, now. */
export const ROTATE_ANNOTATION = 'keyward.io/rotate-requested-at';

export type RotationCause = 'period' | 'trigger' | 'request';

export interface RotationPlan {
  /** Why the key rotates now; undefined when it does not. */
  due?: RotationCause;
  /** When it rotates next on schedule (or retries after a failure); undefined without a period. */
  next?: number;
  /** Set when the maintenance windows never open within a cryptoperiod after the key is due. */
  windowProblem?: string;
  /** Waiting out the delay after a failed attempt. */
  backingOff?: boolean;
}

const ms = (time: string | undefined): number | undefined =>
  time === undefined ? undefined : Date.parse(time);

function currentEntry(status: ManagedKeyStatus): KeyVersion | undefined {
  return status.versions?.find((v) => v.version === status.currentVersion);
}

/**
 * Whether and when the key rotates. A trigger or a request rotates at once; the period rotates only while a window
 * is open, also after a failed attempt or downtime: a window that closed meanwhile is waited for again.
 */
export function planRotation(key: ManagedKeyObject, status: ManagedKeyStatus, now: number): RotationPlan {
  const rotation = key.spec.rotation;
  const current = currentEntry(status);
  if (!rotation || !current) return {};
  const request = key.metadata.annotations?.[ROTATE_ANNOTATION];
  const period = parseDuration(rotation.period);
  const windows = rotation.windows ?? [];
  // The cryptoperiod of the current version.
  const due = Date.parse(current.createdTime) + period;
  const retryAt = (status.failedRotationAttempts ?? 0) > 0 ? ms(status.nextRotationTime) : undefined;
  const from = Math.max(due, retryAt ?? due);
  const opening = nextWindowOpening(windows, from, period);
  const plan: RotationPlan = {
    next: opening ?? retryAt ?? due,
    ...(opening === undefined
      ? {
          windowProblem: `no maintenance window opens within ${rotation.period} after the key is due to rotate`,
        }
      : {}),
  };
  const requested =
    rotation.trigger !== undefined && rotation.trigger !== status.lastRotationTrigger
      ? ('trigger' as const)
      : request !== undefined && request !== status.lastRotationRequest
        ? ('request' as const)
        : undefined;
  if (retryAt !== undefined && now < retryAt) {
    // A trigger or request that failed is tried again when the backoff ends, not at the next periodic time: the
    // schedule written from this plan is also the retry time the next reconcile reads.
    return {
      ...plan,
      ...(requested ? { next: Math.min(plan.next ?? retryAt, retryAt) } : {}),
      backingOff: true,
    };
  }
  if (requested) return { ...plan, due: requested };
  if (opening === undefined || now < opening) return plan;
  // Due: rotate if a window is open now; otherwise wait for the next one to open.
  const openNow = nextWindowOpening(windows, now, period);
  if (openNow === now) return { ...plan, due: 'period' };
  return { ...plan, next: openNow ?? plan.next };
}

/** The status after `entry` became the current version: the previous one archived, the schedule moved on. */
export function recordRotation(
  key: ManagedKeyObject,
  status: ManagedKeyStatus,
  entry: KeyVersion,
  now: number,
): ManagedKeyStatus {
  const versions = (status.versions ?? [])
    .filter((v) => v.version !== entry.version)
    .map((v) =>
      v.state === 'Active' ? { ...v, state: 'Archived' as const, archivedTime: formatTime(now) } : v,
    );
  const rotated: ManagedKeyStatus = {
    ...status,
    versions: [entry, ...versions],
    ...currentVersionFields(entry),
    lastRotationTime: formatTime(now),
    failedRotationAttempts: 0,
    ...acknowledged(key),
  };
  return { ...rotated, nextRotationTime: formatOptional(planRotation(key, rotated, now).next) };
}

/** Marks the trigger and rotation request as acted upon (also at first generation: they ask for a rotation). */
export function acknowledged(
  key: ManagedKeyObject,
): Pick<ManagedKeyStatus, 'lastRotationTrigger' | 'lastRotationRequest'> {
  return {
    lastRotationTrigger: key.spec.rotation?.trigger,
    lastRotationRequest: key.metadata.annotations?.[ROTATE_ANNOTATION],
  };
}

/** The status after a failed rotation: counted, and retried after 1h doubling up to a day. */
export function recordRotationFailure(status: ManagedKeyStatus, now: number): ManagedKeyStatus {
  const failures = (status.failedRotationAttempts ?? 0) + 1;
  return {
    ...status,
    failedRotationAttempts: failures,
    nextRotationTime: formatTime(now + rotationRetryDelay(failures)),
  };
}

export interface VersionTransition {
  version: number;
  from: KeyVersion['state'];
  to: KeyVersion['state'];
}

/**
 * Moves archived versions along: beyond retainVersions they are disabled (and archived again when retainVersions
 * grows); destroyArchivedAfter after archival they become PendingDestruction, destroyed destroyAfter later. Without
 * spec.rotation nothing moves: removing it stops rotation, it does not retire the archive. Returns the new list and
 * what changed.
 */
export function ageVersions(
  key: ManagedKeyObject,
  versions: readonly KeyVersion[],
  now: number,
): { versions: KeyVersion[]; transitions: VersionTransition[] } {
  const rotation = key.spec.rotation;
  if (!rotation) return { versions: [...versions], transitions: [] };
  const retain = rotation.retainVersions;
  const destroyArchivedAfter = rotation.destroyArchivedAfter;
  const destroyAfter = parseDuration(key.spec.destroyAfter);
  const transitions: VersionTransition[] = [];
  let kept = 0;
  const aged = [...versions]
    .sort((a, b) => b.version - a.version)
    .map((version): KeyVersion => {
      if (version.state !== 'Archived' && version.state !== 'Disabled') return version;
      const retained = ++kept <= retain;
      let next: KeyVersion = version;
      if (version.state === 'Archived' && !retained) next = { ...version, state: 'Disabled' };
      if (version.state === 'Disabled' && retained) next = { ...version, state: 'Archived' };
      const archived = ms(version.archivedTime);
      if (destroyArchivedAfter !== undefined && archived !== undefined) {
        if (now >= archived + parseDuration(destroyArchivedAfter)) {
          next = { ...version, state: 'PendingDestruction', destroyTime: formatTime(now + destroyAfter) };
        }
      }
      if (next.state !== version.state)
        transitions.push({ version: version.version, from: version.state, to: next.state });
      return next;
    });
  return { versions: aged, transitions };
}

/** Versions whose destruction time has come. */
export function dueForDestruction(versions: readonly KeyVersion[], now: number): KeyVersion[] {
  return versions.filter(
    (v) =>
      v.state === 'PendingDestruction' &&
      now >= (ms(v.destroyTime) ?? Infinity) &&
      now >= (ms(v.destroyHeldUntil) ?? 0),
  );
}

/** The next moment something about the versions changes on its own: a rotation, an archival expiry, a destruction. */
export function nextLifecycleEvent(key: ManagedKeyObject, status: ManagedKeyStatus): number | undefined {
  const destroyArchivedAfter = key.spec.rotation?.destroyArchivedAfter;
  const times = [
    ms(status.nextRotationTime),
    ...(status.versions ?? []).map((v) => {
      // A backend that holds a destruction longer than status says is asked again when its own time comes.
      if (v.state === 'PendingDestruction')
        return Math.max(ms(v.destroyTime) ?? 0, ms(v.destroyHeldUntil) ?? 0);
      const archived = ms(v.archivedTime);
      if (
        (v.state === 'Archived' || v.state === 'Disabled') &&
        archived !== undefined &&
        destroyArchivedAfter
      ) {
        return archived + parseDuration(destroyArchivedAfter);
      }
      return undefined;
    }),
  ].filter((t): t is number => t !== undefined);
  return times.length > 0 ? Math.min(...times) : undefined;
}

export function formatOptional(time: number | undefined): string | undefined {
  return time === undefined ? undefined : formatTime(time);
}
