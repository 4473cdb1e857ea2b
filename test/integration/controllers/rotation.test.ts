// Rotation against real peers: ManagedKeys on the local kube-apiserver, versions in a real SoftHSM2 token, the
// controllers in this process with a clock the test moves, so that months of cryptoperiods take seconds.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import type { ManagedKeyObject } from '../../../src/api/v1alpha1/index.ts';
import { Pkcs11Backend } from '../../../src/backends/pkcs11/pkcs11-backend.ts';
import { managedKeyType } from '../../../src/controllers/managedkey/controller.ts';
import type { ConfigMap } from '../../../src/controllers/managedkey/distribution.ts';
import { ROTATE_ANNOTATION } from '../../../src/controllers/managedkey/rotation.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import type { KubeObject } from '../../../src/kube/object.ts';
import { builtinResources } from '../../../src/kube/resource.ts';
import { eventually, startTestOperator } from '../../support/operator.ts';
import type { TestOperator } from '../../support/operator.ts';
import type { SoftHsm } from '../../support/softhsm.ts';
import { managedKeyManifest, setUpSoftHsmBackend } from '../../support/keyward.ts';
import type { SoftHsmSetup } from '../../support/keyward.ts';
import type { SoftHsmToken } from '../../support/softhsm.ts';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `rotation-${RUN}`;
const BACKEND = `rotation-${RUN}`;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let client: KubeClient;
let softhsm: SoftHsm;
let token: SoftHsmToken;
let operator: TestOperator;

const getKey = (name: string) => client.get<ManagedKeyObject>(managedKeyType, name, NAMESPACE);
const summary = (key: ManagedKeyObject) =>
  (key.status?.versions ?? []).map((v) => `${v.version}:${v.state}`).join(' ');

async function createKey(name: string, spec: Partial<ManagedKeyObject['spec']>): Promise<ManagedKeyObject> {
  await client.create(
    managedKeyType,
    managedKeyManifest(name, NAMESPACE, { backendRef: { name: BACKEND }, ...spec }),
  );
  // Version 1 is recorded first and its rotation scheduled in the next write: wait for both.
  return eventually(`${name} version 1`, async () => {
    const key = await getKey(name);
    const scheduled = !spec.rotation || key.status?.nextRotationTime !== undefined;
    return key.status?.currentVersion === 1 && scheduled ? key : undefined;
  });
}

/** Waits until the key's versions read `expected` (e.g. "2:Active 1:Archived"). */
function versionsOf(name: string, expected: string): Promise<ManagedKeyObject> {
  return eventually(`${name} versions "${expected}"`, async () => {
    const key = await getKey(name);
    return summary(key) === expected ? key : undefined;
  });
}

/** Patches metadata (or the spec) so that the controller looks at the key again, after the test clock moved. */
async function patch(name: string, change: object = {}): Promise<void> {
  await client.patch(managedKeyType, name, NAMESPACE, 'merge', {
    metadata: { annotations: { 'test.keyward.io/touched': String(Date.now()) } },
    ...change,
  });
}

const tokenObjects = (name: string) =>
  softhsm.listObjects(token).filter((o) => o.label.startsWith(`${NAMESPACE}/${name}/`));

let setup: SoftHsmSetup;
before(async () => {
  setup = await setUpSoftHsmBackend(BACKEND, { namespace: NAMESPACE });
  ({ client, softhsm, token } = setup);
  operator = await startTestOperator(client);
});

after(async () => {
  await operator.stop();
  await setup.cleanup();
});

