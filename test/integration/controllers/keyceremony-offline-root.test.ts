// The ceremonies that use an offline root, end to end against real peers: a root made by a RootKeyGeneration
// ceremony on a fresh SoftHSM2 token; an intermediate CA signed under a 3-of-5 KeyActivation whose custodians only
// ever use openssl (decrypt their share, re-encrypt it to the ceremony's certificate), checked with openssl verify
// and zlint; then a KeyDestruction that leaves nothing in the token, which the ManagedKey's deletion waited for.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { installCrds, remove } from '../../../scripts/cluster.ts';
import { ensureBinaries } from '../../../scripts/testenv/build.ts';
import type { KeyCeremonyObject } from '../../../src/api/v1alpha1/keyceremony.ts';
import type { KeyCeremonyApprovalObject } from '../../../src/api/v1alpha1/keyceremonyapproval.ts';
import { tokenPins } from '../../../src/ceremony/activation.ts';
import { combineShares } from '../../../src/ceremony/shares.ts';
import { parseTranscript, verifyChain } from '../../../src/ceremony/transcript.ts';
import { keyBackendType } from '../../../src/controllers/keybackend/controller.ts';
import { keyApprovalType, keyCeremonyType } from '../../../src/controllers/keyceremony/context.ts';
import type { ManagedKeyObject } from '../../../src/api/v1alpha1/managedkey.ts';
import { managedKeyType } from '../../../src/controllers/keyceremony/root-generation.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import type { KubeObject } from '../../../src/kube/object.ts';
import { isNotFound } from '../../../src/kube/errors.ts';
import { builtinResources } from '../../../src/kube/resource.ts';
import {
  activationManifest,
  approvalManifest,
  ceremonyManifest,
  offlineBackendManifest,
  recordActivationSecret,
  type PeopleShell,
  runDocs,
  runPlugin,
} from '../../support/ceremony.ts';
import { testCluster } from '../../support/kube.ts';
import { OpenSsl } from '../../support/openssl.ts';
import type { PersonKeyType } from '../../support/openssl.ts';
import { eventually, startTestOperator } from '../../support/operator.ts';
import type { TestOperator } from '../../support/operator.ts';
import { SoftHsm } from '../../support/softhsm.ts';
import { ensureZlint, zlint } from '../../support/zlint.ts';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `activation-${RUN}`;
const BACKEND = `offline-root-${RUN}`;
const LABEL = `root-${RUN}`;
const ROOT = 'root-ca';
const ACTIVATION = 'issuing-ca-1';

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
const WITNESSES: Record<string, PersonKeyType> = { walter: 'ec-p256' };
const TYPES: Record<string, PersonKeyType> = { ...CUSTODIANS, ...WITNESSES };

