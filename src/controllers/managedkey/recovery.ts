// Recovery backups of a ManagedKey with spec.recovery (docs/ceremonies.md): key recovery, never key escrow.
//
// Each version, right after the backend generated it (extractable, KeySpec.recoverable), is wrapped once inside the
// backend under a fresh key-encryption key (KEK); the KEK is split into N Shamir shares, each encrypted to its
// custodian as CMS exactly as a root ceremony's shares, and zeroed; the wrapped copy, its check value and the shares
// go into one ConfigMap (ciphertext only: the operator creates no Secrets; status keeps the check value and the KEK
// authenticator, so a changed ConfigMap is found out). Only then is the key sealed
// (unextractable for good) and the backup recorded in the version's status. So:
// - a crash before the ConfigMap exists leaves the key extractable and unrecorded: the next reconcile adopts it and
//   wraps it again under a new KEK (the first one died with the process);
// - a crash after the ConfigMap and before the seal or the status write finds the ConfigMap, checks that its check
//   value is the key's, seals and records;
// - a sealed key without a ConfigMap (the ConfigMap deleted by hand) can never be wrapped again: the version is
//   recorded without a backup and the Recoverable condition says so. Nothing is ever marked recoverable that is not.
import { ConditionType, KeyReason } from '../../api/v1alpha1/conditions.ts';
import type { KeyVersion, ManagedKeyObject } from '../../api/v1alpha1/managedkey.ts';
import type { KeyBackend } from '../../backends/backend.ts';
import type { KeyIdentity } from '../../backends/identity.ts';
import { PolicyViolationError, UnsupportedError } from '../../backends/errors.ts';
import { activationAuthenticator } from '../../ceremony/activation.ts';
import { encryptToPem } from '../../ceremony/cms.ts';
import { participantKey } from '../../ceremony/participants.ts';
import { splitSecret } from '../../ceremony/shares.ts';
import { failpoint } from '../../failpoints.ts';
import type { ApiAccess } from '../../kube/access.ts';
import type { KubeClient } from '../../kube/client.ts';
import { isAlreadyExists, isNotFound } from '../../kube/errors.ts';
import { builtinResources } from '../../kube/resource.ts';
import { formatTime } from '../../runtime/clock.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from './distribution.ts';
import type { ConfigMap } from './distribution.ts';
import { identityRoot } from './versions.ts';

export type VersionRecovery = NonNullable<KeyVersion['recovery']>;

/** The recovery ConfigMaps: read by name, created, emptied once the version they back up is destroyed. */
export const recoveryAccess: ApiAccess = {
  resource: builtinResources.configMaps,
  verbs: ['get', 'create', 'update'],
};

export const MANAGED_KEY_LABEL = 'keyward.io/managed-key';
export const KEY_UID_ANNOTATION = 'keyward.io/managed-key-uid';
export const VERSION_ANNOTATION = 'keyward.io/version';

/** The ConfigMap's keys; a custodian's share is `share.<name>.cms` (custodian names are DNS labels). */
export const RecoveryData = {
  wrappedKey: 'wrapped-key.b64',
  mechanism: 'mechanism',
  checkValue: 'check-value',
  kekAuthenticator: 'kek-authenticator',
  threshold: 'threshold',
  custodians: 'custodians.json',
  retired: 'retired',
} as const;
export const shareKey = (custodian: string): string => `share.${custodian}.cms`;
export const WRAP_MECHANISM = 'CKM_AES_KEY_WRAP_PAD (RFC 5649)';

/** Named after the uid too: a ManagedKey deleted with Retain and made again by the same name keeps its old backups. */
export function recoveryConfigMapName(key: ManagedKeyObject, version: number): string {
  return `${key.metadata.name ?? ''}-recovery-v${version}-${identityRoot(key).slice(0, 8)}`;
}

/** The salt of a version's KEK authenticator: the uid its identity derives from, and the version. */
export function kekSalt(key: ManagedKeyObject, version: number): string {
  return `${identityRoot(key)}/v${version}`;
}

/** Why the key's backend cannot make recovery backups, or undefined when it can. */
export function recoveryProblem(
  key: ManagedKeyObject,
  backend: KeyBackend,
  backendName: string,
): string | undefined {
  if (!key.spec.recovery) return undefined;
  if (backend.capabilities().recoveryWrap && backend.wrapForRecovery && backend.sealRecovery)
    return undefined;
  return `KeyBackend ${backendName} cannot wrap a key inside it for recovery (it needs AES key wrap with padding, RFC 5649, and keys it can seal); spec.recovery cannot be honoured, so nothing was generated`;
}

