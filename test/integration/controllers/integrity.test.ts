// The ways a key could be lost or forged that the lifecycle closes, each against the real API server and SoftHSM2:
// versions the backend holds that status does not record, a KeyBackend pointed at another token, a version planted
// ahead of a rotation, a rotation spec removed, an archived version gone missing, and spec fields not yet in effect.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ConditionType, KeyReason } from '../../../src/api/v1alpha1/conditions.ts';
import type { KeyBackendObject, ManagedKeyObject } from '../../../src/api/v1alpha1/index.ts';
import type { KeyIdentity } from '../../../src/backends/identity.ts';
import { Pkcs11Backend } from '../../../src/backends/pkcs11/pkcs11-backend.ts';
import { keyBackendType } from '../../../src/controllers/keybackend/controller.ts';
import { EXTERNAL_NAME_ANNOTATION, managedKeyType } from '../../../src/controllers/managedkey/names.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import { keyBackendManifest, managedKeyManifest, setUpSoftHsmBackend } from '../../support/keyward.ts';
import type { SoftHsmSetup } from '../../support/keyward.ts';
import { eventually, startTestOperator } from '../../support/operator.ts';
import type { TestOperator } from '../../support/operator.ts';
import type { SoftHsm, SoftHsmToken } from '../../support/softhsm.ts';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `integrity-${RUN}`;
const BACKEND = `integrity-${RUN}`;
const DAY = 86_400_000;

let client: KubeClient;
let softhsm: SoftHsm;
let token: SoftHsmToken;
let other: SoftHsmToken;
let operator: TestOperator;
let setup: SoftHsmSetup;

const getKey = (name: string) => client.get<ManagedKeyObject>(managedKeyType, name, NAMESPACE);
const summary = (key: ManagedKeyObject) =>
  (key.status?.versions ?? []).map((v) => `${v.version}:${v.state}`).join(' ');
const ready = (key: ManagedKeyObject) => key.status?.conditions?.find((c) => c.type === ConditionType.Ready);
const objectsOf = (on: SoftHsmToken, name: string) =>
  softhsm.listObjects(on).filter((o) => o.label.startsWith(`${NAMESPACE}/${name}/`));

function until(
  name: string,
  what: string,
  test: (key: ManagedKeyObject) => boolean,
): Promise<ManagedKeyObject> {
  return eventually(`${name}: ${what}`, async () => {
    const key = await getKey(name);
    return test(key) ? key : undefined;
  });
}

async function createKey(name: string, spec: Partial<ManagedKeyObject['spec']> = {}, annotations = {}) {
  const manifest = managedKeyManifest(name, NAMESPACE, { backendRef: { name: BACKEND }, ...spec });
  manifest.metadata.annotations = annotations;
  await client.create(managedKeyType, manifest);
}

async function touch(name: string, change: object = {}): Promise<void> {
  await client.patch(managedKeyType, name, NAMESPACE, 'merge', {
    metadata: { annotations: { 'test.keyward.io/touched': randomUUID() } },
    ...change,
  });
}

/** A backend of this process on the test token: someone holding the partition PIN. */
async function withToken<T>(fn: (backend: Pkcs11Backend) => Promise<T>): Promise<T> {
  const backend = await Pkcs11Backend.connect({
    vendor: 'softhsm2',
    token: { label: token.label },
    pin: Buffer.from(token.pin),
  });
  try {
    return await fn(backend);
  } finally {
    await backend.close();
  }
}

const identityOf = (key: ManagedKeyObject, version: number): KeyIdentity => ({
  uid: key.metadata.uid ?? '',
  namespace: NAMESPACE,
  name: key.metadata.name ?? '',
  version,
});

before(async () => {
  setup = await setUpSoftHsmBackend(BACKEND, { namespace: NAMESPACE });
  ({ client, softhsm, token } = setup);
  // Made before any backend of this process connects: SoftHSM reads its tokens when the module is initialized.
  other = softhsm.initToken(`other-${RUN}`.slice(0, 32), token.pin);
  operator = await startTestOperator(client);
});

after(async () => {
  await operator.stop();
  await setup.cleanup();
});

