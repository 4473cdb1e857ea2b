// KeyRecovery: a version of a ManagedKey with spec.recovery restored from its backup (managedkey/recovery.ts) into a
// backend: the same one after its key was lost, or a new one.
//   Preparation: the version, its backup ConfigMap (checked against the status record), the custodians (each must
//     hold a share of this version) and the backend to restore into are checked; the recipient certificate published.
//   Quorum: M custodians approve, each with their share of the version's KEK re-encrypted to that certificate, exactly
//     as for a KeyActivation (activation.ts collects and combines them).
//   Share Reconstruction: the KEK rebuilt in memory and checked against the version's KEK authenticator before the
//     backend is touched.
//   Key Recovery: the blob unwrapped into the backend (backend.restoreKey: the check value proven on a throwaway
//     session copy first; the restored key sensitive and never extractable); the KEK zeroed.
//   Verification & Audit: the check value recorded; with target.restoreAs, a ManagedKey of that name is made on the
//     backend, re-attached to the restored version (keyward.io/external-name).
//   Secure Storage: KEK and shares zeroed, the recipient key discarded.
import type { KeyBackendObject } from '../../api/v1alpha1/keybackend.ts';
import type { KeyVersion, ManagedKeyObject } from '../../api/v1alpha1/managedkey.ts';
import type { KeyBackend } from '../../backends/backend.ts';
import { participantKey } from '../../ceremony/participants.ts';
import type { ApiAccess } from '../../kube/access.ts';
import { isAlreadyExists, isNotFound } from '../../kube/errors.ts';
import { builtinResources } from '../../kube/resource.ts';
import type { BackendConnections } from '../keybackend/connections.ts';
import type { ConfigMap } from '../managedkey/distribution.ts';
import { EXTERNAL_NAME_ANNOTATION } from '../managedkey/names.ts';
import { RecoveryData, kekSalt } from '../managedkey/recovery.ts';
import { identityRoot, usagesInState } from '../managedkey/versions.ts';
import { dropRecipient } from './activation.ts';
import type { SecretCheck } from './activation.ts';
import type { CeremonyRun } from './context.ts';
import {
  CEREMONY_UID_ANNOTATION,
  CeremonyRefusal,
  managedKeyType,
  refuse,
  targetManagedKey,
} from './root-generation.ts';

/** The ManagedKey a restore makes (restoreAs). Reading the target and its backup ConfigMap is in activationAccess. */
export const keyRecoveryAccess: ApiAccess = { resource: managedKeyType, verbs: ['create'] };

export interface RecoveryDeps {
  readonly keyBackends: { get(namespace: string, name: string): KeyBackendObject | undefined };
  readonly connections: BackendConnections;
}

/** A version to restore, its backup and the backend to restore it into, checked. */
export interface RecoveryTarget {
  readonly managedKey: ManagedKeyObject;
  readonly version: KeyVersion & { readonly recovery: NonNullable<KeyVersion['recovery']> };
  readonly wrappedKey: Buffer;
  readonly backend: KeyBackend;
  readonly check: SecretCheck;
}

