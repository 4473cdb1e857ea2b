// KeyDestruction of an offline root key: under the same dual control and split knowledge as its activation (M
// custodians approve, each with their share re-encrypted to the ceremony's recipient certificate; the activation
// data rebuilt and checked against the authenticator before any login), then every version of the ManagedKey is
// destroyed in the token, each destruction recorded in the transcript, checked absent afterwards, and the
// ManagedKey moved to Destroyed. Its deletion then needs nothing more from the token (deletion.ts).
import type { ManagedKeyStatus } from '../../api/v1alpha1/managedkey.ts';
import type { KeyBackend } from '../../backends/backend.ts';
import { openBackend } from '../../backends/registry.ts';
import { tokenPins, wipePins } from '../../ceremony/activation.ts';
import type { ApiAccess } from '../../kube/access.ts';
import { formatTime } from '../../runtime/clock.ts';
import { keyIdentity } from '../managedkey/versions.ts';
import { dropRecipient } from './activation.ts';
import type { RootTarget } from './activation.ts';
import type { CeremonyRun } from './context.ts';
import { CeremonyRefusal, managedKeyType } from './root-generation.ts';

/** The destroyed root's ManagedKey status. */
export const destructionAccess: ApiAccess = {
  resource: managedKeyType,
  subresource: 'status',
  verbs: ['patch'],
};

/** Logs in with the PIN derived from `secret` (zeroed here), destroys every version, checks, logs out. */
export async function runDestruction(run: CeremonyRun, target: RootTarget, secret: Buffer): Promise<void> {
  const { ceremony } = run;
  const { managedKey } = target;
  const keyName = `${managedKey.metadata.namespace ?? ''}/${managedKey.metadata.name ?? ''}`;
  const pins = tokenPins(secret, target.rootCeremonyUid);
  secret.fill(0);
  const versions = (managedKey.status?.versions ?? []).filter((v) => v.state !== 'Destroyed');
  const identities = versions.map((v) => keyIdentity(managedKey, v.version, v));
  let backend: KeyBackend | undefined;
  try {
    await run.step(
      'Key Destruction',
      'Running',
      { managedKey: keyName, versions: versions.map((v) => String(v.version)) },
      `logging in to the token and destroying ${versions.length} version(s) of ${keyName}`,
    );
    const credential = Buffer.from(pins.user);
    try {
      backend = await openBackend(target.keyBackend.spec, new Map([['pin', credential]]));
    } finally {
      credential.fill(0);
    }
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
        `version(s) ${left.join(', ')} of ${keyName} are still in the token after destruction`,
      );
    await backend.close();
    backend = undefined;
    await run.step(
      'Key Destruction',
      'Done',
      { destroyed: versions.map((v) => String(v.version)), loggedOut: true },
      `every version of ${keyName} destroyed in the token; logged out`,
    );
  } finally {
    await backend?.close();
    wipePins(pins);
  }
  await markDestroyed(run, target);
  await run.step(
    'Verification & Audit',
    'Done',
    {
      managedKey: keyName,
      versionsAbsent: versions.map((v) => String(v.version)),
      publicKeyFingerprint: managedKey.status?.publicKeyFingerprint ?? '',
    },
    `no version of ${keyName} is left in the token; the ManagedKey is Destroyed`,
  );
  dropRecipient(ceremony.metadata.uid ?? '');
  await run.step(
    'Secure Storage',
    'Done',
    { sessionsClosed: true, loggedOut: true, activationDataInMemory: false, recipientKeyDiscarded: true },
    'sessions closed, token logged out, activation secret, PINs and shares zeroed, recipient key discarded',
  );
}

async function markDestroyed(run: CeremonyRun, target: RootTarget): Promise<void> {
  const { managedKey } = target;
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
