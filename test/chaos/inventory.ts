// What each backend holds for a trial's keys, read from the backend's side rather than through Keyward's code: the
// token through pkcs11-tool (softhsm.listObjects), the peers' own stores, moto through the AWS SDK. Counted by the
// identity each backend stores beside a key (the PKCS#11 label `<namespace>/<name>/v<N>`, Azure and AWS tags with
// the uid and version, the Cloud KMS CryptoKey named after the uid whose version N is Keyward's version N). An
// object still restorable (Azure soft delete, GCP DESTROY_SCHEDULED, AWS PendingDeletion) counts as held.
import { KMS } from '@aws-sdk/client-kms';
import { TAG_UID, TAG_VERSION } from '../../src/backends/aws-kms/naming.ts';
import { TAG } from '../../src/backends/azure-keyvault/key-names.ts';
import { cryptoKeyName, keyRingName } from '../../src/backends/gcp-kms/names.ts';
import type { KeyRingPath } from '../../src/backends/gcp-kms/names.ts';
import type { GcpKmsPeer } from '../support/gcp-kms-peer.ts';
import type { KeyVaultPeer } from '../support/keyvault-peer/server.ts';
import { MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY } from '../support/moto.ts';
import type { SoftHsm, SoftHsmToken } from '../support/softhsm.ts';
import type { BackendObjects } from './invariants.ts';
import type { Inventory } from './trial.ts';

/** The trial's keys: namespace, and name -> uid. */
export interface KeyOwners {
  readonly namespace: string;
  uids(): ReadonlyMap<string, string>;
}

function tally(found: readonly { uid: string; version: number }[]): BackendObjects[] {
  const counts = new Map<string, BackendObjects>();
  for (const { uid, version } of found) {
    const id = `${uid}/${String(version)}`;
    counts.set(id, { uid, version, count: (counts.get(id)?.count ?? 0) + 1 });
  }
  return [...counts.values()];
}

/**
 * Private and secret key objects on the token under Keyward's label `<namespace>/<name>/v<N>` (a key pair's public
 * half is not counted twice). The token is the trial's own, so an object under a name no tracked key has (a second
 * root key a ceremony made) is counted too, as `label:<namespace>/<name>`. Objects under other labels are not
 * Keyward's: pkcs11-tool reading SoftHSM2's files while the operator writes one can also list an object half read.
 */
export function pkcs11Inventory(softhsm: SoftHsm, token: SoftHsmToken, owners: KeyOwners): Inventory {
  return () => {
    const uids = owners.uids();
    const found: { uid: string; version: number }[] = [];
    for (const object of softhsm.listObjects(token)) {
      if (object.kind === 'Public Key') continue;
      const match = /^(.+)\/(.+)\/v(\d+)$/.exec(object.label);
      if (match === null) continue;
      const [, namespace = '', name = '', version = ''] = match;
      const uid = namespace === owners.namespace ? uids.get(name) : undefined;
      found.push({ uid: uid ?? `label:${namespace}/${name}`, version: Number(version) });
    }
    return Promise.resolve(tally(found));
  };
}

/** Azure: one key per Keyward version, tagged with the uid and version; soft-deleted keys are still held. */
export function keyVaultInventory(vault: KeyVaultPeer, owners: KeyOwners): Inventory {
  return () => {
    const uids = new Set(owners.uids().values());
    const found: { uid: string; version: number }[] = [];
    for (const key of [...vault.store.active(), ...vault.store.deleted()]) {
      const tags = key.versions.at(-1)?.tags;
      const uid = tags?.[TAG.uid];
      if (uid !== undefined && uids.has(uid)) found.push({ uid, version: Number(tags?.[TAG.version]) });
    }
    return Promise.resolve(tally(found));
  };
}

/** Cloud KMS: the CryptoKey named after the uid; every version not DESTROYED is held. */
export function gcpInventory(peer: GcpKmsPeer, ring: KeyRingPath, owners: KeyOwners): Inventory {
  return () => {
    const found: { uid: string; version: number }[] = [];
    for (const [name, uid] of owners.uids()) {
      let key;
      try {
        key = peer.state.cryptoKey(
          cryptoKeyName(keyRingName(ring), { uid, namespace: owners.namespace, name, version: 1 }),
        );
      } catch {
        continue; // not made (yet)
      }
      for (const version of key.versions)
        if (version.state !== 'DESTROYED') found.push({ uid, version: version.number });
    }
    return Promise.resolve(tally(found));
  };
}

/** AWS KMS (moto): one KMS key per Keyward version, tagged with the uid and version; PendingDeletion is held. */
export function awsInventory(endpoint: string, region: string, owners: KeyOwners): Inventory {
  const kms = new KMS({
    endpoint,
    region,
    credentials: { accessKeyId: MOTO_ACCESS_KEY_ID, secretAccessKey: MOTO_SECRET_ACCESS_KEY },
  });
  return async () => {
    const uids = new Set(owners.uids().values());
    const found: { uid: string; version: number }[] = [];
    let marker: string | undefined;
    do {
      const page = await kms.listKeys({ ...(marker ? { Marker: marker } : {}), Limit: 100 });
      for (const { KeyId } of page.Keys ?? []) {
        const { Tags = [] } = await kms.listResourceTags({ KeyId });
        const uid = Tags.find((t) => t.TagKey === TAG_UID)?.TagValue;
        if (uid === undefined || !uids.has(uid)) continue;
        const { KeyMetadata } = await kms.describeKey({ KeyId });
        if (
          KeyMetadata?.KeyState === 'PendingDeletion' ||
          KeyMetadata?.KeyState === 'Enabled' ||
          KeyMetadata?.KeyState === 'Disabled'
        )
          found.push({ uid, version: Number(Tags.find((t) => t.TagKey === TAG_VERSION)?.TagValue) });
      }
      marker = page.NextMarker;
    } while (marker);
    return tally(found);
  };
}
