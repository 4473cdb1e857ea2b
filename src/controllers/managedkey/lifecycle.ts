// One reconcile's worth of rotation and version ageing for a key whose current version exists and was verified.
// Each step writes status before the next irreversible one (see rotation.ts for why that is crash-safe).
import type { ManagedKeyObject, ManagedKeyStatus } from '../../api/v1alpha1/managedkey.ts';
import type { KeyBackend } from '../../backends/backend.ts';
import { isBackendError } from '../../backends/errors.ts';
import { failpoint } from '../../failpoints.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import {
  ageVersions,
  dueForDestruction,
  formatOptional,
  planRotation,
  recordRotation,
  recordRotationFailure,
} from './rotation.ts';
import type { RotationCause, RotationPlan } from './rotation.ts';
import { generateVersion, keyIdentity, newestVersion } from './versions.ts';

/** Counts rotations by result, for keyward_key_rotations_total. */
export type RotationCounter = (result: 'success' | 'failure') => void;

/** Writes the status as it stands (a no-op when nothing changed). */
export type SaveStatus = (status: ManagedKeyStatus) => Promise<void>;

const CAUSES: Record<RotationCause, string> = {
  period: 'its cryptoperiod ended',
  trigger: 'spec.rotation.trigger changed',
  request: 'rotation was requested through the keyward.io/rotate-requested-at annotation',
};

/**
 * Rotates the key if it is due. A failure is recorded (failedRotationAttempts, a later nextRotationTime) and
 * reported, never thrown: the current version stays usable. Returns the status to continue with.
 */
export async function rotateIfDue(
  key: ManagedKeyObject,
  status: ManagedKeyStatus,
  now: number,
  deps: { backend: KeyBackend; context: ReconcileContext; save: SaveStatus; countRotation: RotationCounter },
): Promise<{ status: ManagedKeyStatus; plan: RotationPlan }> {
  const plan = planRotation(key, status, now);
  const scheduled: ManagedKeyStatus = { ...status, nextRotationTime: formatOptional(plan.next) };
  if (!plan.due) return { status: scheduled, plan };
  const { context } = deps;
  const version = newestVersion(status.versions) + 1;
  try {
    const { entry } = await generateVersion(deps.backend, key, version, now);
    failpoint('rotation-after-generate');
    const rotated = recordRotation(key, status, entry, now);
    await deps.save(rotated);
    failpoint('rotation-after-record');
    deps.countRotation('success');
    context.recorder.record(key, {
      type: 'Normal',
      reason: 'KeyRotated',
      action: 'Rotate',
      note: `version ${version} is now current because ${CAUSES[plan.due]}; next rotation ${rotated.nextRotationTime ?? 'not scheduled'}`,
    });
    if (status.currentVersion !== undefined) {
      context.recorder.record(key, {
        type: 'Normal',
        reason: 'VersionArchived',
        action: 'Archive',
        note: `version ${status.currentVersion} is archived: it can still verify and decrypt, no longer sign or encrypt`,
      });
    }
    return { status: rotated, plan };
  } catch (error) {
    if (!isBackendError(error)) throw error;
    const failed = recordRotationFailure(status, now);
    await deps.save(failed);
    deps.countRotation('failure');
    context.recorder.record(key, {
      type: 'Warning',
      reason: 'RotationFailed',
      action: 'Rotate',
      note: `rotation to version ${version} failed (attempt ${failed.failedRotationAttempts ?? 1}), next try at ${failed.nextRotationTime ?? ''}: ${error.message}`,
    });
    return { status: failed, plan };
  }
}

/**
 * Disables archived versions beyond retainVersions, marks those past destroyArchivedAfter PendingDestruction (saved
 * before anything happens to them), and destroys the pending ones whose time has come. `converge` brings backend
 * usages in line with the new states before anything is destroyed.
 */
export async function ageAndDestroy(
  key: ManagedKeyObject,
  status: ManagedKeyStatus,
  now: number,
  deps: {
    backend: KeyBackend;
    context: ReconcileContext;
    save: SaveStatus;
    converge: (s: ManagedKeyStatus) => Promise<void>;
  },
): Promise<ManagedKeyStatus> {
  const { versions, transitions } = ageVersions(key, status.versions ?? [], now);
  let current: ManagedKeyStatus = { ...status, versions };
  if (transitions.length > 0) {
    await deps.save(current);
    for (const { version, to } of transitions) {
      deps.context.recorder.record(key, {
        type: 'Normal',
        reason: to === 'PendingDestruction' ? 'VersionDestructionScheduled' : 'VersionDisabled',
        action: to === 'PendingDestruction' ? 'ScheduleDestroy' : 'Disable',
        note:
          to === 'PendingDestruction'
            ? `version ${version} is disabled and will be destroyed at ${versions.find((v) => v.version === version)?.destroyTime ?? ''}`
            : `version ${version} is beyond retainVersions and is disabled`,
      });
    }
  }
  await deps.converge(current);
  const due = dueForDestruction(current.versions ?? [], now);
  if (due.length === 0) return current;
  for (const version of due) {
    await deps.backend.destroy(keyIdentity(key, version.version));
    failpoint('rotation-after-destroy');
  }
  const destroyed = new Set(due.map((v) => v.version));
  current = {
    ...current,
    versions: (current.versions ?? []).map((v) =>
      destroyed.has(v.version) ? { ...v, state: 'Destroyed' as const } : v,
    ),
  };
  await deps.save(current);
  for (const version of due) {
    deps.context.recorder.record(key, {
      type: 'Normal',
      reason: 'VersionDestroyed',
      action: 'Destroy',
      note: `version ${version.version} was destroyed in the backend`,
    });
  }
  return current;
}