describe('KeyActivation and KeyDestruction (3 of 5) of an offline root', () => {
  let client: KubeClient;
  let softhsm: SoftHsm;
  let operator: TestOperator;
  const openssl = new OpenSsl();
  const publicKeys: Record<string, string> = {};
  const shares: Record<string, Buffer> = {};
  let count = 0;

  const getCeremony = (name: string) => client.get<KeyCeremonyObject>(keyCeremonyType, name, NAMESPACE);
  const getConfigMap = (name: string) => client.get<ConfigMap>(builtinResources.configMaps, name, NAMESPACE);
  const people = (names: string[]) => names.map((name) => ({ name, publicKey: publicKeys[name] ?? '' }));
  const options = () => ({
    namespace: NAMESPACE,
    backend: BACKEND,
    custodians: people(Object.keys(CUSTODIANS)),
    witnesses: people(Object.keys(WITNESSES)),
  });

  async function approve(
    ceremony: string,
    signer: string,
    digest: string,
    extra: { role?: 'Witness'; share?: string } = {},
  ): Promise<string> {
    count += 1;
    const name = `${ceremony}-${signer}-${count}`;
    await client.create(
      keyApprovalType,
      approvalManifest(openssl, {
        name,
        namespace: NAMESPACE,
        ceremony,
        signer,
        digest,
        type: TYPES[signer] ?? 'ec-p256',
        ...extra,
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the first approval of a person counts
    return name;
  }

  const phase = (name: string, wanted: string, timeout = 60_000) =>
    eventually(
      `${name} ${wanted}`,
      async () => {
        const c = await getCeremony(name);
        if (c.status?.phase === 'Failed' && wanted !== 'Failed')
          assert.fail(conditionOf(c, 'Ready')?.message ?? 'failed');
        return c.status?.phase === wanted ? c : undefined;
      },
      timeout,
    );

  const witness = async (name: string) => {
    const sealed = await phase(name, 'AwaitingWitnesses');
    await approve(name, 'walter', sealed.status?.transcript?.headHash ?? '', { role: 'Witness' });
    return phase(name, 'Completed');
  };

  const csr = (name: string, subject: string, ...extra: string[]) => {
    openssl.run([
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      `${name}.key`,
    ]);
    return openssl.text(['req', '-new', '-key', `${name}.key`, '-subj', subject, ...extra]);
  };

  /** What a custodian runs: re-encrypt their share to this ceremony's recipient certificate. */
  const shareFor = (custodian: string, ceremony: KeyCeremonyObject, share = shares[custodian]) =>
    openssl.reencryptShare(custodian, share ?? Buffer.alloc(0), ceremony.status?.recipientCertificate ?? '');

  let kubeconfigPath: string;
  const shell = (): PeopleShell => ({ kubeconfigPath, namespace: NAMESPACE, dir: openssl.dir, kubectlDir });
  const plugin = (...args: string[]) => runPlugin(shell(), ...args);

  let kubectlDir: string;
  const docs = (name: string, variables: Record<string, string>) => runDocs(shell(), name, { ...variables });

  let root: KeyCeremonyObject;
  before(async () => {
    await ensureZlint();
    ({ client, kubeconfigPath } = await testCluster());
    await installCrds(client);
    softhsm = SoftHsm.create();
    kubectlDir = dirname((await ensureBinaries(() => undefined)).kubectl);
    for (const [name, type] of Object.entries(TYPES)) publicKeys[name] = openssl.keygen(name, type);
    await client.create(builtinResources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NAMESPACE },
    });
    await client.create(keyBackendType, offlineBackendManifest(BACKEND, LABEL));
    operator = await startTestOperator(client, NAMESPACE);

    await client.create(keyCeremonyType, ceremonyManifest(ROOT, options()));
    const challenge = (await phase(ROOT, 'AwaitingQuorum')).status?.challenge ?? '';
    for (const custodian of ['alice', 'bob', 'carol']) await approve(ROOT, custodian, challenge);
    root = await witness(ROOT);
    for (const s of root.status?.shares ?? [])
      shares[s.custodian] = openssl.decryptShare(s.custodian, s.encryptedShare);
  });

  after(async () => {
    await operator.stop();
    await remove(client, {
      apiVersion: 'keyward.io/v1alpha1',
      kind: 'KeyBackend',
      metadata: { name: BACKEND },
    });
    softhsm.cleanup();
    openssl.remove();
  });

  let activation: KeyCeremonyObject;
  let challenge = '';
  it('publishes a recipient certificate of its own, for an EC key, and waits for the quorum', async () => {
    await client.create(
      keyCeremonyType,
      activationManifest(ACTIVATION, {
        ...options(),
        key: `${ROOT}-key`,
        csr: csr('issuing', '/C=DE/O=Example Corp/CN=Example Issuing CA 1'),
      }),
    );
    activation = await phase(ACTIVATION, 'AwaitingQuorum');
    challenge = activation.status?.challenge ?? '';
    const certificate = openssl.write('recipient.pem', activation.status?.recipientCertificate ?? '');
    assert.match(
      openssl.text(['x509', '-in', certificate, '-noout', '-text']),
      /Public Key Algorithm: id-ecPublicKey[\s\S]*Key Agreement/,
    );
    assert.deepEqual(
      activation.status?.steps?.map((s) => `${s.name}: ${s.state}`),
      [
        'Preparation: Done',
        'Share Reconstruction: Pending',
        'Intermediate Certificate Signing: Pending',
        'Verification & Audit: Pending',
        'Secure Storage: Pending',
      ],
    );
  });

  it('M-1 shares do nothing', async () => {
    await approve(ACTIVATION, 'alice', challenge, { share: shareFor('alice', activation) });
    await approve(ACTIVATION, 'bob', challenge, { share: shareFor('bob', activation) });
    const waiting = await eventually('2 approvals counted', async () => {
      const c = await getCeremony(ACTIVATION);
      return c.status?.approvals?.received === 2 ? c : undefined;
    });
    assert.equal(waiting.status?.phase, 'AwaitingQuorum');
    assert.equal(conditionOf(waiting, 'QuorumReached')?.status, 'False');
    assert.ok(waiting.status.steps?.slice(1).every((s) => s.state === 'Pending'));
  });

  it('a tampered share makes the quorum of approvals but fails the authenticator before any login', async () => {
    const tampered = Buffer.from(shares.carol ?? Buffer.alloc(0));
    tampered[3] = (tampered[3] ?? 0) ^ 0x40;
    await approve(ACTIVATION, 'carol', challenge, { share: shareFor('carol', activation, tampered) });
    const refused = await eventually('shares refused', async () => {
      const c = await getCeremony(ACTIVATION);
      return conditionOf(c, 'QuorumReached')?.reason === 'SharesDoNotMatch' ? c : undefined;
    });
    assert.equal(refused.status?.phase, 'AwaitingQuorum');
    assert.match(
      conditionOf(refused, 'QuorumReached')?.message ?? '',
      /the token was not touched, no PIN try was spent/,
    );
    assert.ok(refused.status.steps?.slice(1).every((s) => s.state === 'Pending'));
    const entries = parseTranscript(
      (await getConfigMap(`${ACTIVATION}-transcript`)).data?.['transcript.jsonl'] ?? '',
    );
    assert.ok(entries.some((e) => e.detail.reason === 'SharesDoNotMatch'));
    assert.ok(!entries.some((e) => e.step === 'Intermediate Certificate Signing'));
  });

  it("with a fourth custodian's good share, the root signs the intermediate, which chains to the root and passes zlint", async () => {
    // dave uses the plugin, which re-encrypts the share file with the same openssl command.
    openssl.write('dave.share', shares.dave ?? Buffer.alloc(0));
    const approved = plugin(
      'approve',
      ACTIVATION,
      '--signer',
      'dave',
      '--key',
      openssl.path('dave.pem'),
      '--share',
      openssl.path('dave.share'),
    );
    assert.match(approved, new RegExp(`dave signed ${challenge}`));
    activation = await witness(ACTIVATION);
    assert.deepEqual(
      activation.status?.steps?.map((s) => `${s.name}: ${s.state}`),
      [
        'Preparation: Done',
        'Share Reconstruction: Done',
        'Intermediate Certificate Signing: Done',
        'Verification & Audit: Done',
        'Secure Storage: Done',
      ],
    );
    const map = await getConfigMap(activation.status.certificate?.configMapName ?? '');
    const intermediate = openssl.write('intermediate.pem', map.data?.['ca.crt'] ?? '');
    const rootPem =
      (await getConfigMap(root.status?.certificate?.configMapName ?? '')).data?.['ca.crt'] ?? '';
    assert.equal(map.data?.['issuer.crt'], rootPem);
    openssl.write('root.pem', rootPem);
    assert.equal(openssl.text(['verify', '-CAfile', 'root.pem', intermediate]).trim(), `${intermediate}: OK`);
    const text = openssl.text(['x509', '-in', intermediate, '-noout', '-text']);
    const rootText = openssl.text(['x509', '-in', 'root.pem', '-noout', '-text']);
    assert.match(text, /Basic Constraints: critical\s+CA:TRUE, pathlen:0\n/);
    assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA384/);
    const rootSki = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(rootText)?.[1] ?? 'none';
    assert.match(text, new RegExp(`Authority Key Identifier:\\s+(keyid:)?${rootSki}`));
    const { errors } = await zlint(map.data['ca.crt'] ?? '');
    assert.deepEqual(errors, []);
    const notAfter = Date.parse(activation.status.certificate?.notAfter ?? '');
    assert.ok(notAfter <= Date.parse(root.status?.certificate?.notAfter ?? ''));
    const entries = parseTranscript(
      (await getConfigMap(`${ACTIVATION}-transcript`)).data?.['transcript.jsonl'] ?? '',
    );
    assert.equal(verifyChain(entries, challenge), undefined);
    const rebuilt = entries.find((e) => e.step === 'Share Reconstruction' && e.detail.state === 'Done');
    assert.deepEqual(rebuilt?.detail.custodians, ['alice', 'bob', 'dave']);
  });

  it('a CSR whose signature does not verify, or that asks for an end-entity certificate, is refused', async () => {
    const pemOf = (der: Buffer) =>
      `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const good = csr('forged', '/C=DE/O=Example Corp/CN=Example Issuing CA 2');
    const der = Buffer.from(good.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const at = der.indexOf(Buffer.from('Issuing'));
    der[at] = 'J'.charCodeAt(0);
    const forged = pemOf(der);
    const cases = {
      'forged-csr': [forged, /signature does not verify/],
      'truncated-csr': [pemOf(der.subarray(0, Math.floor(der.length / 2))), /not a PKCS#10.*truncated DER/],
      'garbage-csr': [pemOf(randomBytes(300)), /not a PKCS#10 certification request/],
      'rtl-subject-csr': [
        csr('rtl', '/C=DE/O=Example Corp/CN=Example \u202eAC gniussI', '-utf8'),
        /subject CN holds U\+202E/,
      ],
      'leaf-csr': [
        csr('leaf', '/C=DE/O=Example Corp/CN=www.example.com', '-addext', 'basicConstraints=CA:FALSE'),
        /end-entity certificate/,
      ],
    } as const;
    for (const [name, [pem, message]] of Object.entries(cases)) {
      await client.create(
        keyCeremonyType,
        activationManifest(name, { ...options(), key: `${ROOT}-key`, csr: pem }),
      );
      const failed = await phase(name, 'Failed');
      assert.equal(conditionOf(failed, 'Ready')?.reason, 'CsrRefused');
      assert.match(conditionOf(failed, 'Ready')?.message ?? '', message);
      assert.equal(failed.status?.recipientCertificate, undefined);
    }
  });

  const tokenObjects = async () => {
    const secret = await combineShares(
      [shares.alice, shares.bob, shares.dave].filter((s) => s !== undefined),
    );
    const pins = tokenPins(secret, root.metadata.uid ?? '');
    recordActivationSecret(secret, root.metadata.uid ?? '');
    return softhsm.listObjects({ label: LABEL, pin: pins.user.toString('ascii'), soPin: '', slotId: 0 });
  };
  const getKey = () => client.get<ManagedKeyObject>(managedKeyType, `${ROOT}-key`, NAMESPACE);

  it('deleting the root ManagedKey with deletionPolicy Destroy waits: the operator cannot open the offline token', async () => {
    await client.patch(managedKeyType, `${ROOT}-key`, NAMESPACE, 'merge', {
      spec: { deletionPolicy: 'Destroy' },
    });
    await eventually('the ManagedKey has its finalizer', async () =>
      (await getKey()).metadata.finalizers?.length ? true : undefined,
    );
    await client.delete(managedKeyType, `${ROOT}-key`, NAMESPACE);
    const waiting = await eventually('the deletion is blocked', async () => {
      const key = await getKey();
      return conditionOf(key, 'Ready')?.reason === 'BackendNotReady' ? key : undefined;
    });
    assert.ok(waiting.metadata.deletionTimestamp);
    assert.match(conditionOf(waiting, 'Ready')?.message ?? '', /offline root/);
    assert.equal((await tokenObjects()).length, 2, 'the root key pair is still in the token');
  });

  it('a KeyDestruction under quorum destroys every version in the token, and the ManagedKey goes', async () => {
    await client.create(keyCeremonyType, {
      apiVersion: 'keyward.io/v1alpha1',
      kind: 'KeyCeremony',
      metadata: { name: 'destroy-root', namespace: NAMESPACE },
      spec: {
        type: 'KeyDestruction',
        backendRef: { name: BACKEND },
        target: { managedKeyRef: { name: `${ROOT}-key` } },
        quorum: { threshold: 3, custodians: options().custodians },
        witnesses: options().witnesses,
      },
    } as KubeObject);
    const ready = await phase('destroy-root', 'AwaitingQuorum');
    const digest = ready.status?.challenge ?? '';
    for (const custodian of ['carol', 'dave'])
      await approve('destroy-root', custodian, digest, { share: shareFor(custodian, ready) });
    const short = await getCeremony('destroy-root');
    assert.ok(
      short.status?.steps?.slice(1).every((s) => s.state === 'Pending'),
      'M-1 shares do nothing',
    );
    assert.equal((await tokenObjects()).length, 2);
    // erin follows the docs: their commands re-encrypt the share, and the approval carries the result.
    openssl.write('erin.share', shares.erin ?? Buffer.alloc(0));
    docs('reencrypt', { CEREMONY: 'destroy-root', ME: 'erin' });
    await approve('destroy-root', 'erin', digest, {
      share: openssl.read('erin.for-ceremony.cms').toString(),
    });
    const done = await witness('destroy-root');
    assert.deepEqual(
      done.status?.steps?.map((s) => `${s.name}: ${s.state}`),
      [
        'Preparation: Done',
        'Share Reconstruction: Done',
        'Key Destruction: Done',
        'Verification & Audit: Done',
        'Secure Storage: Done',
      ],
    );
    assert.deepEqual(await tokenObjects(), [], 'no object is left in the token');
    const entries = parseTranscript(
      (await getConfigMap('destroy-root-transcript')).data?.['transcript.jsonl'] ?? '',
    );
    assert.equal(verifyChain(entries, digest), undefined);
    assert.ok(entries.some((e) => e.detail.event === 'version destroyed' && e.detail.version === 1));
    await eventually('the ManagedKey is gone', async () => {
      try {
        await getKey();
        return undefined;
      } catch (error) {
        if (isNotFound(error)) return true;
        throw error;
      }
    });
  });

  it('no PIN, share or activation secret in plaintext in any object in the API server or in the operator log', async () => {
    const secret = await combineShares(
      [shares.alice, shares.bob, shares.dave].filter((s) => s !== undefined),
    );
    const pins = tokenPins(secret, root.metadata.uid ?? '');
    const needles = [
      pins.user.toString('ascii'),
      pins.so.toString('ascii'),
      secret.toString('hex'),
      secret.toString('base64'),
    ];
    for (const share of Object.values(shares)) needles.push(share.toString('hex'), share.toString('base64'));
    const kinds = [
      builtinResources.configMaps,
      builtinResources.secrets,
      builtinResources.events,
      keyCeremonyType,
      keyApprovalType,
      managedKeyType,
    ];
    let haystack = JSON.stringify(await client.list(keyBackendType));
    for (const kind of kinds) haystack += JSON.stringify(await client.list(kind, { namespace: NAMESPACE }));
    haystack += operator.logs.join('\n');
    for (const needle of needles)
      assert.ok(!haystack.includes(needle), 'a secret value is in the API server or the log');
    const approvals = await client.list<KeyCeremonyApprovalObject>(keyApprovalType, { namespace: NAMESPACE });
    assert.ok(
      haystack.includes(approvals.items.find((a) => a.spec.share)?.spec.share?.slice(30, 80) ?? 'x'),
      'the haystack has the approvals and their encrypted shares',
    );
  });
});
