// The controllers with the cloud backends, against their peers and the real API server: a ManagedKey generated,
// recorded with the backend's own version id and target, rotated, and a KeyBackend that declares more FIPS
// protection than its target is validated to refused.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { installCrds } from '../../../scripts/cluster.ts';
import { ConditionType } from '../../../src/api/v1alpha1/conditions.ts';
import type { KeyBackendObject, ManagedKeyObject } from '../../../src/api/v1alpha1/index.ts';
import { keyBackendType } from '../../../src/controllers/keybackend/controller.ts';
import { managedKeyType } from '../../../src/controllers/managedkey/names.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import { builtinResources } from '../../../src/kube/resource.ts';
import { peerSpec, startGcpKmsPeer } from '../../support/gcp-kms-peer.ts';
import type { GcpKmsPeer } from '../../support/gcp-kms-peer.ts';
import { managedKeyManifest } from '../../support/keyward.ts';
import { testCluster } from '../../support/kube.ts';
import { startKeyVaultPeer } from '../../support/keyvault-peer/server.ts';
import type { StoredKey } from '../../support/keyvault-peer/keys.ts';
import type { KeyVaultPeer } from '../../support/keyvault-peer/server.ts';
import { eventually, startTestOperator } from '../../support/operator.ts';
import type { TestOperator } from '../../support/operator.ts';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `cloud-${RUN}`;

let client: KubeClient;
let operator: TestOperator;
let vault: KeyVaultPeer;
let gcp: GcpKmsPeer;
const backends: string[] = [];

const ready = (object: { status?: { conditions?: { type: string; status: string; reason: string }[] } }) =>
  object.status?.conditions?.find((c) => c.type === ConditionType.Ready);

async function keyBackend(name: string, spec: Partial<KeyBackendObject['spec']>): Promise<void> {
  backends.push(name);
  await client.create(keyBackendType, {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'KeyBackend',
    metadata: { name },
    spec: { healthCheckInterval: '10s', ...spec },
  } as KeyBackendObject);
}

function azureSpec(fipsLevel: number): Partial<KeyBackendObject['spec']> {
  return {
    fipsLevel,
    azureKeyVault: {
      vaultUrl: vault.vaultUrl,
      vaultType: 'KeyVault',
      authorityHost: vault.authorityHost,
      disableChallengeResourceVerification: true,
      credentialsSecretRef: { namespace: NAMESPACE, name: 'azure-sp', key: 'sp.json' },
    },
  };
}

before(async () => {
  ({ client } = await testCluster());
  await installCrds(client);
  vault = await startKeyVaultPeer({ kind: 'vault' });
  gcp = await startGcpKmsPeer({ pendingGenerationMs: 300 });
  await client.create(builtinResources.namespaces, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NAMESPACE },
  });
  const principal = { tenantId: vault.tenantId, clientId: vault.clientId, clientSecret: vault.clientSecret };
  await client.create(builtinResources.secrets, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'azure-sp', namespace: NAMESPACE },
    data: { 'sp.json': Buffer.from(JSON.stringify(principal)).toString('base64') },
  } as never);
  operator = await startTestOperator(client);
});

after(async () => {
  await operator.stop();
  for (const name of backends) await client.delete(keyBackendType, name, undefined).catch(() => undefined);
  await vault.stop();
  await gcp.stop();
});

async function activeKey(name: string, backend: string, rotation?: object): Promise<ManagedKeyObject> {
  const manifest = managedKeyManifest(name, NAMESPACE, {
    backendRef: { name: backend },
    deletionPolicy: 'Retain',
    ...(rotation ? { rotation } : {}),
  } as never);
  await client.create(managedKeyType, manifest);
  return eventually(`${name} Active`, async () => {
    const key = await client.get<ManagedKeyObject>(managedKeyType, name, NAMESPACE);
    return ready(key)?.status === 'True' ? key : undefined;
  });
}