describe('rotation', () => {
  it('rotates exactly once for each new trigger value (rotation from Git)', async () => {
    await createKey('by-trigger', { rotation: { period: '8760h', trigger: '2026-11', retainVersions: 2 } });
    await patch('by-trigger', { spec: { rotation: { trigger: '2026-12' } } });
    const rotated = await versionsOf('by-trigger', '2:Active 1:Archived');
    assert.equal(rotated.status?.lastRotationTrigger, '2026-12');
    // Looked at again and again: no second rotation for the same value.
    for (let i = 0; i < 3; i++) await patch('by-trigger');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(summary(await getKey('by-trigger')), '2:Active 1:Archived');
    assert.equal(tokenObjects('by-trigger').filter((o) => o.kind === 'Private Key').length, 2);
    // The archived version may verify but never sign again.
    const archived = tokenObjects('by-trigger').find(
      (o) => o.kind === 'Private Key' && o.label.endsWith('/v1'),
    );
    assert.deepEqual(archived?.usage, []);
    const archivedPublic = tokenObjects('by-trigger').find(
      (o) => o.kind === 'Public Key' && o.label.endsWith('/v1'),
    );
    assert.deepEqual(archivedPublic?.usage, ['verify']);
  });

  it('rotates once on request through the annotation', async () => {
    await createKey('by-request', { rotation: { period: '8760h', retainVersions: 2 } });
    await client.patch(managedKeyType, 'by-request', NAMESPACE, 'merge', {
      metadata: { annotations: { [ROTATE_ANNOTATION]: '2026-11-27T10:00:00Z' } },
    });
    await versionsOf('by-request', '2:Active 1:Archived');
  });

  it('rotates when the cryptoperiod ends, but only inside a maintenance window', async () => {
    const created = await createKey('by-period', {
      rotation: {
        period: '720h',
        retainVersions: 2,
        windows: [{ cron: '0 3 * * *', duration: '1h', timeZone: 'UTC' }],
      },
    });
    const due = Date.parse(created.status?.versions?.[0]?.createdTime ?? '') + 720 * HOUR;
    const nextWindow = Date.parse(created.status?.nextRotationTime ?? '');
    assert.ok(nextWindow >= due && nextWindow < due + DAY, created.status?.nextRotationTime);
    assert.equal(new Date(nextWindow).getUTCHours(), 3);

    // Past the cryptoperiod but before the window opens: no rotation.
    operator.clock.advance(nextWindow - operator.clock.now() - 60_000);
    await patch('by-period');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(summary(await getKey('by-period')), '1:Active');
    // The window opens: the key rotates.
    operator.clock.advance(2 * 60_000);
    await patch('by-period');
    await versionsOf('by-period', '2:Active 1:Archived');
  });

  it('keeps retainVersions archived versions and destroys archived ones after destroyArchivedAfter', async () => {
    await createKey('retention', {
      rotation: { period: '8760h', trigger: 't1', retainVersions: 1, destroyArchivedAfter: '48h' },
      destroyAfter: '24h',
    });
    for (const trigger of ['t2', 't3']) {
      await patch('retention', { spec: { rotation: { trigger } } });
      await eventually(`rotation for ${trigger}`, async () =>
        (await getKey('retention')).status?.lastRotationTrigger === trigger ? true : undefined,
      );
    }
    await versionsOf('retention', '3:Active 2:Archived 1:Disabled');
    // 48h after archival both older versions become PendingDestruction, destroyed 24h later.
    operator.clock.advance(2 * DAY + 60_000);
    await patch('retention');
    await versionsOf('retention', '3:Active 2:PendingDestruction 1:PendingDestruction');
    assert.equal(tokenObjects('retention').length, 6, 'nothing is destroyed before destroyAfter');
    // What a crash between destroying a version and recording it leaves behind: version 1 already gone from the
    // token while status still says PendingDestruction. The next reconcile must finish the record, not fail.
    const { uid = '' } = (await getKey('retention')).metadata;
    const hsm = await Pkcs11Backend.connect({
      vendor: 'softhsm2',
      token: { label: token.label },
      pin: Buffer.from(token.pin),
    });
    try {
      assert.deepEqual(
        await hsm.destroy({ uid, namespace: NAMESPACE, name: 'retention', version: 1 }, { delaySeconds: 0 }),
        { outcome: 'destroyed' },
      );
    } finally {
      await hsm.close();
    }
    operator.clock.advance(DAY + 60_000);
    await patch('retention');
    const destroyed = await versionsOf('retention', '3:Active 2:Destroyed 1:Destroyed');
    assert.equal(destroyed.status?.phase, 'Active');
    assert.deepEqual(
      tokenObjects('retention').map((o) => o.label.split('/').at(-1)),
      ['v3', 'v3'],
    );
  });

  it('publishes current and archived public keys, so a signature of the archived version still verifies', async () => {
    const key = await createKey('published', {
      rotation: { period: '8760h', trigger: 'a', retainVersions: 2 },
      distribution: { publicKey: { configMapName: 'published-pub' } },
    });
    const message = Buffer.from('signed before the rotation');
    const hsm = await Pkcs11Backend.connect({
      vendor: 'softhsm2',
      token: { label: token.label },
      pin: Buffer.from(token.pin),
    });
    let signature: Buffer;
    try {
      signature = await hsm.sign(
        { uid: key.metadata.uid ?? '', namespace: NAMESPACE, name: 'published', version: 1 },
        { message },
        { ecdsaFormat: 'raw' },
      );
    } finally {
      await hsm.close();
    }
    await patch('published', { spec: { rotation: { trigger: 'b' } } });
    await versionsOf('published', '2:Active 1:Archived');
    const configMap = await eventually('the ConfigMap with both versions', async () => {
      const found = await client.get<ConfigMap>(builtinResources.configMaps, 'published-pub', NAMESPACE);
      return found.data?.['v2.pem'] ? found : undefined;
    });
    const jwks = JSON.parse(configMap.data?.['jwks.json'] ?? '') as {
      keys: (JsonWebKey & { kid: string })[];
    };
    assert.equal(jwks.keys.length, 2);
    assert.equal(jwks.keys[0]?.kid, configMap.data?.['current-kid']);
    const verifies = (jwk: JsonWebKey) =>
      verify(
        'sha256',
        message,
        { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
        signature,
      );
    assert.deepEqual(
      jwks.keys.map((jwk) => verifies(jwk)),
      [false, true],
    );
  });

  it('counts rotations and exports per-key series, and records the rotation events', async () => {
    const { body } = await operator.manager.metrics.exposition();
    const rotations = Number(/^keyward_key_rotations_total\{result="success"\} (\d+)$/m.exec(body)?.[1]);
    assert.ok(rotations >= 6, `keyward_key_rotations_total{result="success"} is ${rotations}`);
    assert.match(
      body,
      new RegExp(`^keyward_key_age_seconds\\{namespace="${NAMESPACE}",name="by-trigger"\\} `, 'm'),
    );
    assert.match(
      body,
      new RegExp(`^keyward_key_rotation_overdue\\{namespace="${NAMESPACE}",name="by-trigger"\\} 0$`, 'm'),
    );
    assert.match(body, /^keyward_key_next_rotation_timestamp_seconds\{/m);
    const events = await client.list<KubeObject & { reason?: string; regarding?: { name?: string } }>(
      builtinResources.events,
      { namespace: NAMESPACE },
    );
    const reasons = new Set(
      events.items.filter((e) => e.regarding?.name === 'retention').map((e) => e.reason),
    );
    for (const reason of [
      'KeyCreated',
      'RotationScheduled',
      'KeyRotated',
      'VersionArchived',
      'VersionDisabled',
      'VersionDestroyed',
    ]) {
      assert.ok(reasons.has(reason), `no ${reason} event among ${[...reasons].join(', ')}`);
    }
  });

  it('a rotation due in real time happens within 2s of nextRotationTime', async () => {
    await createKey('on-time', { rotation: { period: '1h', retainVersions: 1 } });
    // Version 1 is recorded first and its rotation scheduled in the write after: wait for the schedule.
    const scheduled = await eventually('the rotation scheduled', async () => {
      const key = await getKey('on-time');
      return key.status?.nextRotationTime;
    });
    const next = Date.parse(scheduled);
    // Move the clock so that the rotation is due 3 s from now, and let the controller's own timer fire.
    operator.clock.advance(next - operator.clock.now() - 3_000);
    await patch('on-time');
    const rotated = await eventually('the rotation', async () => {
      const key = await getKey('on-time');
      return key.status?.currentVersion === 2 ? key : undefined;
    });
    const late = Date.parse(rotated.status?.lastRotationTime ?? '') - next;
    assert.ok(late >= -1_000 && late <= 2_000, `rotated ${late} ms after nextRotationTime`);
  });
});
