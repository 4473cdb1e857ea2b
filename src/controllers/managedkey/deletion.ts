// What deleting a ManagedKey does to its key, by deletionPolicy:
// - Retain: nothing; the key stays in the backend.
// - Disable: every version loses all its usages (CKA_SIGN, CKA_DECRYPT, ... cleared), then the object goes.
// - Destroy: every version is disabled at once and the key shows PendingDestruction with the time of destruction;
//   after destroyAfter, every version is destroyed (or scheduled, where the backend holds it longer), then the
//   object goes. With destroyRequiresCeremony, it waits instead for a KeyDestruction ceremony to destroy it.
// Every policy but Retain also looks at the version after the newest recorded one (version 1 for a key deleted
// during its first generation), which a crash may have left in flight. The finalizer is removed only after the
// backend confirmed, so no destruction is ever lost; the time of destruction is in status before anything irreversible
// happens (and CEL keeps it from moving), so a restart never destroys early.
import { ConditionType, KeyReason } from '../../api/v1alpha1/conditions.ts';
import type { KeyVersion, ManagedKeyObject, ManagedKeyStatus } from '../../api/v1alpha1/managedkey.ts';
import type { KeyBackend } from '../../backends/backend.ts';
import { isBackendError } from '../../backends/errors.ts';
import type { KeyIdentity } from '../../backends/identity.ts';
import { failpoint } from '../../failpoints.ts';
import { formatTime } from '../../runtime/clock.ts';
import { setCondition } from '../../runtime/conditions.ts';
import type { ReconcileContext, ReconcileResult } from '../../runtime/controller.ts';
import { parseDuration } from '../../runtime/duration.ts';
import { removeFinalizer } from '../../runtime/finalizers.ts';
import { updateStatus } from '../../runtime/status.ts';
import type { BackendConnections } from '../keybackend/connections.ts';
import { KEY_FINALIZER, managedKeyType } from './names.ts';
import { retireBackups } from './recovery.ts';
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
  const recorded = (key.status?.versions ?? []).filter((v) => v.state !== 'Destroyed');
  // Status marks a version in flight before the backend is asked to make it: with nothing recorded, nothing exists.
  // A key a KeyDestruction ceremony destroyed (phase Destroyed, every version Destroyed) has nothing left either.
  const destroyed = key.status?.phase === 'Destroyed' && recorded.length === 0;
  if (policy === 'Retain' || destroyed || (recorded.length === 0 && !key.status?.currentVersion)) {
    await removeFinalizer(context.client, managedKeyType, key, KEY_FINALIZER);
    return {};
  }
  const now = context.clock.now();
  const status: ManagedKeyStatus = { ...(key.status ?? {}) };
  const ready = (reason: string, message: string): void => {
    status.conditions = setCondition(
      status.conditions,
      { type: ConditionType.Ready, status: 'False', reason, message },
      now,
    );
  };

  const connection = connections.get(key.spec.backendRef.name);
  if (!connection?.ready) {
    const why = connection ? connection.message : `KeyBackend ${key.spec.backendRef.name} is not connected`;
    ready(
      KeyReason.BackendNotReady,
      `cannot ${policy === 'Disable' ? 'disable' : 'destroy'} the key yet: ${why}`,
    );
    await updateStatus(context.client, managedKeyType, key, status);
    return { requeueAfter: BLOCKED_RETRY_MS };
  }
  const { backend } = connection;

  const identities: KeyIdentity[] = [
    ...recorded.map((v) => keyIdentity(key, v.version, v)),
    keyIdentity(key, newestVersion(key.status?.versions) + 1),
  ];
  const destroyAfterSeconds = parseDuration(key.spec.destroyAfter) / 1000;
  try {
    if (policy === 'Disable' || !status.destroyTime) {
      for (const identity of identities) await disable(backend, identity);
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

    if (key.spec.destroyRequiresCeremony) {
      // Only a quorum destroys this key: a KeyDestruction ceremony moves it to Destroyed, which releases it above.
      status.phase = 'PendingDestruction';
      ready(
        KeyReason.AwaitingDestructionCeremony,
        `every version is disabled; the key is destroyed only by a KeyDestruction ceremony (destroyRequiresCeremony): create a KeyCeremony of type KeyDestruction with target.managedKeyRef ${key.metadata.name ?? ''} and backendRef ${key.spec.backendRef.name}, and have its custodians approve`,
      );
      await updateStatus(context.client, managedKeyType, key, status);
      return {};
    }
    if (!status.destroyTime) {
      const destroyAt = now + destroyAfterSeconds * 1000;
      status.phase = 'PendingDestruction';
      status.destroyTime = formatTime(destroyAt);
      ready(
        KeyReason.PendingDestruction,
        `the key is disabled and will be destroyed at ${status.destroyTime}`,
      );
      await updateStatus(context.client, managedKeyType, key, status);
      // In status first; then, where the backend can hold exactly this window itself, in the backend's own record
      // too (AWS PendingWindowInDays, GCP's destroy duration, Azure's soft delete), restorable until it ends.
      const native = holdsWindow(backend, destroyAfterSeconds);
      if (native) {
        for (const identity of identities) {
          await backend.destroy(identity, { delaySeconds: destroyAfterSeconds });
        }
      }
      context.recorder.record(key, {
        type: 'Normal',
        reason: 'DestructionScheduled',
        action: 'ScheduleDestroy',
        note: `every version is disabled and will be destroyed at ${status.destroyTime}${native ? ', scheduled in the backend too' : ''}`,
      });
      return { requeueAfter: destroyAt - now };
    }
    const destroyAt = Date.parse(status.destroyTime);
    if (now < destroyAt) return { requeueAfter: destroyAt - now };

    let heldUntil = 0;
    for (const identity of identities) {
      const result = await backend.destroy(identity, { delaySeconds: 0 });
      if (result.outcome === 'scheduled') heldUntil = Math.max(heldUntil, result.destroyTime);
      failpoint('managedkey-after-destroy-version');
    }
    if (heldUntil > now) {
      ready(
        KeyReason.PendingDestruction,
        `the backend's own record holds the destruction until ${formatTime(heldUntil)}, later than status says`,
      );
      await updateStatus(context.client, managedKeyType, key, status);
      return { requeueAfter: heldUntil - now };
    }
    status.phase = 'Destroyed';
    status.versions = (status.versions ?? []).map((v): KeyVersion => ({ ...v, state: 'Destroyed' }));
    const updated = (await updateStatus(context.client, managedKeyType, key, status)) ?? key;
    await retireBackups(context.client, key, status.versions, now);
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

/**
 * Whether the backend can hold a destruction exactly `seconds` itself: then it is scheduled there when the key
 * becomes PendingDestruction. Otherwise (PKCS#11, or a window outside the backend's bounds) Keyward keeps the window
 * and asks when it is over; a backend with a minimum of its own then holds the version that much longer.
 */
function holdsWindow(backend: KeyBackend, seconds: number): boolean {
  const { minDestroyDelaySeconds: min, maxDestroyDelaySeconds: max } = backend.capabilities();
  return max !== undefined && min <= seconds && seconds <= max;
}

/** Clears every usage of a version; a version that is not there (never made, or gone) needs nothing. */
async function disable(backend: KeyBackend, identity: KeyIdentity): Promise<void> {
  if (await backend.observe(identity)) await backend.setUsages(identity, []);
}
