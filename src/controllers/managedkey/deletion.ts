// What deleting a ManagedKey does to its key, by deletionPolicy:
// - Retain: nothing; the key stays in the backend.
// - Disable: every version loses all its usages (CKA_SIGN, CKA_DECRYPT, ... cleared), then the object goes.
// - Destroy: every version is disabled at once and the key shows PendingDestruction with the time of destruction;
//   after destroyAfter, every version is destroyed, then the object goes.
// The finalizer is removed only after the backend confirmed, so no destruction is ever lost; and the time of
// destruction is in status before anything irreversible happens, so a restart never destroys early.
import { ConditionType } from '../../api/v1alpha1/conditions.ts';
import type { ManagedKeyObject, ManagedKeyStatus } from '../../api/v1alpha1/managedkey.ts';
import { isBackendError } from '../../backends/errors.ts';
import { failpoint } from '../../failpoints.ts';
import { formatTime } from '../../runtime/clock.ts';
import { setCondition } from '../../runtime/conditions.ts';
import type { ReconcileContext, ReconcileResult } from '../../runtime/controller.ts';
import { parseDuration } from '../../runtime/duration.ts';
import { removeFinalizer } from '../../runtime/finalizers.ts';
import { updateStatus } from '../../runtime/status.ts';
import { KEY_FINALIZER, managedKeyType } from './controller.ts';
import type { KeyBackend } from '../../backends/backend.ts';
import type { BackendConnections } from '../keybackend/connections.ts';
import { keyIdentity, newestVersion } from './versions.ts';

/** How often a deletion blocked by an unavailable backend looks again (a KeyBackend change also wakes it). */
const BLOCKED_RETRY_MS = 60_000;

export async function finalizeKey(
  key: ManagedKeyObject,
  context: ReconcileContext,
  connections: BackendConnections,
): Promise<ReconcileResult> {
  if (!key.metadata.finalizers?.includes(KEY_FINALIZER)) return {};
  const policy = key.spec.deletionPolicy;
  // Versions a crashed rotation may have created beyond those recorded are found by probing (see below).
  const recorded = (key.status?.versions ?? []).filter((v) => v.state !== 'Destroyed').map((v) => v.version);
  if (policy === 'Retain' || (recorded.length === 0 && !key.status?.currentVersion)) {
    await removeFinalizer(context.client, managedKeyType, key, KEY_FINALIZER);
    return {};
  }
  const now = context.clock.now();
  const status: ManagedKeyStatus = { ...(key.status ?? {}) };

  const connection = connections.get(key.spec.backendRef.name);
  if (!connection?.ready) {
    const why = connection ? connection.message : `KeyBackend ${key.spec.backendRef.name} is not connected`;
    status.conditions = setCondition(
      status.conditions,
      {
        type: ConditionType.Ready,
        status: 'False',
        reason: 'BackendNotReady',
        message: `cannot ${policy === 'Disable' ? 'disable' : 'destroy'} the key yet: ${why}`,
      },
      now,
    );
    await updateStatus(context.client, managedKeyType, key, status);
    return { requeueAfter: BLOCKED_RETRY_MS };
  }
  const { backend } = connection;

  const versions = [...recorded, newestVersion(key.status?.versions) + 1];
  try {
    if (policy === 'Disable' || !status.destroyTime) {
      for (const version of versions) await disable(backend, key, version);
    }
    if (policy === 'Disable') {
      context.recorder.record(key, {
        type: 'Normal',
        reason: 'KeyDisabled',
        action: 'Disable',
        note: `every version of the key is disabled in KeyBackend ${key.spec.backendRef.name} and kept there`,
      });
      await removeFinalizer(context.client, managedKeyType, key, KEY_FINALIZER);
      return {};
    }

    if (!status.destroyTime) {
      const destroyAt = now + parseDuration(key.spec.destroyAfter);
      status.phase = 'PendingDestruction';
      status.destroyTime = formatTime(destroyAt);
      status.conditions = setCondition(
        status.conditions,
        {
          type: ConditionType.Ready,
          status: 'False',
          reason: 'PendingDestruction',
          message: `the key is disabled and will be destroyed at ${status.destroyTime}`,
        },
        now,
      );
      await updateStatus(context.client, managedKeyType, key, status);
      context.recorder.record(key, {
        type: 'Normal',
        reason: 'DestructionScheduled',
        action: 'ScheduleDestroy',
        note: `every version is disabled and will be destroyed at ${status.destroyTime}`,
      });
      return { requeueAfter: destroyAt - now };
    }
    const destroyAt = Date.parse(status.destroyTime);
    if (now < destroyAt) return { requeueAfter: destroyAt - now };

    for (const version of versions) {
      await backend.destroy(keyIdentity(key, version));
      failpoint('managedkey-after-destroy-version');
    }
    status.phase = 'Destroyed';
    status.versions = (status.versions ?? []).map((v) => ({ ...v, state: 'Destroyed' as const }));
    const updated = (await updateStatus(context.client, managedKeyType, key, status)) ?? key;
    context.recorder.record(key, {
      type: 'Normal',
      reason: 'KeyDestroyed',
      action: 'Destroy',
      note: `every version was destroyed in KeyBackend ${key.spec.backendRef.name}`,
    });
    await removeFinalizer(context.client, managedKeyType, updated, KEY_FINALIZER);
    return {};
  } catch (error) {
    if (!isBackendError(error)) throw error;
    context.recorder.record(key, {
      type: 'Warning',
      reason: 'BackendError',
      action: 'Delete',
      note: error.message,
    });
    throw error;
  }
}

/** Clears every usage of a version; a version that is not there (never made, or gone) needs nothing. */
async function disable(backend: KeyBackend, key: ManagedKeyObject, version: number): Promise<void> {
  const identity = keyIdentity(key, version);
  if (await backend.observe(identity)) await backend.setUsages(identity, []);
}
