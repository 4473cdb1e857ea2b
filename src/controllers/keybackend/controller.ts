// The KeyBackend controller: connects to the backend a KeyBackend describes, with the credential from its Secret,
// checks it every healthCheckInterval, and reports what it is and can do in status.
//
// A connection is made from one generation of the KeyBackend and one resourceVersion of its Secret. A rejected
// credential (a wrong or locked PIN, access denied) is not offered again until one of them changes: HSM partitions
// lock a PIN after a few wrong attempts. Other failures that backing off cannot fix (no such token, module or key
// ring) are looked at again every healthCheckInterval, since the backend itself may change: a network HSM's
// partition comes back, a token is plugged in again.
import { KeyBackend as KeyBackendResource } from '../../api/v1alpha1/keybackend.ts';
import type { KeyBackendObject, KeyBackendStatus } from '../../api/v1alpha1/keybackend.ts';
import { ConditionType } from '../../api/v1alpha1/conditions.ts';
import type { BackendCapabilities, BackendHealth, KeyBackend } from '../../backends/backend.ts';
import { isBackendError } from '../../backends/errors.ts';
import type { BackendMetrics } from '../../backends/instrumented.ts';
import { wipeCredentials } from '../../backends/credentials.ts';
import { guarded, openWithin } from '../../backends/guarded.ts';
import { backendKind, credentialReferences, openBackend } from '../../backends/registry.ts';
import { resourceTypeOf } from '../../kube/resource.ts';
import { describeError } from '../../log.ts';
import { setCondition } from '../../runtime/conditions.ts';
import type { ControllerDefinition, ReconcileContext } from '../../runtime/controller.ts';
import { formatTime } from '../../runtime/clock.ts';
import { parseDuration } from '../../runtime/duration.ts';
import { statusAccess, updateStatus } from '../../runtime/status.ts';
import type { BackendConnections, ConnectionState, Unavailable } from './connections.ts';
import { credentialAccess, readCredentials } from './credentials.ts';

export const keyBackendType = resourceTypeOf(KeyBackendResource);

const OFFLINE: Unavailable = {
  reason: 'Offline',
  message:
    'offline root: its token is activated by a KeyCeremony, and no PIN of it is stored in the cluster; only a quorum of custodians can use its keys',
  transient: false,
};

/**
 * Failures kept until the KeyBackend or its Secret changes: a refused credential (trying it again runs a PIN counter
 * down to a lock), and a declared FIPS level the target does not meet (only an edit of the declaration fixes it).
 */
const HELD_UNTIL_CHANGE: ReadonlySet<string> = new Set([
  'PinIncorrect',
  'PinLocked',
  'PermissionDenied',
  'FipsLevelOverstated',
]);

/** First retry of a transient connection failure; doubles up to the health check interval. */
const RETRY_BASE_MS = 5_000;

export interface KeyBackendControllerOptions {
  connections: BackendConnections;
  backendMetrics: BackendMetrics;
}

export function keyBackendController({
  connections,
  backendMetrics,
}: KeyBackendControllerOptions): ControllerDefinition<KeyBackendObject> {
  return {
    name: 'keybackend',
    resource: keyBackendType,
    // A backend that takes its whole deadline to connect (a hung module, a vault that does not answer) holds one
    // worker; the others keep serving the other KeyBackends.
    workers: 4,
    access: [statusAccess(keyBackendType), credentialAccess],
    reconcile: async (keyBackend, context) => {
      const name = keyBackend.metadata.name ?? '';
      const interval = parseDuration(keyBackend.spec.healthCheckInterval);
      // An offline root has no PIN in the cluster: nothing to connect with until a ceremony activates it.
      const credential =
        keyBackend.spec.pkcs11?.activation === 'Ceremony'
          ? { version: 'offline', unavailable: OFFLINE }
          : await readCredentials(context.client, await credentialReferences(keyBackend.spec));
      const source = `${keyBackend.metadata.generation ?? 0}/${credential.version}`;

      const current = connections.current(name, source);
      let state: ConnectionState;
      let health: BackendHealth | undefined;
      if ('unavailable' in credential) {
        state = { ready: false, ...credential.unavailable };
      } else if (current && !current.state.ready && HELD_UNTIL_CHANGE.has(current.state.reason)) {
        state = current.state; // only a change can fix it: wait for one
      } else {
        if (!current?.state.ready)
          context.log.info('connecting to the backend', { backend: backendKind(keyBackend.spec) });
        const { credentials } = credential;
        ({ state, health } = await connect(current?.state, () =>
          openWithin(
            () => openBackend(keyBackend.spec, credentials),
            `the ${backendKind(keyBackend.spec)} backend`,
          )
            .then((b) => backendMetrics.instrument(guarded(b)))
            .finally(() => {
              wipeCredentials(credentials);
            }),
        ));
      }
      if ('credentials' in credential) wipeCredentials(credential.credentials);
      const overstated = state.ready ? fipsOverstated(keyBackend, health) : undefined;
      if (state.ready && overstated) {
        // Not kept: keys demanding the declared level would be generated below it.
        const kept = connections.get(name);
        if (!kept?.ready || kept.backend !== state.backend) await state.backend.close();
        state = { ready: false, ...overstated };
      }
      await connections.set(name, source, state);
      if (!state.ready) reportFailure(keyBackend, state, context);

      await updateStatus(
        context.client,
        keyBackendType,
        keyBackend,
        desiredStatus(keyBackend, state, health, context),
      );
      const failures = connections.current(name, source)?.failures ?? 0;
      return {
        requeueAfter:
          state.ready || !state.transient
            ? interval
            : Math.min(RETRY_BASE_MS * 2 ** (failures - 1), interval),
      };
    },
  };
}

