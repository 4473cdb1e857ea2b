// A KMS key as an ObservedVersion.

import type { KeyMetadata } from '@aws-sdk/client-kms';
import type { ObservedState, ObservedVersion } from '../backend.ts';
import { AlreadyExistsError, RetryableError } from '../errors.ts';
import { identityLabel } from '../identity.ts';
import { algorithmOfKeySpec } from './key-specs.ts';
import type { TaggedIdentity } from './naming.ts';

function observedState(metadata: KeyMetadata): ObservedState {
  switch (metadata.KeyState) {
    case 'Enabled':
    case 'Updating':
      return 'Enabled';
    case 'Creating':
      return 'PendingGeneration';
    case 'PendingDeletion':
    case 'PendingReplicaDeletion':
      return 'DestroyScheduled';
    case 'Unavailable':
      // A custom key store that is disconnected: the key is there but nothing can use it until it reconnects.
      throw new RetryableError(
        `KMS key ${metadata.KeyId ?? ''} is unavailable: its custom key store is disconnected`,
      );
    default:
      return 'Disabled';
  }
}

export function observedVersion(
  metadata: KeyMetadata,
  tagged: TaggedIdentity,
  target: string,
): ObservedVersion {
  const algorithm = algorithmOfKeySpec(metadata.KeySpec);
  if (algorithm === undefined) {
    throw new AlreadyExistsError(
      `KMS key ${metadata.KeyId ?? ''} has key spec ${metadata.KeySpec ?? '?'}, which Keyward does not make`,
    );
  }
  const state = observedState(metadata);
  const [namespace = '', name = ''] = tagged.managedKey.split('/');
  return {
    version: tagged.version,
    versionId: metadata.KeyId ?? '',
    target,
    state,
    ...(state === 'DestroyScheduled' && metadata.DeletionDate
      ? { destroyTime: metadata.DeletionDate.getTime() }
      : {}),
    algorithm,
    usages: state === 'Enabled' ? tagged.usages : [],
    keyRef: metadata.Arn ?? '',
    label: identityLabel({ uid: tagged.uid, namespace, name, version: tagged.version }),
  };
}
