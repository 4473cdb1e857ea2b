// The first vertical slice against real peers: KeyBackends and ManagedKeys on the local kube-apiserver, keys in a
// real SoftHSM2 token, the controllers running in this process with a clock the test can move.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { remove } from '../../../scripts/cluster.ts';
import { ALGORITHMS, ALLOWED_USAGES } from '../../../src/api/algorithms.ts';
import type { Algorithm, KeyUsage } from '../../../src/api/algorithms.ts';
import type { KeyBackendObject, ManagedKeyObject } from '../../../src/api/v1alpha1/index.ts';
import { Pkcs11Backend } from '../../../src/backends/pkcs11/pkcs11-backend.ts';
import { keyBackendType } from '../../../src/controllers/keybackend/controller.ts';
import { managedKeyType } from '../../../src/controllers/managedkey/controller.ts';
import type { ConfigMap } from '../../../src/controllers/managedkey/distribution.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import { isNotFound } from '../../../src/kube/errors.ts';
import type { KubeObject } from '../../../src/kube/object.ts';
import { builtinResources } from '../../../src/kube/resource.ts';
import {
  keyBackendManifest,
  managedKeyManifest,
  pinSecret,
  setUpSoftHsmBackend,
} from '../../support/keyward.ts';
import type { KeyBackendOptions, SoftHsmSetup } from '../../support/keyward.ts';
import { eventually, startTestOperator } from '../../support/operator.ts';
import { buildMisbehavingModule } from '../../support/pkcs11-shim.ts';
import type { TestOperator } from '../../support/operator.ts';
import type { SoftHsm } from '../../support/softhsm.ts';
import type { SoftHsmToken } from '../../support/softhsm.ts';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `keys-${RUN}`;
const DAY = 86_400_000;

type Condition = { type: string; status: string; reason: string; message: string };
const conditionOf = (object: { status?: { conditions?: Condition[] } } | undefined, type: string) =>
  object?.status?.conditions?.find((c) => c.type === type);

