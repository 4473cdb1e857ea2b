// KeyDestruction of a key under quorum. An offline root: under the same dual control and split knowledge as its
// activation (M custodians approve, each with their share re-encrypted to the ceremony's recipient certificate; the
// activation data rebuilt and checked against the authenticator before any login). An online key (its KeyBackend
// holds the PIN, e.g. one with destroyRequiresCeremony): the approvals alone, through the operator's connection.
// Then every version of the ManagedKey is destroyed in the backend, each destruction recorded in the transcript,
// checked absent afterwards, its recovery backups emptied, and the ManagedKey moved to Destroyed. Its deletion then
// needs nothing more from the backend (deletion.ts).
import type { ManagedKeyObject, ManagedKeyStatus } from '../../api/v1alpha1/managedkey.ts';
import type { KeyBackend } from '../../backends/backend.ts';
import { openBackend } from '../../backends/registry.ts';
import { tokenPins, wipePins } from '../../ceremony/activation.ts';
import type { ApiAccess } from '../../kube/access.ts';
import { formatTime } from '../../runtime/clock.ts';
import type { BackendConnections } from '../keybackend/connections.ts';
import { retireBackups } from '../managedkey/recovery.ts';
import { keyIdentity } from '../managedkey/versions.ts';
import { dropRecipient } from './activation.ts';
import type { RootTarget } from './activation.ts';
import type { CeremonyRun } from './context.ts';
import { CeremonyRefusal, managedKeyType, targetManagedKey } from './root-generation.ts';

/** The destroyed root's ManagedKey status. */
export const destructionAccess: ApiAccess = {
  resource: managedKeyType,
  subresource: 'status',
  verbs: ['patch'],
};

/** Logs in with the PIN derived from `secret` (zeroed here), destroys every version, checks, logs out. */
export async function runDestruction(run: CeremonyRun, target: RootTarget, secret: Buffer): Promise<void> {
  const pins = tokenPins(secret, target.rootCeremonyUid);
  secret.fill(0);
  let backend: KeyBackend | undefined;
  try {
    const credential = Buffer.from(pins.user);
    try {
      backend = await openBackend(target.keyBackend.spec, new Map([['pin', credential]]));
    } finally {
      credential.fill(0);
    }
    await destroyVersions(run, target.managedKey, backend, 'logging in to the token and destroying');
    await backend.close();
    backend = undefined;
  } finally {
    await backend?.close();
    wipePins(pins);
  }
  await finishDestruction(run, target.managedKey, {
    sessionsClosed: true,
    loggedOut: true,
    activationDataInMemory: false,
    recipientKeyDiscarded: true,
  });
}

/**
 * An online key (its KeyBackend holds the PIN): no shares, the quorum's approvals alone; the ManagedKey controller's
 * own connection destroys every version.
 */
export async function runOnlineDestruction(run: CeremonyRun, target: OnlineTarget): Promise<void> {
  await run.step(
    'Share Reconstruction',
    'Skipped',
    { reason: 'online key' },
    "the key's KeyBackend holds its own credentials: the quorum's approvals alone authorise the destruction",
  );
  await destroyVersions(run, target.managedKey, target.backend, 'destroying');
  await finishDestruction(run, target.managedKey, { sharesInMemory: false });
}

/** What an online KeyDestruction acts on, checked at Preparation and again before it runs. */
export interface OnlineTarget {
  readonly managedKey: ManagedKeyObject;
  readonly backend: KeyBackend;
}

export async function resolveOnlineTarget(
  run: CeremonyRun,
  connections: BackendConnections,
): Promise<OnlineTarget> {
  const { ceremony } = run;
  const namespace = ceremony.metadata.namespace ?? '';
  const name = ceremony.spec.target?.managedKeyRef.name ?? '';
  const managedKey = await targetManagedKey(run);
  const backendName = managedKey.spec.backendRef.name;
  if (backendName !== ceremony.spec.backendRef.name)
    throw new CeremonyRefusal(
      'InvalidSpec',
      `ManagedKey ${namespace}/${name} is in KeyBackend ${backendName}, not ${ceremony.spec.backendRef.name}`,
    );
  if (managedKey.status?.phase === 'Destroyed')
    throw new CeremonyRefusal('AlreadyDestroyed', `ManagedKey ${namespace}/${name} is already destroyed`);
  const connection = connections.get(backendName);
  if (!connection?.ready)
    throw new CeremonyRefusal(
      'BackendNotReady',
      `KeyBackend ${backendName} is not connected${connection ? `: ${connection.message}` : ''}`,
    );
  return { managedKey, backend: connection.backend };
}