async function readConfigMap(
  client: KubeClient,
  name: string,
  namespace: string,
): Promise<ConfigMap | undefined> {
  try {
    return await client.get<ConfigMap>(builtinResources.configMaps, name, namespace);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** The backup a recovery ConfigMap records, if it is this version's. */
function recorded(map: ConfigMap, key: ManagedKeyObject, version: number): VersionRecovery | undefined {
  const data = map.data ?? {};
  const annotations = map.metadata.annotations ?? {};
  if (
    annotations[KEY_UID_ANNOTATION] !== identityRoot(key) ||
    annotations[VERSION_ANNOTATION] !== String(version)
  )
    return undefined;
  const custodians = JSON.parse(data[RecoveryData.custodians] ?? '[]') as { name: string }[];
  return {
    configMapName: map.metadata.name ?? '',
    wrappedTime: map.metadata.creationTimestamp ?? '',
    kekAuthenticator: data[RecoveryData.kekAuthenticator] ?? '',
    checkValue: data[RecoveryData.checkValue] ?? '',
    threshold: Number(data[RecoveryData.threshold] ?? 0),
    custodians: custodians.map((c) => c.name),
  };
}

/**
 * Backs up a version the backend just generated (or adopted) with KeySpec.recoverable, and seals it. Returns the
 * backup to record, or undefined when the key was sealed without one (see the top of this file).
 */
export async function backUpVersion(
  backend: KeyBackend,
  client: KubeClient,
  key: ManagedKeyObject,
  identity: KeyIdentity,
  nowMs: number,
): Promise<VersionRecovery | undefined> {
  const recovery = key.spec.recovery;
  if (!recovery || !backend.wrapForRecovery || !backend.sealRecovery)
    throw new UnsupportedError('the backend cannot wrap a key for recovery');
  const namespace = key.metadata.namespace ?? '';
  const name = recoveryConfigMapName(key, identity.version);
  let map = await readConfigMap(client, name, namespace);
  if (map === undefined) {
    const wrap = await backend.wrapForRecovery(identity);
    if (wrap.outcome === 'sealed') return undefined;
    try {
      const custodians = recovery.custodians.map(participantKey);
      const shares = await splitSecret(wrap.kek, custodians.length, recovery.threshold);
      const data: Record<string, string> = {
        [RecoveryData.wrappedKey]: wrap.wrappedKey.toString('base64'),
        [RecoveryData.mechanism]: WRAP_MECHANISM,
        [RecoveryData.checkValue]: wrap.checkValue,
        [RecoveryData.kekAuthenticator]: activationAuthenticator(
          wrap.kek,
          kekSalt(key, identity.version),
          'recovery',
        ),
        [RecoveryData.threshold]: String(recovery.threshold),
        [RecoveryData.custodians]: JSON.stringify(
          custodians.map((c) => ({ name: c.name, fingerprint: c.fingerprint })),
        ),
      };
      try {
        custodians.forEach((custodian, i) => {
          data[shareKey(custodian.name)] = encryptToPem(custodian, shares[i] ?? Buffer.alloc(0));
        });
      } finally {
        for (const share of shares) share.fill(0);
      }
      failpoint('recovery-after-wrap');
      map = await createRecoveryMap(client, key, identity.version, name, data);
    } finally {
      wrap.kek.fill(0);
    }
    failpoint('recovery-after-configmap');
  }
  const backup = recorded(map, key, identity.version);
  if (backup === undefined)
    throw new PolicyViolationError(
      `ConfigMap ${namespace}/${name} exists but is not the recovery backup of version ${identity.version} of this key; it was not used`,
    );
  const checkValue = await backend.sealRecovery(identity);
  if (checkValue !== backup.checkValue) {
    // Only a ConfigMap changed by hand can differ (Keyward makes it immutable): this key has no usable backup.
    return undefined;
  }
  return { ...backup, wrappedTime: backup.wrappedTime || formatTime(nowMs) };
}

async function createRecoveryMap(
  client: KubeClient,
  key: ManagedKeyObject,
  version: number,
  name: string,
  data: Record<string, string>,
): Promise<ConfigMap> {
  const namespace = key.metadata.namespace ?? '';
  try {
    return await client.create<ConfigMap>(builtinResources.configMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        namespace,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [MANAGED_KEY_LABEL]: key.metadata.name ?? '' },
        annotations: { [KEY_UID_ANNOTATION]: identityRoot(key), [VERSION_ANNOTATION]: String(version) },
      },
      data,
    });
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    return client.get<ConfigMap>(builtinResources.configMaps, name, namespace);
  }
}

/**
 * Empties the recovery ConfigMaps of destroyed versions of the wrapped copy and the shares (a destroyed key must not
 * be recoverable), keeping what identifies the backup and when it was retired. Replaced, never deleted: the operator
 * deletes nothing through the API.
 */
export async function retireBackups(
  client: KubeClient,
  key: ManagedKeyObject,
  versions: readonly KeyVersion[],
  nowMs: number,
): Promise<void> {
  for (const version of versions) {
    if (!version.recovery) continue;
    const map = await readConfigMap(client, version.recovery.configMapName, key.metadata.namespace ?? '');
    if (map?.data?.[RecoveryData.wrappedKey] === undefined) continue;
    const kept = [RecoveryData.mechanism, RecoveryData.checkValue, RecoveryData.kekAuthenticator] as const;
    await client.replace<ConfigMap>(builtinResources.configMaps, {
      ...map,
      data: {
        ...Object.fromEntries(kept.map((field) => [field, map.data?.[field] ?? ''])),
        [RecoveryData.retired]: `version ${version.version} was destroyed at ${formatTime(nowMs)}; its wrapped copy and shares were removed`,
      },
    });
  }
}

/** The Recoverable condition of a key with spec.recovery: every version that exists has its backup, or which lack. */
export function recoverableCondition(versions: readonly KeyVersion[]): {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
} {
  const live = versions.filter((v) => v.state !== 'Generating' && v.state !== 'Destroyed');
  const lacking = live.filter((v) => !v.recovery).map((v) => v.version);
  if (lacking.length > 0)
    return {
      type: ConditionType.Recoverable,
      status: 'False',
      reason: KeyReason.BackupMissing,
      message: `version(s) ${lacking.join(', ')} have no recovery backup: the wrapped copy was never stored (or its ConfigMap was changed), and a sealed key cannot be wrapped again`,
    };
  const backed = live.map((v) => `${v.version} (${v.recovery?.configMapName ?? ''})`);
  return {
    type: ConditionType.Recoverable,
    status: 'True',
    reason: KeyReason.BackedUp,
    message:
      backed.length === 0
        ? 'no version yet'
        : `version(s) ${backed.join(', ')} are wrapped in the backend under a key-encryption key split among the custodians, and unextractable since`,
  };
}