describe('key integrity', () => {
  it('re-attaches a re-created ManagedKey to the versions of the uid it names, generating nothing', async () => {
    // A ManagedKey deleted with Retain (or lost with its etcd), whose keys stay in the token...
    await createKey('restored', { rotation: { period: '8760h', trigger: 'a', retainVersions: 2 } });
    await until('restored', 'version 1', (k) => k.status?.currentVersion === 1);
    await touch('restored', { spec: { rotation: { trigger: 'b' } } });
    const original = await until('restored', 'rotated', (k) => summary(k) === '2:Active 1:Archived');
    await client.delete(managedKeyType, 'restored', NAMESPACE);
    await eventually('restored deleted', async () =>
      (await getKey('restored').then(
        () => false,
        () => true,
      ))
        ? true
        : undefined,
    );
    // ...is created again, naming on purpose the uid its keys were made under.
    await createKey(
      'restored',
      { rotation: { period: '8760h', trigger: 'b', retainVersions: 2 } },
      { [EXTERNAL_NAME_ANNOTATION]: original.metadata.uid ?? '' },
    );
    const reattached = await until('restored', 're-attached', (k) => summary(k) === '2:Active 1:Archived');
    assert.notEqual(reattached.metadata.uid, original.metadata.uid);
    assert.deepEqual(
      reattached.status?.versions?.map((v) => [v.version, v.fingerprint, v.backendVersion]),
      original.status?.versions?.map((v) => [v.version, v.fingerprint, v.backendVersion]),
      'the re-attached versions are the keys in the token',
    );
    assert.equal(objectsOf(token, 'restored').length, 4, 'two key pairs, nothing generated');
  });

  it('does not adopt v1 when the token already holds versions under the key uid without the annotation', async () => {
    await createKey('emptied', { backendRef: { name: `absent2-${RUN}` } });
    const waiting = await until(
      'emptied',
      'waiting for its backend',
      (k) => ready(k)?.reason === 'BackendNotFound',
    );
    await withToken(async (hsm) => {
      for (const version of [1, 2, 3]) {
        await hsm.create(identityOf(waiting, version), { algorithm: 'EC_P256', usages: ['sign', 'verify'] });
      }
    });
    // Point it at the real backend: backendRef is immutable, so re-create the backend under the name it uses.
    await client.create(
      keyBackendType,
      keyBackendManifest(`absent2-${RUN}`, { namespace: NAMESPACE, token }),
    );
    const refused = await until(
      'emptied',
      'refused',
      (k) => ready(k)?.reason === KeyReason.UnrecordedVersions,
    );
    assert.match(ready(refused)?.message ?? '', /version\(s\) 1, 2, 3 .* keyward\.io\/external-name/);
    assert.equal(refused.status?.currentVersion, undefined, 'v1 was not adopted as a fresh key');
    assert.equal(refused.status?.phase, 'Failed');
    assert.equal(objectsOf(token, 'emptied').length, 6, 'nothing generated, nothing destroyed');
    await client.delete(keyBackendType, `absent2-${RUN}`, undefined);
  });

  it('never adopts a version planted ahead of a rotation', async () => {
    await createKey('planted', { rotation: { period: '8760h', trigger: 'a', retainVersions: 2 } });
    const key = await until('planted', 'version 1', (k) => k.status?.currentVersion === 1);
    await withToken((hsm) =>
      hsm.create(identityOf(key, 2), { algorithm: 'EC_P256', usages: ['sign', 'verify'] }),
    );
    await touch('planted', { spec: { rotation: { trigger: 'b' } } });
    const refused = await until(
      'planted',
      'refused',
      (k) => ready(k)?.reason === KeyReason.UnrecordedVersions,
    );
    assert.equal(refused.status?.currentVersion, 1);
    assert.equal(summary(refused), '1:Active');
  });

  it('removing spec.rotation leaves archived versions archived', async () => {
    await createKey('unrotated', { rotation: { period: '8760h', trigger: 'a', retainVersions: 2 } });
    await until('unrotated', 'version 1', (k) => k.status?.currentVersion === 1);
    await touch('unrotated', { spec: { rotation: { trigger: 'b' } } });
    await until('unrotated', 'rotated', (k) => summary(k) === '2:Active 1:Archived');
    await client.patch(managedKeyType, 'unrotated', NAMESPACE, 'json', [
      { op: 'remove', path: '/spec/rotation' },
    ]);
    operator.clock.advance(DAY);
    await touch('unrotated');
    await until(
      'unrotated',
      'rotation condition gone',
      (k) => !k.status?.conditions?.some((c) => c.type === ConditionType.Rotating),
    );
    assert.equal(summary(await getKey('unrotated')), '2:Active 1:Archived');
    const v1 = objectsOf(token, 'unrotated').find((o) => o.label.endsWith('/v1') && o.kind === 'Public Key');
    assert.ok(v1?.usage.includes('verify'), 'version 1 still verifies in the token');
  });

  it('a missing archived version is reported but the current one keeps rotating', async () => {
    await createKey('gap', { rotation: { period: '8760h', trigger: 'a', retainVersions: 2 } });
    await until('gap', 'version 1', (k) => k.status?.currentVersion === 1);
    await touch('gap', { spec: { rotation: { trigger: 'b' } } });
    const rotated = await until('gap', 'rotated', (k) => summary(k) === '2:Active 1:Archived');
    await withToken((hsm) => hsm.destroy(identityOf(rotated, 1), { delaySeconds: 0 }));
    // A fresh operator process checks every version once: the missing one is found.
    await operator.stop();
    operator = await startTestOperator(client);
    await touch('gap', { spec: { rotation: { trigger: 'c' } } });
    const later = await until('gap', 'rotated again', (k) => k.status?.currentVersion === 3);
    const intact = later.status?.conditions?.find((c) => c.type === ConditionType.VersionsIntact);
    assert.ok(intact);
    assert.equal(intact.status, 'False');
    assert.match(intact.message, /archived version\(s\) 1 are missing/);
    assert.equal(ready(later)?.status, 'True');
  });

  it('a KeyBackend pointed at another token generates, changes and destroys nothing there', async () => {
    await createKey('pinned', { deletionPolicy: 'Destroy', destroyAfter: '24h' });
    const key = await until('pinned', 'version 1', (k) => k.status?.currentVersion === 1);
    const recordedTarget = key.status?.versions?.[0]?.target ?? '';
    assert.match(recordedTarget, /^pkcs11:.*serial=/);
    const backend = await client.get<KeyBackendObject>(keyBackendType, BACKEND);
    await client.replace(keyBackendType, {
      ...backend,
      spec: { ...backend.spec, pkcs11: { ...backend.spec.pkcs11!, token: { label: other.label } } },
    });
    const refused = await until('pinned', 'refused', (k) => ready(k)?.reason === 'TargetMismatch');
    assert.match(ready(refused)?.message ?? '', /recorded on .* but the KeyBackend now reaches/);
    await client.delete(managedKeyType, 'pinned', NAMESPACE);
    operator.clock.advance(2 * DAY);
    await touch('pinned').catch(() => undefined);
    assert.equal(objectsOf(other, 'pinned').length, 0, 'nothing was generated on the other token');
    assert.equal(objectsOf(token, 'pinned').length, 2, 'nothing was destroyed on the first token either');
    await client.replace(keyBackendType, {
      ...(await client.get<KeyBackendObject>(keyBackendType, BACKEND)),
      spec: backend.spec,
    });
  });

  it('says which spec fields are not in effect yet', async () => {
    await createKey('exporting', {
      algorithm: 'RSA_3072',
      usages: ['encrypt', 'decrypt'],
      protection: { exportable: true },
    });
    const key = await until(
      'exporting',
      'condition',
      (k) => k.status?.conditions?.some((c) => c.type === ConditionType.SpecInEffect) ?? false,
    );
    const condition = key.status?.conditions?.find((c) => c.type === ConditionType.SpecInEffect);
    assert.ok(condition);
    assert.equal(condition.status, 'False');
    assert.match(condition.message, /spec\.protection\.exportable: the key is generated non-extractable/);
  });
});