export async function resolveRecoveryTarget(run: CeremonyRun, deps: RecoveryDeps): Promise<RecoveryTarget> {
  const { ceremony } = run;
  const namespace = ceremony.metadata.namespace ?? '';
  const name = ceremony.spec.target?.managedKeyRef.name ?? '';
  const keyName = `${namespace}/${name}`;
  const managedKey = await targetManagedKey(run);
  const number = ceremony.spec.target?.version ?? managedKey.status?.currentVersion;
  const version = managedKey.status?.versions?.find((v) => v.version === number);
  if (number === undefined || !version)
    return refuse('VersionNotFound', `ManagedKey ${keyName} has no version ${String(number ?? 1)}`);
  if (version.state === 'Destroyed')
    return refuse(
      'VersionDestroyed',
      `version ${number} of ${keyName} was destroyed; a destroyed key is never recovered`,
    );
  const { recovery } = version;
  if (!recovery)
    return refuse(
      'NoBackup',
      `version ${number} of ${keyName} has no recovery backup (spec.recovery was not set when it was generated, or its backup was never stored)`,
    );
  let map: ConfigMap;
  try {
    map = await run.context.client.get<ConfigMap>(
      builtinResources.configMaps,
      recovery.configMapName,
      namespace,
    );
  } catch (error) {
    if (isNotFound(error))
      return refuse(
        'BackupNotFound',
        `the backup ConfigMap ${namespace}/${recovery.configMapName} is missing`,
      );
    throw error;
  }
  const data = map.data ?? {};
  const wrapped = data[RecoveryData.wrappedKey];
  if (wrapped === undefined)
    return refuse(
      'BackupNotFound',
      `ConfigMap ${namespace}/${recovery.configMapName} holds no wrapped copy (retired)`,
    );
  if (
    data[RecoveryData.checkValue] !== recovery.checkValue ||
    data[RecoveryData.kekAuthenticator] !== recovery.kekAuthenticator
  )
    return refuse(
      'BackupMismatch',
      `ConfigMap ${namespace}/${recovery.configMapName} does not match the backup recorded in the status of ${keyName} (check value or KEK authenticator differ)`,
    );
  const holders = JSON.parse(data[RecoveryData.custodians] ?? '[]') as {
    name: string;
    fingerprint: string;
  }[];
  for (const custodian of ceremony.spec.quorum.custodians) {
    const { fingerprint } = participantKey(custodian);
    if (!holders.some((h) => h.name === custodian.name && h.fingerprint === fingerprint))
      return refuse(
        'CustodianHoldsNoShare',
        `custodian ${custodian.name} (with this public key) holds no share of version ${number} of ${keyName}; its shares went to ${holders.map((h) => h.name).join(', ')}`,
      );
  }
  if (ceremony.spec.quorum.threshold < recovery.threshold)
    return refuse(
      'InvalidSpec',
      `the backup of version ${number} needs ${recovery.threshold} shares, but quorum.threshold is ${ceremony.spec.quorum.threshold}`,
    );
  const restoreAs = ceremony.spec.target?.restoreAs;
  const backendName = ceremony.spec.backendRef.name;
  if (restoreAs === undefined && backendName !== managedKey.spec.backendRef.name)
    return refuse(
      'InvalidSpec',
      `restoring into KeyBackend ${backendName}, which is not the one ${keyName} lives in (${managedKey.spec.backendRef.name}), needs target.restoreAs: the ManagedKey to make there`,
    );
  if (!deps.keyBackends.get('', backendName))
    return refuse('BackendNotFound', `KeyBackend ${backendName} does not exist`);
  const connection = deps.connections.get(backendName);
  if (!connection?.ready)
    return refuse(
      'BackendNotReady',
      `KeyBackend ${backendName} is not connected${connection ? `: ${connection.message}` : ''}`,
    );
  if (!connection.capabilities.recoveryWrap || !connection.backend.restoreKey)
    return refuse('BackendCannotRestore', `KeyBackend ${backendName} cannot unwrap a recovery backup`);
  return {
    managedKey,
    version: { ...version, recovery },
    wrappedKey: Buffer.from(wrapped, 'base64'),
    backend: connection.backend,
    check: {
      salt: kekSalt(managedKey, version.version),
      authenticator: recovery.kekAuthenticator,
      purpose: 'recovery',
      what: `the key-encryption key of version ${number} of ${keyName}`,
      untouched: 'the backend was not touched',
    },
  };
}