describe('ManagedKeys in a SoftHSM2 token', () => {
  let client: KubeClient;
  let softhsm: SoftHsm;
  let token: SoftHsmToken;
  let operator: TestOperator;
  const backendName = `softhsm-${RUN}`;

  const keyBackend = (name: string, options: Partial<KeyBackendOptions> = {}): KeyBackendObject =>
    keyBackendManifest(name, { namespace: NAMESPACE, token, fipsLevel: 2, ...options });
  const managedKey = (name: string, spec: Partial<ManagedKeyObject['spec']>) =>
    managedKeyManifest(name, NAMESPACE, { backendRef: { name: backendName }, ...spec });

  const getKey = (name: string) => client.get<ManagedKeyObject>(managedKeyType, name, NAMESPACE);
  const getBackend = (name: string) => client.get<KeyBackendObject>(keyBackendType, name);
  const secret = (name: string, pin: string) => pinSecret(NAMESPACE, name, pin);
  const readyKey = (name: string) =>
    eventually<ManagedKeyObject>(`ManagedKey ${name} Ready`, async () => {
      const key = await getKey(name);
      return conditionOf(key, 'Ready')?.status === 'True' ? key : undefined;
    });
  const objectsLabelled = (name: string) =>
    softhsm.listObjects(token).filter((o) => o.label.startsWith(`${NAMESPACE}/${name}/`));

  let setup: SoftHsmSetup;
  before(async () => {
    setup = await setUpSoftHsmBackend(backendName, { namespace: NAMESPACE, fipsLevel: 2 });
    ({ client, softhsm, token } = setup);
    operator = await startTestOperator(client);
  });

  after(async () => {
    await operator.stop();
    for (const name of ['restricted', 'nomodule', 'notoken', 'wrongpin', 'notpkcs11', 'hung'].map(
      (n) => `${n}-${RUN}`,
    )) {
      await remove(client, { apiVersion: 'keyward.io/v1alpha1', kind: 'KeyBackend', metadata: { name } });
    }
    await setup.cleanup();
  });

  it('connects the KeyBackend and reports the token and what it can do', async () => {
    const backend = await eventually<KeyBackendObject>('KeyBackend Ready', async () => {
      const object = await getBackend(backendName);
      return conditionOf(object, 'Ready')?.status === 'True' ? object : undefined;
    });
    assert.equal(backend.status?.info?.tokenLabel, token.label);
    assert.equal(backend.status.info.manufacturer, 'SoftHSM project');
    assert.ok(backend.status.capabilities?.algorithms.includes('EC_P256'));
  });

  const usagesOf = (algorithm: Algorithm): KeyUsage[] =>
    ALLOWED_USAGES[algorithm].includes('sign') ? ['sign', 'verify'] : ['encrypt', 'decrypt'];
  it('generates every algorithm inside the token, sensitive and never extractable', async () => {
    for (const algorithm of ALGORITHMS) {
      await client.create(
        managedKeyType,
        managedKey(algorithm.toLowerCase().replace('_', '-'), { algorithm, usages: usagesOf(algorithm) }),
      );
    }
    for (const algorithm of ALGORITHMS) {
      const name = algorithm.toLowerCase().replace('_', '-');
      const key = await readyKey(name);
      assert.equal(key.status?.phase, 'Active');
      assert.equal(key.status.currentVersion, 1);
      assert.equal(key.status.effectiveFipsLevel, 2);
      assert.ok(key.status.keyRef?.startsWith(`pkcs11:token=${token.label};`), key.status.keyRef);
      assert.doesNotMatch(key.status.keyRef ?? '', /pin-(source|value)/);
      const objects = objectsLabelled(name);
      const secrets = objects.filter((o) => o.kind !== 'Public Key');
      assert.equal(secrets.length, 1, `${algorithm}: one private or secret key object`);
      for (const flag of ['sensitive', 'always sensitive', 'never extractable', 'local']) {
        assert.ok(
          secrets[0]!.access.includes(flag),
          `${algorithm}: ${flag} in ${secrets[0]!.access.join(', ')}`,
        );
      }
      if (algorithm === 'AES_256' || algorithm === 'HMAC_SHA256') {
        assert.equal(key.status.publicKeyFingerprint, undefined);
      } else {
        assert.match(key.status.publicKeyFingerprint ?? '', /^SHA256:[A-Za-z0-9+/]{43}$/);
      }
    }
  });

  it('publishes the public key, and a signature made in the HSM verifies against it', async () => {
    await client.create(
      managedKeyType,
      managedKey('signer', {
        algorithm: 'EC_P256',
        usages: ['sign', 'verify'],
        distribution: { publicKey: { configMapName: 'signer-pub' } },
      }),
    );
    const key = await readyKey('signer');
    const configMap = await eventually('the public key ConfigMap', () =>
      client.get<ConfigMap>(builtinResources.configMaps, 'signer-pub', NAMESPACE).catch((e: unknown) => {
        if (isNotFound(e)) return undefined;
        throw e;
      }),
    );
    assert.equal(conditionOf(await getKey('signer'), 'Distributed')?.status, 'True');
    assert.equal(configMap.metadata.ownerReferences?.[0]?.uid, key.metadata.uid);
    const jwks = JSON.parse(configMap.data?.['jwks.json'] ?? '{}') as { keys: { kid: string }[] };
    assert.equal(jwks.keys.length, 1);

    const hsm = await Pkcs11Backend.connect({
      vendor: 'softhsm2',
      token: { label: token.label },
      pin: Buffer.from(token.pin),
    });
    try {
      const message = Buffer.from('pay 100 EUR to alice');
      const identity = { uid: key.metadata.uid!, namespace: NAMESPACE, name: 'signer', version: 1 };
      const signature = await hsm.sign(identity, { message }, { ecdsaFormat: 'raw' });
      const publicKey = createPublicKey(configMap.data!['current.pem']!);
      assert.ok(verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature));
      assert.ok(
        !verify(
          'sha256',
          Buffer.from('pay 999 EUR'),
          { key: publicKey, dsaEncoding: 'ieee-p1363' },
          signature,
        ),
      );
    } finally {
      await hsm.close();
    }
  });

  it('measures backend requests and counts keys by phase', async () => {
    const { body } = await operator.manager.metrics.exposition();
    assert.match(
      body,
      /^keyward_backend_request_duration_seconds_count\{backend_type="pkcs11",operation="create",outcome="success"\} [1-9]/m,
    );
    assert.match(
      body,
      new RegExp(`^keyward_managed_keys\\{phase="Active",backend="${backendName}"\\} (1[0-9]|[1-9])$`, 'm'),
    );
  });

  it('refuses a namespace the KeyBackend does not serve', async () => {
    const restricted = `restricted-${RUN}`;
    const selective = keyBackend(restricted);
    selective.spec.namespaceSelector = { matchLabels: { 'keyward.io/keys': 'allowed' } };
    await client.create(keyBackendType, selective);
    await client.create(managedKeyType, managedKey('elsewhere', { backendRef: { name: restricted } }));
    const key = await eventually<ManagedKeyObject>('NamespaceNotAllowed', async () => {
      const object = await getKey('elsewhere');
      return conditionOf(object, 'Ready')?.reason === 'NamespaceNotAllowed' ? object : undefined;
    });
    assert.match(
      conditionOf(key, 'Ready')?.message ?? '',
      new RegExp(`does not serve namespace ${NAMESPACE}`),
    );
    assert.deepEqual(objectsLabelled('elsewhere'), []);
  });

  it('generates nothing in a backend below the key minimum FIPS level', async () => {
    await client.create(
      managedKeyType,
      managedKey('fips3', {
        algorithm: 'EC_P256',
        usages: ['sign', 'verify'],
        protection: { minFipsLevel: 3, exportable: false },
      }),
    );
    const key = await eventually<ManagedKeyObject>('InsufficientProtection', async () => {
      const object = await getKey('fips3');
      return conditionOf(object, 'Ready')?.reason === 'InsufficientProtection' ? object : undefined;
    });
    assert.equal(conditionOf(key, 'Ready')?.status, 'False');
    assert.match(
      conditionOf(key, 'Ready')?.message ?? '',
      /requires FIPS 140 level 3 but KeyBackend .* level 2/,
    );
    assert.deepEqual(objectsLabelled('fips3'), []);
  });

  it('reports a missing module, a missing token and a wrong PIN, and does not retry a wrong PIN', async () => {
    await client.create(builtinResources.secrets, secret('wrong-pin', 'not-the-pin-1234'));
    await client.create(
      keyBackendType,
      keyBackend(`nomodule-${RUN}`, { pkcs11: { modulePath: '/usr/lib/nonexistent-pkcs11.so' } }),
    );
    await client.create(
      keyBackendType,
      keyBackend(`notoken-${RUN}`, { pkcs11: { token: { label: 'no-such-token' } } }),
    );
    await client.create(keyBackendType, keyBackend(`wrongpin-${RUN}`, { secretName: 'wrong-pin' }));
    const reasonOf = async (name: string) => conditionOf(await getBackend(name), 'Ready');
    for (const [name, reason, text] of [
      [`nomodule-${RUN}`, 'ModuleNotFound', /nonexistent-pkcs11\.so/],
      [`notoken-${RUN}`, 'TokenNotFound', /no-such-token/],
      [`wrongpin-${RUN}`, 'PinIncorrect', /PIN/],
    ] as const) {
      const condition = await eventually(`${name} ${reason}`, async () => {
        const c = await reasonOf(name);
        return c?.reason === reason ? c : undefined;
      });
      assert.equal(condition.status, 'False');
      assert.match(condition.message, text);
    }
    const attempts = () =>
      operator.logs.filter((l) => l.includes('connecting to the backend') && l.includes(`wrongpin-${RUN}`))
        .length;
    const before = attempts();
    // Longer than healthCheckInterval (10s): the KeyBackend is looked at again, the wrong PIN is not offered again.
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    assert.equal(attempts(), before);
    assert.ok(before <= 1, `the wrong PIN was offered ${before} times`);

    // Fixing the Secret is enough: the next check sees its new version and connects.
    await client.replace(builtinResources.secrets, {
      ...secret('wrong-pin', token.pin),
      metadata: (await client.get<KubeObject>(builtinResources.secrets, 'wrong-pin', NAMESPACE)).metadata,
    });
    await eventually(
      'the fixed PIN connects',
      async () => ((await reasonOf(`wrongpin-${RUN}`))?.status === 'True' ? true : undefined),
      30_000,
    );
  });

  it('a file that is no PKCS#11 module and a module that hangs are reported; the other KeyBackends keep working', async () => {
    await client.create(
      keyBackendType,
      keyBackend(`notpkcs11-${RUN}`, { pkcs11: { modulePath: '/etc/passwd' } }),
    );
    await client.create(
      keyBackendType,
      keyBackend(`hung-${RUN}`, { pkcs11: { modulePath: buildMisbehavingModule('C_OpenSession', 'hang') } }),
    );
    // While the hung module is being tried (30 s), keys in the working backend are still made.
    await client.create(managedKeyType, managedKey('beside-hung', {}));
    await readyKey('beside-hung');
    const notPkcs11 = await eventually('the non-PKCS#11 file reported', async () => {
      const c = conditionOf(await getBackend(`notpkcs11-${RUN}`), 'Ready');
      return c?.reason === 'ModuleNotFound' ? c : undefined;
    });
    assert.match(notPkcs11.message, /\/etc\/passwd could not be loaded/);
    const hung = await eventually(
      'the hung module reported',
      async () => {
        const c = conditionOf(await getBackend(`hung-${RUN}`), 'Ready');
        return c?.reason === 'Retryable' ? c : undefined;
      },
      90_000,
    );
    assert.equal(hung.status, 'False');
    assert.match(hung.message, /did not initialize and open a session within 30s/);
    // The working backend is still checked and still Ready.
    assert.equal(conditionOf(await getBackend(backendName), 'Ready')?.status, 'True');
  });

  describe('deletion policies', () => {
    it('Retain leaves the key in the token', async () => {
      await client.create(
        managedKeyType,
        managedKey('retained', {
          algorithm: 'EC_P256',
          usages: ['sign', 'verify'],
          deletionPolicy: 'Retain',
        }),
      );
      await readyKey('retained');
      await client.delete(managedKeyType, 'retained', NAMESPACE);
      await eventually('retained is gone', () =>
        getKey('retained').then(
          () => undefined,
          (e: unknown) => (isNotFound(e) ? true : undefined),
        ),
      );
      assert.equal(objectsLabelled('retained').filter((o) => o.kind === 'Private Key').length, 1);
    });

    it('Disable clears every use of the key and keeps it', async () => {
      await client.create(
        managedKeyType,
        managedKey('disabled', {
          algorithm: 'EC_P256',
          usages: ['sign', 'verify'],
          deletionPolicy: 'Disable',
        }),
      );
      await readyKey('disabled');
      const before = objectsLabelled('disabled').find((o) => o.kind === 'Private Key');
      assert.ok(before?.usage.includes('sign'));
      await client.delete(managedKeyType, 'disabled', NAMESPACE);
      await eventually('disabled is gone', () =>
        getKey('disabled').then(
          () => undefined,
          (e: unknown) => (isNotFound(e) ? true : undefined),
        ),
      );
      const privateKey = objectsLabelled('disabled').find((o) => o.kind === 'Private Key');
      assert.ok(privateKey, 'the key is still in the token');
      assert.deepEqual(privateKey.usage, []);
    });

    it('Destroy waits destroyAfter in PendingDestruction, then destroys, then lets the object go', async () => {
      await client.create(
        managedKeyType,
        managedKey('destroyed', {
          algorithm: 'EC_P256',
          usages: ['sign', 'verify'],
          deletionPolicy: 'Destroy',
          destroyAfter: '48h',
        }),
      );
      await readyKey('destroyed');
      await client.delete(managedKeyType, 'destroyed', NAMESPACE);
      const pending = await eventually<ManagedKeyObject>('PendingDestruction', async () => {
        const key = await getKey('destroyed');
        return key.status?.phase === 'PendingDestruction' ? key : undefined;
      });
      const destroyAt = Date.parse(pending.status?.destroyTime ?? '');
      assert.ok(Math.abs(destroyAt - (operator.clock.now() + 2 * DAY)) < 60_000, pending.status?.destroyTime);
      assert.deepEqual(objectsLabelled('destroyed').find((o) => o.kind === 'Private Key')?.usage, []);

      // A day later nothing is destroyed yet; two days later it is.
      operator.clock.advance(DAY);
      await touch(client, 'destroyed');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      assert.equal(objectsLabelled('destroyed').length, 2);
      operator.clock.advance(DAY + 60_000);
      await touch(client, 'destroyed');
      await eventually('destroyed is gone', () =>
        getKey('destroyed').then(
          () => undefined,
          (e: unknown) => (isNotFound(e) ? true : undefined),
        ),
      );
      assert.deepEqual(objectsLabelled('destroyed'), []);
    });
  });

  it('never puts the PIN in a status, an event, a ConfigMap or a log line', async () => {
    const pins = [token.pin, 'not-the-pin-1234'];
    const statuses = [
      ...(await client.list<KubeObject>(managedKeyType, { namespace: NAMESPACE })).items,
      ...(await client.list<KubeObject>(keyBackendType)).items,
    ];
    const events = (await client.list<KubeObject>(builtinResources.events, { namespace: NAMESPACE })).items;
    const configMaps = (await client.list<KubeObject>(builtinResources.configMaps, { namespace: NAMESPACE }))
      .items;
    assert.ok(events.length > 0 && statuses.length > 0 && operator.logs.length > 0);
    const everything = JSON.stringify([statuses, events, configMaps, operator.logs]);
    for (const pin of pins) assert.ok(!everything.includes(pin), 'a PIN leaked');
  });
});

/** Changes an annotation so the controller looks at the key again (after the test clock moved). */
async function touch(client: KubeClient, name: string): Promise<void> {
  await client.patch(managedKeyType, name, NAMESPACE, 'merge', {
    metadata: { annotations: { 'test.keyward.io/touched': String(Date.now()) } },
  });
}
