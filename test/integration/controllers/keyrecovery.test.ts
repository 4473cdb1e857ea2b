// Key recovery end to end, against real SoftHSM2 tokens and the real API server: an AES key generated with
// spec.recovery is wrapped once inside its token and sealed, its KEK's shares go to five custodians (each opens theirs
// with openssl cms -decrypt); data is encrypted with it (pkcs11-tool, in a process of its own); the token loses the
// key; a KeyRecovery ceremony (3 of 5) restores it into a fresh token, where the data decrypts. M-1 shares and a
// tampered share touch nothing. No KEK, PIN or share is ever in the API server or the operator's log.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { dirname } from 'node:path';
import { installCrds, remove } from '../../../scripts/cluster.ts';
import { ensureBinaries } from '../../../scripts/testenv/build.ts';
import type { KeyBackendObject } from '../../../src/api/v1alpha1/keybackend.ts';
import type { KeyCeremonyObject } from '../../../src/api/v1alpha1/keyceremony.ts';
import type { ManagedKeyObject } from '../../../src/api/v1alpha1/managedkey.ts';
import { activationAuthenticator } from '../../../src/ceremony/activation.ts';
import { combineShares } from '../../../src/ceremony/shares.ts';
import { parseTranscript, verifyChain } from '../../../src/ceremony/transcript.ts';
import { keyBackendType } from '../../../src/controllers/keybackend/controller.ts';
import { keyApprovalType, keyCeremonyType } from '../../../src/controllers/keyceremony/context.ts';
import { managedKeyType } from '../../../src/controllers/managedkey/names.ts';
import { RecoveryData, kekSalt, shareKey } from '../../../src/controllers/managedkey/recovery.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import type { KubeObject } from '../../../src/kube/object.ts';
import { builtinResources } from '../../../src/kube/resource.ts';
import { approvalManifest, runDocs } from '../../support/ceremony.ts';
import { keyBackendManifest, pinSecret } from '../../support/keyward.ts';
import { testCluster } from '../../support/kube.ts';
import { OpenSsl } from '../../support/openssl.ts';
import type { PersonKeyType } from '../../support/openssl.ts';
import { eventually, startTestOperator } from '../../support/operator.ts';
import type { TestOperator } from '../../support/operator.ts';
import { SoftHsm } from '../../support/softhsm.ts';
import type { SoftHsmToken } from '../../support/softhsm.ts';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `recovery-${RUN}`;
const ORIGINAL = `recovery-a-${RUN}`;
const FRESH = `recovery-b-${RUN}`;
const KEY = 'data';
const RESTORED = 'data-restored';
const CEREMONY = 'recover-data';
const IV = '00112233445566778899aabbccddeeff';

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}
type Condition = { type: string; status: string; reason: string; message: string };
const conditionOf = (object: { status?: { conditions?: Condition[] } } | undefined, type: string) =>
  object?.status?.conditions?.find((c) => c.type === type);

const CUSTODIANS: Record<string, PersonKeyType> = {
  alice: 'ec-p256',
  bob: 'ec-p384',
  carol: 'rsa',
  dave: 'ec-p256',
  erin: 'ec-p256',
};
const TYPES: Record<string, PersonKeyType> = { ...CUSTODIANS, walter: 'ec-p256' };