/** Destroys every version in `backend`, one transcript entry each, then checks that none is left. */
async function destroyVersions(
  run: CeremonyRun,
  managedKey: ManagedKeyObject,
  backend: KeyBackend,
  doing: string,
): Promise<void> {
  const keyName = `${managedKey.metadata.namespace ?? ''}/${managedKey.metadata.name ?? ''}`;
  const versions = (managedKey.status?.versions ?? []).filter((v) => v.state !== 'Destroyed');
  const identities = versions.map((v) => keyIdentity(managedKey, v.version, v));
  await run.step(
    'Key Destruction',
    'Running',
    { managedKey: keyName, versions: versions.map((v) => String(v.version)) },
    `${doing} ${versions.length} version(s) of ${keyName}`,
  );
  for (const [i, identity] of identities.entries()) {
    const result = await backend.destroy(identity, { delaySeconds: 0 });
    await run.record('Key Destruction', 'operator', {
      event: 'version destroyed',
      version: identity.version,
      keyRef: versions[i]?.keyRef ?? '',
      fingerprint: versions[i]?.fingerprint ?? '',
      outcome: result.outcome,
    });
    if (result.outcome === 'scheduled')
      throw new CeremonyRefusal(
        'DestructionIncomplete',
        `the backend only scheduled the destruction of version ${identity.version}; a ceremony destroys at once`,
      );
  }
  await backend.refresh();
  const left: number[] = [];
  for (const identity of identities) if (await backend.observe(identity)) left.push(identity.version);
  if (left.length > 0)
    throw new CeremonyRefusal(
      'DestructionIncomplete',
      `version(s) ${left.join(', ')} of ${keyName} are still in the backend after destruction`,
    );
  await run.step(
    'Key Destruction',
    'Done',
    { destroyed: versions.map((v) => String(v.version)) },
    `every version of ${keyName} destroyed in the backend`,
  );
}

/** The ManagedKey marked Destroyed, its recovery backups emptied, and the last two steps recorded. */
async function finishDestruction(
  run: CeremonyRun,
  managedKey: ManagedKeyObject,
  storage: Record<string, boolean>,
): Promise<void> {
  const keyName = `${managedKey.metadata.namespace ?? ''}/${managedKey.metadata.name ?? ''}`;
  await markDestroyed(run, managedKey);
  await retireBackups(run.context.client, managedKey, managedKey.status?.versions ?? [], run.now);
  await run.step(
    'Verification & Audit',
    'Done',
    {
      managedKey: keyName,
      versionsAbsent: (managedKey.status?.versions ?? []).map((v) => String(v.version)),
      publicKeyFingerprint: managedKey.status?.publicKeyFingerprint ?? '',
    },
    `no version of ${keyName} is left in the backend; the ManagedKey is Destroyed`,
  );
  dropRecipient(run.ceremony.metadata.uid ?? '');
  await run.step('Secure Storage', 'Done', storage, 'sessions closed; nothing secret is left in memory');
}

async function markDestroyed(run: CeremonyRun, managedKey: ManagedKeyObject): Promise<void> {
  const ceremonyName = `${run.ceremony.metadata.namespace ?? ''}/${run.ceremony.metadata.name ?? ''}`;
  const status: ManagedKeyStatus = {
    phase: 'Destroyed',
    versions: (managedKey.status?.versions ?? []).map((v) => ({ ...v, state: 'Destroyed' as const })),
    conditions: [
      {
        type: 'Ready',
        status: 'False',
        reason: 'Destroyed',
        message: `every version was destroyed by KeyCeremony ${ceremonyName}`,
        lastTransitionTime: formatTime(run.now),
      },
    ],
  };
  await run.context.client.patch(
    managedKeyType,
    managedKey.metadata.name ?? '',
    managedKey.metadata.namespace,
    'merge',
    { status },
    { subresource: 'status' },
  );
}