describe('cloud backends through the controllers', () => {
  it('refuses a KeyBackend that declares more FIPS protection than its target is validated to', async () => {
    await keyBackend(`azure-overstated-${RUN}`, azureSpec(3));
    const refused = await eventually('the KeyBackend refused', async () => {
      const kb = await client.get<KeyBackendObject>(keyBackendType, `azure-overstated-${RUN}`);
      return ready(kb)?.reason === 'FipsLevelOverstated' ? kb : undefined;
    });
    assert.match(ready(refused)?.status ?? '', /False/);
  });

  it('Azure Key Vault: a ManagedKey gets an Azure version, recorded with its id and the vault, and rotates', async () => {
    const name = `azure-${RUN}`;
    await keyBackend(name, azureSpec(2));
    const kb = await eventually('the Azure KeyBackend ready', async () => {
      const found = await client.get<KeyBackendObject>(keyBackendType, name);
      return ready(found)?.status === 'True' ? found : undefined;
    });
    const { info, capabilities } = kb.status ?? {};
    assert.ok(info && capabilities);
    assert.equal(info.validatedFipsLevel, 2);
    assert.equal(capabilities.archival, 'usages');
    const key = await activeKey('signer', name, { period: '8760h', trigger: 'a', retainVersions: 1 });
    const [v1] = key.status?.versions ?? [];
    assert.ok(v1);
    assert.equal(v1.state, 'Active');
    assert.equal(v1.target, info.target);
    assert.match(v1.backendVersion ?? '', /^[0-9a-f]{32}$/, 'the Azure version GUID');
    await client.patch(managedKeyType, 'signer', NAMESPACE, 'merge', {
      spec: { rotation: { trigger: 'b' } },
    });
    const rotated = await eventually('rotated', async () => {
      const found = await client.get<ManagedKeyObject>(managedKeyType, 'signer', NAMESPACE);
      return found.status?.currentVersion === 2 ? found : undefined;
    });
    const { versions, archival } = rotated.status ?? {};
    assert.deepEqual(
      versions?.map((v) => `${String(v.version)}:${v.state}`),
      ['2:Active', '1:Archived'],
    );
    assert.equal(archival, 'usages');
  });

  it("Azure Key Vault: Destroy schedules the deletion in the vault's own record at once, and purges when the window ends", async () => {
    const backend = `azure-${RUN}`; // made by the test above
    const name = 'short-lived';
    await client.create(
      managedKeyType,
      managedKeyManifest(name, NAMESPACE, {
        backendRef: { name: backend },
        deletionPolicy: 'Destroy',
        destroyAfter: '24h',
      } as never),
    );
    const key = await eventually(`${name} Active`, async () => {
      const found = await client.get<ManagedKeyObject>(managedKeyType, name, NAMESPACE);
      return ready(found)?.status === 'True' ? found : undefined;
    });
    const tagged = (k: StoredKey) =>
      k.versions.some((v) => Object.values(v.tags).includes(key.metadata.uid ?? ''));
    await client.delete(managedKeyType, name, NAMESPACE);
    await eventually('soft-deleted in the vault while PendingDestruction', async () => {
      const found = await client.get<ManagedKeyObject>(managedKeyType, name, NAMESPACE);
      return found.status?.phase === 'PendingDestruction' && vault.store.deleted().some(tagged)
        ? true
        : undefined;
    });
    operator.clock.advance(25 * 3_600_000);
    await client.patch(managedKeyType, name, NAMESPACE, 'merge', {
      metadata: { annotations: { touched: '1' } },
    });
    await eventually('the ManagedKey gone and the key purged', async () => {
      const gone = await client.get(managedKeyType, name, NAMESPACE).then(
        () => false,
        () => true,
      );
      return gone && !vault.store.deleted().some(tagged) ? true : undefined;
    });
  });

  it('GCP Cloud HSM: a ManagedKey waits out PENDING_GENERATION and records its CryptoKeyVersion', async () => {
    const name = `gcp-${RUN}`;
    await keyBackend(name, { fipsLevel: 3, gcpKMS: peerSpec(gcp, `ring-${RUN}`) });
    const key = await activeKey('gcp-signer', name);
    const [v1] = key.status?.versions ?? [];
    assert.equal(v1?.state, 'Active');
    assert.equal(v1.backendVersion, '1');
    assert.match(v1.keyRef ?? '', /cryptoKeyVersions\/1$/);
    assert.equal(key.status?.archival, 'reference');
  });
});
