// The ManagedKey controller: generates the key in its backend, checks it, publishes its public keys, and on deletion
// retains, disables or destroys it as the spec says.
//
// Level-triggered and crash-safe: every backend identity is derived from the ManagedKey's uid and version
// (versions.ts), so a reconcile that died half-way is finished by the next one, by adoption, never by a duplicate.
// In steady state a reconcile reads only caches and memory: no backend call and no API write.
import { isAsymmetric } from '../../api/algorithms.ts';
import { ConditionType, KeyReason } from '../../api/v1alpha1/conditions.ts';
import type { KeyBackendObject } from '../../api/v1alpha1/keybackend.ts';
import type { KeyVersion, ManagedKeyObject, ManagedKeyStatus } from '../../api/v1alpha1/managedkey.ts';
import type { KeyBackend } from '../../backends/backend.ts';
import { isBackendError } from '../../backends/errors.ts';
import { matchesLabelSelector } from '../../kube/label-selector.ts';
import type { KubeObject } from '../../kube/object.ts';
import { builtinResources } from '../../kube/resource.ts';
import { setCondition, withStalled } from '../../runtime/conditions.ts';
import type { ControllerDefinition, ReconcileContext, ReconcileResult } from '../../runtime/controller.ts';
import { addFinalizer, finalizerAccess, isBeingDeleted } from '../../runtime/finalizers.ts';
import type { Informer } from '../../runtime/informer.ts';
import { statusAccess, updateStatus } from '../../runtime/status.ts';
import type { BackendConnections } from '../keybackend/connections.ts';
import { keyBackendType } from '../keybackend/controller.ts';
import { finalizeKey } from './deletion.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, distributePublicKeys, distributionAccess } from './distribution.ts';
import type { ConfigMap, PublicKeyCache } from './distribution.ts';
import { ageAndDestroy, ensureFirstVersion, rotateIfDue } from './lifecycle.ts';
import type { RotationCounter } from './lifecycle.ts';
import { KEY_FINALIZER, managedKeyType } from './names.ts';
import { recoverableCondition, recoveryAccess, recoveryProblem } from './recovery.ts';
import { nextLifecycleEvent } from './rotation.ts';
import { VersionIntegrityError, markCreated, verifyVersions } from './verification.ts';

export { KEY_FINALIZER, managedKeyType } from './names.ts';

/** Even with nothing scheduled sooner, a key is looked at once a day (timers that long drift, and clocks jump). */
const MAX_REQUEUE_MS = 86_400_000;
/** How often a version an asynchronous backend is still generating (GCP PENDING_GENERATION) is looked at. */
const PENDING_GENERATION_POLL_MS = 5_000;

export interface ManagedKeyControllerDeps {
  connections: BackendConnections;
  keyBackends: Informer<KeyBackendObject>;
  namespaces: Informer<KubeObject>;
  configMaps: Informer<ConfigMap>;
  publicKeys: PublicKeyCache;
  countRotation: RotationCounter;
  /** Keys ("namespace/name") of the ManagedKeys that use a KeyBackend. */
  keysUsingBackend(name: string): string[];
}

/** Why the key cannot be worked on now. */
export interface Blocked {
  reason: string;
  message: string;
  /** The backend is at fault (BackendReady=False), rather than the key's own spec. */
  backendFault: boolean;
}

export type Resolution =
  { backend: KeyBackend; keyBackend: KeyBackendObject } | { blocked: Blocked } | { awaitingConnection: true };

