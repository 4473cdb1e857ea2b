// The CEL transition rules that keep ManagedKey status from being bent by whoever may write it: a real API server
// refuses each edit below with its message, and lets the lifecycle's own moves through.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { KeyVersion, ManagedKeyObject, ManagedKeyStatus } from '../../../src/api/v1alpha1/managedkey.ts';
import { managedKeyType } from '../../../src/controllers/managedkey/names.ts';
import { installCrds } from '../../../scripts/cluster.ts';
import { apiErrorMessage, testCluster } from '../../support/kube.ts';
import type { TestCluster } from '../../support/kube.ts';

const NAMESPACE = 'default';
const RUN = randomBytes(3).toString('hex');
const T0 = '2026-01-01T00:00:00Z';

function version(n: number, state: KeyVersion['state'], extra: Partial<KeyVersion> = {}): KeyVersion {
  return {
    version: n,
    state,
    createdTime: T0,
    keyRef: `pkcs11:object=v${String(n)}`,
    backendVersion: `id${String(n)}`,
    target: 'pkcs11:serial=1',
    ...extra,
  };
}

const recorded: ManagedKeyStatus = {
  currentVersion: 2,
  versions: [version(2, 'Active'), version(1, 'Archived', { archivedTime: T0 })],
};

describe('ManagedKey status guards (CEL transition rules on a real API server)', () => {
  let cluster: TestCluster;
  let names = 0;
  const made: string[] = [];

  before(async () => {
    cluster = await testCluster();
    await installCrds(cluster.client);
  });
  after(async () => {
    for (const name of made)
      await cluster.client.delete(managedKeyType, name, NAMESPACE).catch(() => undefined);
  });

  /** A ManagedKey whose status is `status`, written through the status subresource as the operator writes it. */
  async function keyWithStatus(status: ManagedKeyStatus): Promise<ManagedKeyObject> {
    const name = `guard-${RUN}-${String(++names)}`;
    made.push(name);
    const key = await cluster.client.create<ManagedKeyObject>(managedKeyType, {
      apiVersion: 'keyward.io/v1alpha1',
      kind: 'ManagedKey',
      metadata: { name, namespace: NAMESPACE },
      spec: {
        backendRef: { name: 'softhsm-dev' },
        algorithm: 'EC_P256',
        usages: ['sign', 'verify'],
      } as ManagedKeyObject['spec'],
    });
    return writeStatus(key, status);
  }

  function writeStatus(key: ManagedKeyObject, status: ManagedKeyStatus): Promise<ManagedKeyObject> {
    return cluster.client.replace<ManagedKeyObject>(
      managedKeyType,
      { ...key, status },
      { subresource: 'status' },
    );
  }

  async function refused(
    status: (old: ManagedKeyStatus) => ManagedKeyStatus,
    message: string,
  ): Promise<void> {
    const key = await keyWithStatus(recorded);
    const error = await writeStatus(key, status(structuredClone(recorded))).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error, 'the API server accepted the edit');
    const text = apiErrorMessage(error);
    assert.ok(text.includes(message), `expected "${message}" in: ${text}`);
  }

  it('lets the lifecycle move forward: a rotation, archival, disabling, destruction, and Disabled back to Archived', async () => {
    let key = await keyWithStatus({ versions: [version(1, 'Generating', { keyRef: undefined })] });
    key = await writeStatus(key, { currentVersion: 1, versions: [version(1, 'Active')] });
    key = await writeStatus(key, {
      currentVersion: 1,
      versions: [
        version(2, 'Generating', { keyRef: undefined, backendVersion: undefined, target: undefined }),
        version(1, 'Active'),
      ],
    });
    key = await writeStatus(key, recorded);
    key = await writeStatus(key, { ...recorded, versions: [version(2, 'Active'), version(1, 'Disabled')] });
    key = await writeStatus(key, recorded);
    const destroyTime = '2026-03-01T00:00:00Z';
    key = await writeStatus(key, {
      ...recorded,
      versions: [version(2, 'Active'), version(1, 'PendingDestruction', { destroyTime })],
    });
    await writeStatus(key, {
      ...recorded,
      versions: [version(2, 'Active'), version(1, 'Destroyed', { destroyTime })],
    });
  });

  it('refuses to empty status.versions, or to drop the status altogether', async () => {
    await refused(() => ({}), 'status.versions cannot be removed');
    await refused((s) => ({ ...s, versions: undefined }), 'status.versions cannot be removed');
  });

  it('refuses to forget a version (a status restored from an old backup)', async () => {
    await refused(
      (s) => ({ ...s, versions: s.versions?.filter((v) => v.version !== 2) }),
      'a version recorded in status.versions cannot be removed',
    );
  });

  it('refuses to lower the current version', async () => {
    await refused((s) => ({ ...s, currentVersion: 1 }), 'status.currentVersion never goes down');
  });

  it('refuses to move a version backwards, e.g. an archived version back to Active', async () => {
    await refused(
      (s) => ({ ...s, versions: [version(2, 'Active'), version(1, 'Active')] }),
      "a version's state only moves forward",
    );
  });

  it('refuses to re-point a version at another key or target', async () => {
    await refused(
      (s) => ({
        ...s,
        versions: [
          version(2, 'Active', { backendVersion: 'planted' }),
          version(1, 'Archived', { archivedTime: T0 }),
        ],
      }),
      "a version's backendVersion cannot change once set",
    );
    await refused(
      (s) => ({
        ...s,
        versions: [
          version(2, 'Active', { target: 'pkcs11:serial=other' }),
          version(1, 'Archived', { archivedTime: T0 }),
        ],
      }),
      "a version's target cannot change once set",
    );
  });

  it('refuses to bring a scheduled destruction forward', async () => {
    const pending: ManagedKeyStatus = {
      ...recorded,
      destroyTime: '2026-03-01T00:00:00Z',
      versions: [
        version(2, 'Active'),
        version(1, 'PendingDestruction', { destroyTime: '2026-03-01T00:00:00Z' }),
      ],
    };
    const key = await keyWithStatus(pending);
    for (const [edit, message] of [
      [{ ...pending, destroyTime: '2026-01-02T00:00:00Z' }, 'status.destroyTime cannot change once set'],
      [
        {
          ...pending,
          versions: [
            version(2, 'Active'),
            version(1, 'PendingDestruction', { destroyTime: '2026-01-02T00:00:00Z' }),
          ],
        },
        "a version's destroyTime cannot change once set",
      ],
    ] as [ManagedKeyStatus, string][]) {
      const error = await writeStatus(key, edit).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(error, 'the API server accepted the edit');
      assert.ok(apiErrorMessage(error).includes(message), apiErrorMessage(error));
    }
  });
});