/** Checks an open connection, or opens a new one; a failure becomes a not-ready state, never a throw. */
async function connect(
  previous: ConnectionState | undefined,
  open: () => Promise<KeyBackend>,
): Promise<{ state: ConnectionState; health?: BackendHealth }> {
  let backend = previous?.ready ? previous.backend : undefined;
  try {
    backend ??= await open();
    const health = await backend.health();
    const capabilities = backend.capabilities();
    return { state: { ready: true, backend, capabilities }, health };
  } catch (error) {
    if (backend && !previous?.ready) await backend.close();
    return { state: { ready: false, ...unavailable(error) } };
  }
}

function unavailable(error: unknown): Unavailable {
  if (isBackendError(error)) {
    return { reason: error.code, message: error.message, transient: error.retry === 'backoff' };
  }
  return { reason: 'ConnectionFailed', message: describeError(error), transient: true };
}

/**
 * The declared fipsLevel above what the target is validated to (where the backend can tell): a key demanding that
 * level must not be generated there on the admin's word.
 */
function fipsOverstated(
  keyBackend: KeyBackendObject,
  health: BackendHealth | undefined,
): Unavailable | undefined {
  const validated = health?.info.validatedFipsLevel;
  const declared = keyBackend.spec.fipsLevel;
  if (validated === undefined || declared <= validated) return undefined;
  return {
    reason: 'FipsLevelOverstated',
    message: `spec.fipsLevel is ${String(declared)}, but ${health?.info.model ?? 'the target'} is validated to FIPS 140 level ${String(validated)}; set fipsLevel to ${String(validated)} or less`,
    transient: false,
  };
}

function reportFailure(keyBackend: KeyBackendObject, state: Unavailable, context: ReconcileContext): void {
  context.log.warn('backend unavailable', { reason: state.reason, message: state.message });
  context.recorder.record(keyBackend, {
    type: 'Warning',
    reason: 'BackendError',
    action: 'Connect',
    note: `${state.reason}: ${state.message}`,
  });
}

function desiredStatus(
  keyBackend: KeyBackendObject,
  state: ConnectionState,
  health: BackendHealth | undefined,
  context: ReconcileContext,
): KeyBackendStatus {
  const status = keyBackend.status ?? {};
  const observedGeneration = keyBackend.metadata.generation ?? 0;
  const ready = state.ready
    ? {
        status: 'True' as const,
        reason: 'Connected',
        message: health?.warnings.length
          ? health.warnings.join('; ')
          : 'the backend is reachable and logged in',
      }
    : { status: 'False' as const, reason: state.reason, message: state.message };
  return {
    ...status,
    observedGeneration,
    conditions: setCondition(
      status.conditions,
      { type: ConditionType.Ready, observedGeneration, ...ready },
      context.clock.now(),
    ),
    ...(health && state.ready ? { info: infoStatus(health, state.backend.target.id) } : {}),
    ...(state.ready ? { capabilities: capabilitiesStatus(state.capabilities) } : {}),
  };
}

function infoStatus(health: BackendHealth, target: string): NonNullable<KeyBackendStatus['info']> {
  const { availabilityZones, latestBackupTime, ...info } = health.info;
  return {
    ...info,
    target,
    ...(availabilityZones ? { availabilityZones: [...availabilityZones] } : {}),
    ...(latestBackupTime === undefined ? {} : { latestBackupTime: formatTime(latestBackupTime) }),
  };
}

function capabilitiesStatus(
  capabilities: BackendCapabilities,
): NonNullable<KeyBackendStatus['capabilities']> {
  return {
    algorithms: [...capabilities.algorithms],
    nativeRotation: [...capabilities.nativeRotation],
    versions: capabilities.versions,
    archival: capabilities.archival,
    minDestroyDelay: `${capabilities.minDestroyDelaySeconds}s`,
    ...(capabilities.maxDestroyDelaySeconds === undefined
      ? {}
      : { maxDestroyDelay: `${capabilities.maxDestroyDelaySeconds}s` }),
    restorable: capabilities.restorable,
    recoveryWrap: capabilities.recoveryWrap,
  };
}