describe('KeyRecovery (3 of 5) of an AES key generated with spec.recovery, into a fresh token', () => {
  let client: KubeClient;
  let softhsm: SoftHsm;
  let original: SoftHsmToken;
  let fresh: SoftHsmToken;
  let operator: TestOperator;
  const openssl = new OpenSsl();
  const publicKeys: Record<string, string> = {};
  const shares: Record<string, Buffer> = {};
  let kek: Buffer = Buffer.alloc(0);
  let keyId = '';
  let checkValue = '';
  let count = 0;
  let kubeconfigPath = '';
  let kubectlDir = '';

  const people = (names: string[]) => names.map((name) => ({ name, publicKey: publicKeys[name] ?? '' }));
  const getKey = (name = KEY) => client.get<ManagedKeyObject>(managedKeyType, name, NAMESPACE);
  const getCeremony = () => client.get<KeyCeremonyObject>(keyCeremonyType, CEREMONY, NAMESPACE);
  const getConfigMap = (name: string) => client.get<ConfigMap>(builtinResources.configMaps, name, NAMESPACE);
  const secretKeys = (token: SoftHsmToken) =>
    softhsm.listObjects(token).filter((o) => o.kind === 'Secret Key' && o.id === keyId);
  const crypt = (token: SoftHsmToken, verb: 'encrypt' | 'decrypt', input: Buffer): Buffer => {
    const inFile = openssl.write(`${verb}.in`, input);
    const outFile = openssl.path(`${verb}.out`);
    softhsm.tool(token, [
      `--${verb}`,
      '-m',
      'AES-CBC-PAD',
      '--iv',
      IV,
      '--id',
      keyId,
      '--input-file',
      inFile,
      '--output-file',
      outFile,
    ]);
    return openssl.read(`${verb}.out`);
  };

  async function approve(signer: string, digest: string, extra: { role?: 'Witness'; share?: string } = {}) {
    count += 1;
    await client.create(
      keyApprovalType,
      approvalManifest(openssl, {
        name: `${CEREMONY}-${signer}-${count}`,
        namespace: NAMESPACE,
        ceremony: CEREMONY,
        signer,
        digest,
        type: TYPES[signer] ?? 'ec-p256',
        ...extra,
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the first approval of a person counts
  }
  const phase = (wanted: string, timeout = 60_000) =>
    eventually(
      `${CEREMONY} ${wanted}`,
      async () => {
        const c = await getCeremony();
        if (c.status?.phase === 'Failed' && wanted !== 'Failed')
          assert.fail(conditionOf(c, 'Ready')?.message ?? 'failed');
        return c.status?.phase === wanted ? c : undefined;
      },
      timeout,
    );

  before(async () => {
    ({ client, kubeconfigPath } = await testCluster());
    kubectlDir = dirname((await ensureBinaries(() => undefined)).kubectl);
    await installCrds(client);
    softhsm = SoftHsm.create();
    original = softhsm.initToken(ORIGINAL);
    fresh = softhsm.initToken(FRESH); // made before the first connect: SoftHSM2 scans its tokens once
    for (const [name, type] of Object.entries(TYPES)) publicKeys[name] = openssl.keygen(name, type);
    await client.create(builtinResources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NAMESPACE },
    });
    for (const [backend, token] of [
      [ORIGINAL, original],
      [FRESH, fresh],
    ] as const) {
      await client.create(builtinResources.secrets, pinSecret(NAMESPACE, `${backend}-pin`, token.pin));
      await client.create(
        keyBackendType,
        keyBackendManifest(backend, { namespace: NAMESPACE, token, secretName: `${backend}-pin` }),
      );
    }
    operator = await startTestOperator(client, NAMESPACE);
  });

  after(async () => {
    await operator.stop();
    for (const name of [ORIGINAL, FRESH])
      await remove(client, { apiVersion: 'keyward.io/v1alpha1', kind: 'KeyBackend', metadata: { name } });
    softhsm.cleanup();
    openssl.remove();
  });

  const plaintext = Buffer.from(`data encrypted before the loss ${RUN}`);
  let ciphertext: Buffer = Buffer.alloc(0);

  it('wraps the new key inside the token, gives each custodian a KEK share, and seals the key', async () => {
    await client.create(managedKeyType, {
      apiVersion: 'keyward.io/v1alpha1',
      kind: 'ManagedKey',
      metadata: { name: KEY, namespace: NAMESPACE },
      spec: {
        backendRef: { name: ORIGINAL },
        algorithm: 'AES_256',
        usages: ['encrypt', 'decrypt'],
        recovery: { threshold: 3, custodians: people(Object.keys(CUSTODIANS)) },
      },
    } as KubeObject);
    const key = await eventually('the key is recoverable', async () => {
      const k = await getKey();
      return conditionOf(k, 'Recoverable')?.status === 'True' && conditionOf(k, 'Ready')?.status === 'True'
        ? k
        : undefined;
    });
    const version = key.status?.versions?.[0];
    const recovery = version?.recovery;
    assert.ok(version && recovery);
    const backend = await client.get<KeyBackendObject>(keyBackendType, ORIGINAL);
    assert.equal(backend.status?.capabilities?.recoveryWrap, true, 'the KeyBackend says it makes backups');
    keyId = version.backendVersion ?? '';
    checkValue = recovery.checkValue;
    assert.match(checkValue, /^[0-9a-f]{6}$/);
    assert.equal(recovery.threshold, 3);
    assert.deepEqual(recovery.custodians, Object.keys(CUSTODIANS));

    const map = await getConfigMap(recovery.configMapName);
    assert.equal(
      Buffer.from(map.data?.[RecoveryData.wrappedKey] ?? '', 'base64').length,
      40,
      'RFC 5649 of 32 bytes',
    );
    assert.equal(map.data?.[RecoveryData.checkValue], checkValue);
    // Each custodian opens their share with openssl alone; any 3 rebuild the KEK the authenticator names.
    for (const custodian of Object.keys(CUSTODIANS))
      shares[custodian] = openssl.decryptShare(custodian, map.data[shareKey(custodian)] ?? '');
    // erin follows the docs' commands, which give the same share.
    runDocs({ kubeconfigPath, namespace: NAMESPACE, dir: openssl.dir, kubectlDir }, 'kek-share', {
      BACKUP: recovery.configMapName,
      ME: 'erin',
    });
    assert.deepEqual(openssl.read('erin.kek-share'), shares.erin);
    kek = await combineShares([shares.alice, shares.carol, shares.erin].filter((s) => s !== undefined));
    assert.equal(kek.length, 32);
    assert.equal(activationAuthenticator(kek, kekSalt(key, 1), 'recovery'), recovery.kekAuthenticator);
    const two = await combineShares([shares.alice, shares.bob].filter((s) => s !== undefined));
    assert.notEqual(activationAuthenticator(two, kekSalt(key, 1), 'recovery'), recovery.kekAuthenticator);

    // Sealed: not extractable, and a wrap under any other key on the token is refused by the token itself.
    const [object] = secretKeys(original);
    assert.ok(object, 'the key is in the token');
    assert.ok(!object.access.includes('extractable'), `access: ${object.access.join(', ')}`);
    assert.ok(object.access.includes('sensitive'));
    softhsm.tool(original, [
      '--keygen',
      '--key-type',
      'AES:32',
      '--id',
      'ff',
      '--label',
      'other-kek',
      '--usage-wrap',
    ]);
    assert.throws(
      () =>
        softhsm.tool(original, [
          '--wrap',
          '-m',
          'AES-KEY-WRAP',
          '--id',
          'ff',
          '--application-id',
          keyId,
          '--output-file',
          openssl.path('w.bin'),
        ]),
      /CKR_KEY_UNEXTRACTABLE/,
    );
    softhsm.tool(original, ['--delete-object', '--type', 'secrkey', '--id', 'ff']);

    ciphertext = crypt(original, 'encrypt', plaintext);
    assert.notDeepEqual(ciphertext, plaintext);
  });

  let digest = '';
  let ceremony: KeyCeremonyObject;
  const shareFor = (custodian: string, share = shares[custodian]) =>
    openssl.reencryptShare(custodian, share ?? Buffer.alloc(0), ceremony.status?.recipientCertificate ?? '');

  it('after the token lost the key, M-1 shares do nothing and a tampered share fails before the backend is touched', async () => {
    softhsm.tool(original, ['--delete-object', '--type', 'secrkey', '--id', keyId]);
    assert.deepEqual(secretKeys(original), [], 'the original token lost the key');
    await client.create(keyCeremonyType, {
      apiVersion: 'keyward.io/v1alpha1',
      kind: 'KeyCeremony',
      metadata: { name: CEREMONY, namespace: NAMESPACE },
      spec: {
        type: 'KeyRecovery',
        backendRef: { name: FRESH },
        target: { managedKeyRef: { name: KEY }, version: 1, restoreAs: RESTORED },
        quorum: { threshold: 3, custodians: people(Object.keys(CUSTODIANS)) },
        witnesses: people(['walter']),
      },
    } as KubeObject);
    ceremony = await phase('AwaitingQuorum');
    digest = ceremony.status?.challenge ?? '';
    await approve('alice', digest, { share: shareFor('alice') });
    await approve('bob', digest, { share: shareFor('bob') });
    const waiting = await eventually('2 approvals counted', async () => {
      const c = await getCeremony();
      return c.status?.approvals?.received === 2 ? c : undefined;
    });
    assert.equal(waiting.status?.phase, 'AwaitingQuorum');
    assert.deepEqual(secretKeys(fresh), []);

    const tampered = Buffer.from(shares.carol ?? Buffer.alloc(0));
    tampered[5] = (tampered[5] ?? 0) ^ 0x10;
    await approve('carol', digest, { share: shareFor('carol', tampered) });
    const refused = await eventually('shares refused', async () => {
      const c = await getCeremony();
      return conditionOf(c, 'QuorumReached')?.reason === 'SharesDoNotMatch' ? c : undefined;
    });
    assert.equal(refused.status?.phase, 'AwaitingQuorum');
    assert.match(conditionOf(refused, 'QuorumReached')?.message ?? '', /the backend was not touched/);
    assert.ok(refused.status.steps?.slice(1).every((s) => s.state === 'Pending'));
    assert.deepEqual(secretKeys(fresh), [], 'nothing reached the fresh token');
  });

  it("with a fourth custodian's good share, the key is restored into the fresh token and decrypts what the original encrypted", async () => {
    await approve('dave', digest, { share: shareFor('dave') });
    const sealed = await phase('AwaitingWitnesses');
    await approve('walter', sealed.status?.transcript?.headHash ?? '', { role: 'Witness' });
    const done = await phase('Completed');
    assert.deepEqual(
      done.status?.steps?.map((s) => `${s.name}: ${s.state}`),
      [
        'Preparation: Done',
        'Share Reconstruction: Done',
        'Key Recovery: Done',
        'Verification & Audit: Done',
        'Secure Storage: Done',
      ],
    );
    const restoredKey = done.status.restoredKey;
    assert.ok(restoredKey);
    assert.equal(restoredKey.checkValue, checkValue);
    assert.equal(restoredKey.outcome, 'created');
    assert.match(restoredKey.target, /^pkcs11:/);

    const [object] = secretKeys(fresh);
    assert.ok(object, 'the fresh token holds the key');
    assert.ok(!object.access.includes('extractable'), `access: ${object.access.join(', ')}`);
    assert.ok(object.access.includes('sensitive'));
    assert.deepEqual(crypt(fresh, 'decrypt', ciphertext), plaintext);

    const restored = await eventually('the restored ManagedKey is ready', async () => {
      const k = await getKey(RESTORED).catch(() => undefined);
      return conditionOf(k, 'Ready')?.status === 'True' ? k : undefined;
    });
    assert.equal(restored.spec.backendRef.name, FRESH);
    assert.equal(restored.status?.versions?.find((v) => v.version === 1)?.state, 'Active');

    const entries = parseTranscript(
      (await getConfigMap(`${CEREMONY}-transcript`)).data?.['transcript.jsonl'] ?? '',
    );
    assert.equal(verifyChain(entries, digest), undefined);
    const rebuilt = entries.find((e) => e.step === 'Share Reconstruction' && e.detail.state === 'Done');
    assert.deepEqual(rebuilt?.detail.custodians, ['alice', 'bob', 'dave']);
  });

  it('a key with destroyRequiresCeremony waits on deletion, and a KeyDestruction under quorum leaves nothing in the token', async () => {
    const GUARDED = 'guarded';
    await client.create(managedKeyType, {
      apiVersion: 'keyward.io/v1alpha1',
      kind: 'ManagedKey',
      metadata: { name: GUARDED, namespace: NAMESPACE },
      spec: {
        backendRef: { name: FRESH },
        algorithm: 'AES_256',
        usages: ['encrypt', 'decrypt'],
        recovery: { threshold: 3, custodians: people(Object.keys(CUSTODIANS)) },
        deletionPolicy: 'Destroy',
        destroyRequiresCeremony: true,
      },
    } as KubeObject);
    const key = await eventually('the guarded key is recoverable', async () => {
      const k = await getKey(GUARDED);
      return conditionOf(k, 'Recoverable')?.status === 'True' ? k : undefined;
    });
    const version = key.status?.versions?.[0];
    const backup = await getConfigMap(version?.recovery?.configMapName ?? '');
    for (const custodian of ['alice', 'bob'])
      shares[`guarded-${custodian}`] = openssl.decryptShare(
        custodian,
        backup.data?.[shareKey(custodian)] ?? '',
      );
    const id = version?.backendVersion ?? '';
    const objects = () => softhsm.listObjects(fresh).filter((o) => o.id === id);
    assert.equal(objects().length, 1);

    await client.delete(managedKeyType, GUARDED, NAMESPACE);
    const waiting = await eventually('the deletion waits for a ceremony', async () => {
      const k = await getKey(GUARDED);
      return conditionOf(k, 'Ready')?.reason === 'AwaitingDestructionCeremony' ? k : undefined;
    });
    assert.match(conditionOf(waiting, 'Ready')?.message ?? '', /KeyDestruction ceremony/);
    assert.equal(waiting.status?.phase, 'PendingDestruction');
    assert.equal(objects().length, 1, 'the key is still in the token');
    assert.deepEqual(objects()[0]?.usage, [], 'and disabled');

    const name = 'destroy-guarded';
    await client.create(keyCeremonyType, {
      apiVersion: 'keyward.io/v1alpha1',
      kind: 'KeyCeremony',
      metadata: { name, namespace: NAMESPACE },
      spec: {
        type: 'KeyDestruction',
        backendRef: { name: FRESH },
        target: { managedKeyRef: { name: GUARDED } },
        quorum: { threshold: 3, custodians: people(Object.keys(CUSTODIANS)) },
        witnesses: people(['walter']),
      },
    } as KubeObject);
    const get = () => client.get<KeyCeremonyObject>(keyCeremonyType, name, NAMESPACE);
    const ready = await eventually('awaiting quorum', async () => {
      const c = await get();
      return c.status?.phase === 'AwaitingQuorum' ? c : undefined;
    });
    assert.equal(ready.status?.recipientCertificate, undefined, 'an online key needs no shares');
    const challenge = ready.status?.challenge ?? '';
    const sign = async (signer: string, digest: string, role?: 'Witness') => {
      count += 1;
      await client.create(
        keyApprovalType,
        approvalManifest(openssl, {
          name: `${name}-${signer}-${count}`,
          namespace: NAMESPACE,
          ceremony: name,
          signer,
          digest,
          type: TYPES[signer] ?? 'ec-p256',
          ...(role ? { role } : {}),
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 1_100));
    };
    await sign('carol', challenge);
    await sign('erin', challenge);
    await eventually('2 approvals counted', async () =>
      (await get()).status?.approvals?.received === 2 ? true : undefined,
    );
    assert.equal(objects().length, 1, 'M-1 approvals destroy nothing');
    await sign('bob', challenge);
    const sealed = await eventually('sealed', async () => {
      const c = await get();
      if (c.status?.phase === 'Failed') assert.fail(conditionOf(c, 'Ready')?.message);
      return c.status?.phase === 'AwaitingWitnesses' ? c : undefined;
    });
    await sign('walter', sealed.status?.transcript?.headHash ?? '', 'Witness');
    const done = await eventually('completed', async () => {
      const c = await get();
      return c.status?.phase === 'Completed' ? c : undefined;
    });
    assert.deepEqual(
      done.status?.steps?.map((s) => `${s.name}: ${s.state}`),
      [
        'Preparation: Done',
        'Share Reconstruction: Skipped',
        'Key Destruction: Done',
        'Verification & Audit: Done',
        'Secure Storage: Done',
      ],
    );
    assert.deepEqual(objects(), [], 'no object is left in the token');
    const retired = await getConfigMap(backup.metadata.name ?? '');
    assert.equal(retired.data?.[RecoveryData.wrappedKey], undefined, 'the wrapped copy is gone with the key');
    assert.equal(retired.data?.[shareKey('alice')], undefined, 'and so are the shares');
    const entries = parseTranscript(
      (await getConfigMap(`${name}-transcript`)).data?.['transcript.jsonl'] ?? '',
    );
    assert.equal(verifyChain(entries, challenge), undefined);
    assert.ok(entries.some((e) => e.detail.event === 'version destroyed' && e.detail.version === 1));
    await eventually('the ManagedKey is gone', async () =>
      (await getKey(GUARDED).then(
        () => false,
        () => true,
      ))
        ? true
        : undefined,
    );
  });

  it('no KEK, PIN or share in plaintext in any object in the API server or in the operator log', async () => {
    const secretValues = [kek.toString('hex'), kek.toString('base64')];
    for (const share of Object.values(shares))
      secretValues.push(share.toString('hex'), share.toString('base64'));
    const pins = [original.pin, fresh.pin];
    const kinds = [
      builtinResources.configMaps,
      builtinResources.events,
      keyCeremonyType,
      keyApprovalType,
      managedKeyType,
    ];
    let haystack = JSON.stringify(await client.list(keyBackendType));
    for (const kind of kinds) haystack += JSON.stringify(await client.list(kind, { namespace: NAMESPACE }));
    haystack += operator.logs.join('\n');
    for (const needle of [...secretValues, ...pins])
      assert.ok(!haystack.includes(needle), 'a secret value is in the API server or the log');
    // The PINs are in their Secrets, as the KeyBackends say; nothing else is.
    const secrets = JSON.stringify(await client.list(builtinResources.secrets, { namespace: NAMESPACE }));
    for (const needle of secretValues) assert.ok(!secrets.includes(needle), 'a KEK or share is in a Secret');
    assert.ok(
      haystack.includes(ciphertext.length > 0 ? 'wrapped-key.b64' : 'x'),
      'the haystack has the backups',
    );
  });
});