export function managedKeyController(deps: ManagedKeyControllerDeps): ControllerDefinition<ManagedKeyObject> {
  // Versions checked against the backend since this process started; a restart checks each once again.
  const verified = new Set<string>();
  return {
    name: 'managedkey',
    resource: managedKeyType,
    // A reconcile mostly waits: on its API writes in sequence, and on the backend, which bounds its own
    // concurrency (PKCS#11: maxSessions; the clouds: their quotas). 16 keep the token busy while others write.
    workers: 16,
    owns: [{ resource: builtinResources.configMaps, labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` }],
    watches: [{ resource: keyBackendType, map: (kb) => deps.keysUsingBackend(kb.metadata.name ?? '') }],
    access: [
      statusAccess(managedKeyType),
      finalizerAccess(managedKeyType),
      distributionAccess,
      recoveryAccess,
    ],
    reconcile: async (key, context) => {
      if (isBeingDeleted(key)) return finalizeKey(key, context, deps.connections);
      // Destroyed by a KeyDestruction ceremony: a record only; nothing is generated, rotated or used again.
      if (key.status?.phase === 'Destroyed') return {};
      const withFinalizer = await addFinalizer(context.client, managedKeyType, key, KEY_FINALIZER);
      if (withFinalizer) context.superseded(key);
      return reconcileKey(withFinalizer ?? key, context, deps, verified);
    },
  };
}

/** The backend the key lives in, if the key may use it now. */
export function resolveBackend(key: ManagedKeyObject, deps: ManagedKeyControllerDeps): Resolution {
  const name = key.spec.backendRef.name;
  const keyBackend = deps.keyBackends.get('', name);
  if (!keyBackend) return blocked('BackendNotFound', `KeyBackend ${name} does not exist`, true);
  const namespace = key.metadata.namespace ?? '';
  const labels = deps.namespaces.get('', namespace)?.metadata.labels;
  if (!matchesLabelSelector(keyBackend.spec.namespaceSelector, labels)) {
    return blocked(
      'NamespaceNotAllowed',
      `KeyBackend ${name} does not serve namespace ${namespace}: the namespace does not match its namespaceSelector`,
      false,
    );
  }
  const minimum = key.spec.protection.minFipsLevel;
  if (minimum !== undefined && keyBackend.spec.fipsLevel < minimum) {
    return blocked(
      'InsufficientProtection',
      `the key requires FIPS 140 level ${minimum} but KeyBackend ${name} is validated to level ${keyBackend.spec.fipsLevel}; nothing was generated`,
      false,
    );
  }
  const connection = deps.connections.get(name);
  // Not tried yet (the operator just started): wait without a word; the connection enqueues the key when it comes,
  // and a restart does not flip every key's Ready condition to False and back.
  if (!connection) return { awaitingConnection: true };
  if (!connection.ready) {
    return blocked('BackendNotReady', `KeyBackend ${name} is not ready: ${connection.message}`, true);
  }
  if (!connection.capabilities.algorithms.includes(key.spec.algorithm)) {
    return blocked(
      'UnsupportedAlgorithm',
      `KeyBackend ${name} cannot generate ${key.spec.algorithm} keys; it offers ${connection.capabilities.algorithms.join(', ')}`,
      false,
    );
  }
  const recovery = recoveryProblem(key, connection.backend, name);
  if (recovery !== undefined) return blocked(KeyReason.RecoveryUnsupported, recovery, false);
  return { backend: connection.backend, keyBackend };
}

function blocked(reason: string, message: string, backendFault: boolean): { blocked: Blocked } {
  return { blocked: { reason, message, backendFault } };
}

/** Writes status from one object version to the next, so that a second write in one reconcile is not a 409. */
class StatusWriter {
  #object: ManagedKeyObject;
  constructor(object: ManagedKeyObject) {
    this.#object = object;
  }
  get object(): ManagedKeyObject {
    return this.#object;
  }
  async write(context: ReconcileContext, status: ManagedKeyStatus): Promise<void> {
    status.conditions = withStalled(status.conditions, status.phase === 'Failed', context.clock.now());
    const updated = await updateStatus(context.client, managedKeyType, this.#object, status);
    if (!updated) return;
    context.superseded(this.#object);
    this.#object = updated;
  }
}

async function reconcileKey(
  key: ManagedKeyObject,
  context: ReconcileContext,
  deps: ManagedKeyControllerDeps,
  verified: Set<string>,
): Promise<ReconcileResult> {
  const now = context.clock.now();
  const generation = key.metadata.generation ?? 0;
  const writer = new StatusWriter(key);
  const status: ManagedKeyStatus = { ...(key.status ?? {}), observedGeneration: generation };
  const condition = (type: string, state: 'True' | 'False', reason: string, message: string): void => {
    status.conditions = setCondition(
      status.conditions,
      { type, status: state, reason, message, observedGeneration: generation },
      now,
    );
  };

  const resolution = resolveBackend(key, deps);
  if ('awaitingConnection' in resolution) return {};
  if ('blocked' in resolution) {
    const { reason, message, backendFault } = resolution.blocked;
    condition(ConditionType.Ready, 'False', reason, message);
    if (backendFault) condition(ConditionType.BackendReady, 'False', reason, message);
    if (!status.currentVersion) status.phase = backendFault ? 'Pending' : 'Failed';
    await writer.write(context, status);
    return {};
  }
  const { backend, keyBackend } = resolution;
  const backendName = keyBackend.metadata.name ?? '';
  condition(ConditionType.BackendReady, 'True', 'Connected', `KeyBackend ${backendName} is ready`);
  status.effectiveFipsLevel = keyBackend.spec.fipsLevel;
  status.archival = backend.capabilities().archival;
  reportIgnoredSpec(key, condition, status);

  const save = (next: ManagedKeyStatus) => writer.write(context, next);
  const created = (entry: KeyVersion): void => {
    markCreated(verified, key, entry, backend);
  };
  try {
    if (!status.currentVersion) {
      const first = await ensureFirstVersion(key, status, now, { backend, context, save, created });
      Object.assign(status, first.status);
      if (!first.done) {
        condition(ConditionType.Ready, 'False', KeyReason.PendingGeneration, first.message);
        await save(status);
        return { requeueAfter: PENDING_GENERATION_POLL_MS };
      }
    }
    const converge = async (next: ManagedKeyStatus): Promise<ManagedKeyStatus> => {
      const result = await verifyVersions(key, next.versions ?? [], backend, deps.publicKeys, verified, now);
      if (result.missing.length > 0) {
        condition(
          ConditionType.VersionsIntact,
          'False',
          KeyReason.KeyMissing,
          `archived version(s) ${result.missing.join(', ')} are missing from the backend; the current version is unaffected`,
        );
      } else {
        status.conditions = status.conditions?.filter((c) => c.type !== ConditionType.VersionsIntact);
      }
      return { ...next, versions: result.versions };
    };
    Object.assign(status, await converge(status));

    if (key.spec.rotation) {
      const rotation = await rotateIfDue(key, status, now, {
        backend,
        context,
        save,
        created,
        countRotation: deps.countRotation,
      });
      const scheduledBefore = status.nextRotationTime;
      Object.assign(status, rotation.status);
      if (status.nextRotationTime && status.nextRotationTime !== scheduledBefore) {
        context.recorder.record(key, {
          type: 'Normal',
          reason: 'RotationScheduled',
          action: 'Schedule',
          note: `version ${String(status.currentVersion)} rotates at ${status.nextRotationTime}`,
        });
      }
      const [reason, message] = rotationState(status, rotation.plan.windowProblem);
      condition(ConditionType.Rotating, 'False', reason, message);
      if (rotation.pending) {
        await save(status);
        return { requeueAfter: PENDING_GENERATION_POLL_MS };
      }
    } else {
      status.nextRotationTime = undefined;
      status.conditions = status.conditions?.filter((c) => c.type !== ConditionType.Rotating);
    }
    Object.assign(status, await ageAndDestroy(key, status, now, { backend, context, save, converge }));

    if (key.spec.distribution?.publicKey && isAsymmetric(key.spec.algorithm)) {
      const distribution = await distributePublicKeys(key, status.versions ?? [], {
        ...deps,
        backend,
        client: context.client,
      });
      condition(ConditionType.Distributed, distribution.status, distribution.reason, distribution.message);
    } else {
      status.conditions = status.conditions?.filter((c) => c.type !== ConditionType.Distributed);
    }
    if (key.spec.recovery) {
      const recoverable = recoverableCondition(status.versions ?? []);
      condition(recoverable.type, recoverable.status, recoverable.reason, recoverable.message);
    }
    status.phase = 'Active';
    condition(
      ConditionType.Ready,
      'True',
      KeyReason.KeyReady,
      `version ${status.currentVersion ?? 1} is active in KeyBackend ${backendName}`,
    );
  } catch (error) {
    const failure = describeFailure(error);
    if (!failure) throw error;
    condition(ConditionType.Ready, 'False', failure.reason, failure.message);
    if (failure.backendFault) condition(ConditionType.BackendReady, 'False', failure.reason, failure.message);
    if (failure.integrity) status.phase = 'Failed';
    else if (!status.currentVersion) status.phase = 'Pending';
    await writer.write(context, status);
    context.recorder.record(key, {
      type: 'Warning',
      reason: failure.integrity ? failure.reason : 'BackendError',
      action: 'Reconcile',
      note: failure.message,
    });
    if (failure.retry) throw error;
    return {};
  }
  await writer.write(context, status);
  const next = nextLifecycleEvent(key, status);
  return next === undefined ? {} : { requeueAfter: Math.min(Math.max(next - now, 1_000), MAX_REQUEUE_MS) };
}

/** Fields the spec accepts that this version of Keyward does not act on yet: said in a condition, not ignored. */
function reportIgnoredSpec(
  key: ManagedKeyObject,
  condition: (type: string, state: 'True' | 'False', reason: string, message: string) => void,
  status: ManagedKeyStatus,
): void {
  const ignored = [
    ...(key.spec.protection.exportable
      ? ['spec.protection.exportable: the key is generated non-extractable and never leaves the backend']
      : []),
  ];
  if (ignored.length > 0) {
    condition(
      ConditionType.SpecInEffect,
      'False',
      KeyReason.SpecNotInEffect,
      `not in effect in this version of Keyward: ${ignored.join('; ')}`,
    );
  } else {
    status.conditions = status.conditions?.filter((c) => c.type !== ConditionType.SpecInEffect);
  }
}

/** The Rotating condition's reason and message once this reconcile's rotation work is done. */
function rotationState(status: ManagedKeyStatus, windowProblem: string | undefined): [string, string] {
  if ((status.failedRotationAttempts ?? 0) > 0) {
    return [
      'RotationFailed',
      `${String(status.failedRotationAttempts)} rotation attempt(s) failed; next try at ${status.nextRotationTime ?? ''}`,
    ];
  }
  if (windowProblem) return ['WindowNeverOpens', windowProblem];
  return ['Scheduled', `next rotation at ${status.nextRotationTime ?? ''}`];
}

interface Failure {
  reason: string;
  message: string;
  backendFault: boolean;
  integrity: boolean;
  retry: boolean;
}

/** A failure to report in a condition, or undefined for a bug that must surface as a crash of the reconcile. */
function describeFailure(error: unknown): Failure | undefined {
  if (error instanceof VersionIntegrityError) {
    return {
      reason: error.reason,
      message: error.message,
      backendFault: false,
      integrity: true,
      retry: false,
    };
  }
  if (isBackendError(error) && error.code === 'TargetMismatch') {
    // The KeyBackend reaches another token, vault or key ring than the versions were made on: nothing is done there.
    return { reason: error.code, message: error.message, backendFault: false, integrity: true, retry: false };
  }
  if (isBackendError(error)) {
    return {
      reason: error.code,
      message: error.message,
      backendFault: true,
      integrity: false,
      retry: error.retry === 'backoff',
    };
  }
  return undefined;
}