/** Unwraps the version into the backend with `kek` (zeroed here), checks, records, and makes the restoreAs key. */
export async function runRecovery(run: CeremonyRun, target: RecoveryTarget, kek: Buffer): Promise<void> {
  const { ceremony, status } = run;
  const { managedKey, version } = target;
  const namespace = managedKey.metadata.namespace ?? '';
  const keyName = `${namespace}/${managedKey.metadata.name ?? ''}`;
  const restoreAs = ceremony.spec.target?.restoreAs;
  // The restored objects carry the id derived from the original uid, and the label of the key that will hold them.
  const identity = {
    uid: identityRoot(managedKey),
    namespace,
    name: restoreAs ?? managedKey.metadata.name ?? '',
    version: version.version,
    ...(version.backendVersion === undefined ? {} : { versionId: version.backendVersion }),
  };
  let restored;
  try {
    await run.step(
      'Key Recovery',
      'Running',
      { managedKey: keyName, version: version.version, backend: ceremony.spec.backendRef.name },
      `unwrapping version ${version.version} of ${keyName} into ${target.backend.target.description}`,
    );
    if (!target.backend.restoreKey)
      throw new CeremonyRefusal('BackendCannotRestore', 'the backend cannot unwrap a backup');
    restored = await target.backend.restoreKey(identity, {
      algorithm: managedKey.spec.algorithm,
      usages: usagesInState(version.state, managedKey.spec.usages),
      wrappedKey: target.wrappedKey,
      kek,
      checkValue: version.recovery.checkValue,
    });
  } finally {
    kek.fill(0);
  }
  status.restoredKey = {
    managedKey: restoreAs ?? managedKey.metadata.name ?? '',
    version: version.version,
    keyRef: restored.version.keyRef,
    target: restored.version.target,
    checkValue: version.recovery.checkValue,
    outcome: restored.outcome,
  };
  await run.step(
    'Key Recovery',
    'Done',
    {
      keyRef: restored.version.keyRef,
      target: restored.version.target,
      outcome: restored.outcome,
      kekInMemory: false,
    },
    `version ${version.version} unwrapped into ${target.backend.target.description} (${restored.outcome}), not extractable; the KEK is zeroed`,
  );
  if (restoreAs !== undefined) await makeRestoredKey(run, managedKey, restoreAs);
  await run.step(
    'Verification & Audit',
    'Done',
    {
      checkValue: version.recovery.checkValue,
      checkValueMatches: true,
      managedKey: `${namespace}/${restoreAs ?? managedKey.metadata.name ?? ''}`,
    },
    `the restored key's check value ${version.recovery.checkValue} is the original's${restoreAs === undefined ? '' : `; ManagedKey ${namespace}/${restoreAs} holds it`}`,
  );
  dropRecipient(ceremony.metadata.uid ?? '');
  await run.step(
    'Secure Storage',
    'Done',
    { kekInMemory: false, sharesInMemory: false, recipientKeyDiscarded: true },
    'key-encryption key and shares zeroed, recipient key discarded',
  );
}

/**
 * The ManagedKey `name` on the ceremony's backend, re-attached to the restored version through
 * keyward.io/external-name; one of that name the ceremony did not make is never overwritten.
 */
async function makeRestoredKey(run: CeremonyRun, original: ManagedKeyObject, name: string): Promise<void> {
  const { ceremony } = run;
  const namespace = original.metadata.namespace ?? '';
  // Not spec.recovery: the restored version's backup stays the original's ConfigMap (recover again from it).
  const spec = { ...original.spec, recovery: undefined };
  const manifest = {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'ManagedKey',
    metadata: {
      name,
      namespace,
      annotations: {
        [EXTERNAL_NAME_ANNOTATION]: identityRoot(original),
        [CEREMONY_UID_ANNOTATION]: ceremony.metadata.uid ?? '',
      },
    },
    spec: { ...spec, backendRef: ceremony.spec.backendRef },
  } as unknown as ManagedKeyObject;
  try {
    await run.context.client.create<ManagedKeyObject>(managedKeyType, manifest);
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    const existing = await run.context.client.get<ManagedKeyObject>(managedKeyType, name, namespace);
    if (existing.metadata.annotations?.[CEREMONY_UID_ANNOTATION] !== ceremony.metadata.uid)
      throw new CeremonyRefusal(
        'KeyExists',
        `ManagedKey ${namespace}/${name} already exists and was not made by this ceremony; the restored version is in the backend, re-attach it with ${EXTERNAL_NAME_ANNOTATION}: ${identityRoot(original)}`,
      );
  }
}
