// A root key ceremony end to end against real peers: the local kube-apiserver, a fresh SoftHSM2 slot that the
// ceremony initialises itself, and custodians and witnesses who only ever use openssl. What comes out is checked
// with the tools a relying party would use: openssl verify, openssl cms, zlint, pkcs11-tool.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { installCrds, remove } from '../../../scripts/cluster.ts';
import { ensureBinaries } from '../../../scripts/testenv/build.ts';
import type { KeyBackendObject } from '../../../src/api/v1alpha1/keybackend.ts';
import type { KeyCeremonyObject } from '../../../src/api/v1alpha1/keyceremony.ts';
import type { KeyCeremonyApprovalObject } from '../../../src/api/v1alpha1/keyceremonyapproval.ts';
import type { ManagedKeyObject } from '../../../src/api/v1alpha1/managedkey.ts';
import { findInitializedToken } from '../../../src/backends/pkcs11/token-init.ts';
import { matchesAuthenticator, tokenPins } from '../../../src/ceremony/activation.ts';
import { ceremonyChallenge } from '../../../src/ceremony/challenge.ts';
import { Refusal } from '../../../src/ceremony/quorum.ts';
import type { RefusalReason } from '../../../src/ceremony/quorum.ts';
import { combineShares } from '../../../src/ceremony/shares.ts';
import { parseTranscript, verifyChain } from '../../../src/ceremony/transcript.ts';
import { keyBackendType } from '../../../src/controllers/keybackend/controller.ts';
import { keyApprovalType, keyCeremonyType } from '../../../src/controllers/keyceremony/context.ts';
import {
  AUTHENTICATOR_ANNOTATION,
  managedKeyType,
} from '../../../src/controllers/keyceremony/root-generation.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import type { KubeObject } from '../../../src/kube/object.ts';
import { builtinResources } from '../../../src/kube/resource.ts';
import {
  approvalManifest,
  ceremonyManifest as ceremonySpec,
  offlineBackendManifest,
  recordActivationSecret,
  type PeopleShell,
  runDocs,
  runPlugin,
} from '../../support/ceremony.ts';
import { apiErrorMessage, testCluster } from '../../support/kube.ts';
import { OpenSsl } from '../../support/openssl.ts';
import type { PersonKeyType } from '../../support/openssl.ts';
import { eventually, startTestOperator } from '../../support/operator.ts';
import type { TestOperator } from '../../support/operator.ts';
import { SOFTHSM_MODULE, SoftHsm } from '../../support/softhsm.ts';
import { ensureZlint, zlint } from '../../support/zlint.ts';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `ceremony-${RUN}`;
const BACKEND = `offline-root-${RUN}`;
const LABEL = `root-${RUN}`;
const CEREMONY = 'root-ca-2026';

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
  immutable?: boolean;
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
const WITNESSES: Record<string, PersonKeyType> = { walter: 'ec-p256', wendy: 'ed25519' };
const OUTSIDERS: Record<string, PersonKeyType> = { mallory: 'ec-p256', edna: 'ed25519' };
const TYPES: Record<string, PersonKeyType> = { ...CUSTODIANS, ...WITNESSES, ...OUTSIDERS };

describe('a RootKeyGeneration ceremony (3 of 5, 2 witnesses) on a fresh SoftHSM2 token', () => {
  let client: KubeClient;
  let kubeconfigPath: string;
  let softhsm: SoftHsm;
  let operator: TestOperator;
  const openssl = new OpenSsl();
  const publicKeys: Record<string, string> = {};
  let approvalCount = 0;

  const getCeremony = (name = CEREMONY) => client.get<KeyCeremonyObject>(keyCeremonyType, name, NAMESPACE);
  const getApproval = (name: string) =>
    client.get<KeyCeremonyApprovalObject>(keyApprovalType, name, NAMESPACE);
  const getConfigMap = (name: string) => client.get<ConfigMap>(builtinResources.configMaps, name, NAMESPACE);
  const people = (names: string[]) => names.map((name) => ({ name, publicKey: publicKeys[name] ?? '' }));

  const ceremonyManifest = (name: string, custodians = Object.keys(CUSTODIANS)) =>
    ceremonySpec(name, {
      namespace: NAMESPACE,
      backend: BACKEND,
      custodians: people(custodians),
      witnesses: people(Object.keys(WITNESSES)),
    });

  /** What `kubectl keyward approve` does: openssl signs the digest string, and the approval is created. */
  async function approve(
    signer: string,
    digest: string,
    options: {
      by?: string;
      role?: 'Custodian' | 'Witness';
      ceremony?: string;
      /** Replaces the signature openssl made (truncated, bogus, or one made over something else). */
      signature?: (made: string) => string;
    } = {},
  ): Promise<string> {
    approvalCount += 1;
    const name = `${signer}-${approvalCount}`;
    const by = options.by ?? signer;
    const manifest = approvalManifest(openssl, {
      name,
      namespace: NAMESPACE,
      ceremony: options.ceremony ?? CEREMONY,
      signer,
      digest,
      type: TYPES[by] ?? 'ec-p256',
      by,
      role: options.role,
    }) as KubeObject & { spec: { signature: string } };
    if (options.signature) manifest.spec.signature = options.signature(manifest.spec.signature);
    await client.create(keyApprovalType, manifest);
    // Later approvals must be later: the first valid approval of a person is the one that counts.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    return name;
  }

  const shell = (): PeopleShell => ({ kubeconfigPath, namespace: NAMESPACE, dir: openssl.dir, kubectlDir });
  const plugin = (...args: string[]) => runPlugin(shell(), ...args);

  let kubectlDir: string;
  const docs = (name: string, variables: Record<string, string>) =>
    runDocs(shell(), name, { CEREMONY, ...variables });

  const approvalVerdict = (name: string) =>
    eventually(`approval ${name} checked`, async () => {
      const approval = await getApproval(name);
      return approval.status?.verified === undefined ? undefined : approval;
    });

  before(async () => {
    await ensureZlint();
    ({ client, kubeconfigPath } = await testCluster());
    await installCrds(client);
    softhsm = SoftHsm.create(); // no token: the ceremony initialises the free slot itself
    kubectlDir = dirname((await ensureBinaries(() => undefined)).kubectl);
    for (const [name, type] of Object.entries(TYPES)) {
      if (name === 'dave') {
        docs('keygen', { ME: name }); // dave follows the docs
        publicKeys[name] = openssl.read('dave.pub').toString();
      } else publicKeys[name] = openssl.keygen(name, type);
    }
    await client.create(builtinResources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NAMESPACE },
    });
    await client.create(keyBackendType, offlineBackendManifest(BACKEND, LABEL));
    operator = await startTestOperator(client, NAMESPACE);
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

  it('the offline root KeyBackend holds no PIN and says it is offline', async () => {
    const backend = await eventually('KeyBackend reconciled', async () => {
      const object = await client.get<KeyBackendObject>(keyBackendType, BACKEND);
      return conditionOf(object, 'Ready') ? object : undefined;
    });
    assert.equal(conditionOf(backend, 'Ready')?.status, 'False');
    assert.equal(conditionOf(backend, 'Ready')?.reason, 'Offline');
    assert.equal(backend.spec.pkcs11?.pinSecretRef, undefined);
  });

  it('admission: an offline root has no pinSecretRef and a label; any other backend has a pinSecretRef', async () => {
    const refused = async (pkcs11: Record<string, unknown>) => {
      const manifest = offlineBackendManifest(`refused-${RUN}`, LABEL) as KubeObject & {
        spec: { pkcs11: object };
      };
      manifest.spec.pkcs11 = { ...manifest.spec.pkcs11, ...pkcs11 };
      try {
        await client.create(keyBackendType, manifest);
      } catch (error) {
        return apiErrorMessage(error);
      }
      await remove(client, manifest);
      return 'admitted';
    };
    const secretRef = { namespace: NAMESPACE, name: 'pin', key: 'pin' };
    assert.match(
      await refused({ pinSecretRef: secretRef }),
      /an offline root \(activation Ceremony\) has no pinSecretRef/,
    );
    assert.match(await refused({ token: { slotId: 1 } }), /activation Ceremony needs token.label/);
    assert.match(
      await refused({ activation: undefined }),
      /pinSecretRef is required unless activation is Ceremony/,
    );
  });

  it('refuses at Preparation a custodian whose key cannot receive a share', async () => {
    await client.create(keyCeremonyType, ceremonyManifest('ed-custodian', ['alice', 'bob', 'edna']));
    const failed = await eventually('ceremony with an Ed25519 custodian failed', async () => {
      const c = await getCeremony('ed-custodian');
      return c.status?.phase === 'Failed' ? c : undefined;
    });
    assert.equal(conditionOf(failed, 'Ready')?.reason, 'CustodianCannotReceiveShare');
    assert.match(
      conditionOf(failed, 'Ready')?.message ?? '',
      /edna has an Ed25519 key, which can sign but cannot receive/,
    );
  });

  let challenge = '';
  it('Preparation: the challenge is sha256 of uid and canonical spec, and the attendees are in the transcript', async () => {
    await client.create(keyCeremonyType, ceremonyManifest(CEREMONY));
    await client.create(keyCeremonyType, ceremonyManifest('another-ceremony'));
    const ceremony = await eventually('AwaitingQuorum', async () => {
      const c = await getCeremony();
      return c.status?.phase === 'AwaitingQuorum' ? c : undefined;
    });
    challenge = ceremony.status?.challenge ?? '';
    assert.equal(challenge, ceremonyChallenge(ceremony.metadata.uid ?? '', ceremony.spec));
    const [recomputed, published] = docs('challenge', {}).split('\n');
    assert.equal(recomputed, challenge, 'the docs recompute the challenge with jq and sha256sum');
    assert.equal(published, challenge);
    assert.equal(ceremony.status?.steps?.[0]?.name, 'Preparation');
    assert.equal(ceremony.status.steps[0].state, 'Done');
    assert.ok(ceremony.status.steps.slice(1).every((s) => s.state === 'Pending'));
    const transcript = parseTranscript(
      (await getConfigMap(`${CEREMONY}-transcript`)).data?.['transcript.jsonl'] ?? '',
    );
    for (const name of [...Object.keys(CUSTODIANS), ...Object.keys(WITNESSES)]) {
      const entry = transcript.find((e) => e.actor === name && e.step === 'Preparation');
      assert.ok(entry, name);
      assert.match(String(entry.detail.fingerprint), /^SHA256:/);
    }
  });

  it('a forged signature, another ceremony, another digest, an outsider, a duplicate and M-1 approvals make no quorum, and say why', async () => {
    const other = await eventually('the other ceremony has a challenge', async () => {
      const c = await getCeremony('another-ceremony');
      return c.status?.challenge;
    });
    const refused: Record<string, RefusalReason> = {
      [await approve('alice', challenge, { by: 'mallory' })]: Refusal.SignatureInvalid,
      [await approve('bob', other)]: Refusal.OtherCeremony,
      [await approve('carol', `sha256:${'0'.repeat(64)}`)]: Refusal.DigestMismatch,
      [await approve('mallory', challenge)]: Refusal.SignerNotInSpec,
      // Half of a good signature, still base64.
      [await approve('dave', challenge, { signature: (s) => s.slice(0, Math.floor(s.length / 8) * 4) })]:
        Refusal.SignatureInvalid,
      // Random bytes where a signature goes.
      [await approve('erin', challenge, { signature: () => randomBytes(72).toString('base64') })]:
        Refusal.SignatureInvalid,
      // Bob's real signature over the other ceremony's challenge, replayed as an approval of this one.
      [await approve('bob', challenge, { signature: () => openssl.sign('bob', 'ec-p384', other) })]:
        Refusal.SignatureInvalid,
    };
    const alice = await approve('alice', challenge);
    refused[await approve('alice', challenge)] = Refusal.DuplicateApproval;
    const bob = await approve('bob', challenge);
    for (const [name, reason] of Object.entries(refused)) {
      const approval = await approvalVerdict(name);
      assert.equal(approval.status?.verified, false, name);
      assert.equal(conditionOf(approval, 'Verified')?.reason, reason, name);
    }
    for (const name of [alice, bob]) assert.equal((await approvalVerdict(name)).status?.verified, true, name);
    const ceremony = await eventually('quorum counted', async () => {
      const c = await getCeremony();
      return c.status?.approvals?.received === 2 &&
        (conditionOf(c, 'QuorumReached')?.message.match(/;/g) ?? []).length >= 5
        ? c
        : undefined;
    });
    assert.equal(ceremony.status?.phase, 'AwaitingQuorum');
    assert.deepEqual(ceremony.status.approvals?.approvedBy, ['alice', 'bob']);
    const quorum = conditionOf(ceremony, 'QuorumReached');
    assert.equal(quorum?.status, 'False');
    assert.equal(quorum.reason, 'ApprovalsRefused');
    assert.match(quorum.message, /the signature does not verify with the public key of alice/);
    assert.match(quorum.message, /signs the challenge of ceremony another-ceremony/);
    assert.match(quorum.message, /mallory is not a custodian/);
    assert.match(quorum.message, /alice already approved/);
    assert.equal(ceremony.status.shares, undefined);
    assert.equal(await findInitializedToken(SOFTHSM_MODULE, LABEL), undefined, 'no token was initialised');
  });

  let ceremony: KeyCeremonyObject;
  it('the third custodian makes the quorum: the token is initialised, shares distributed, key and certificate made', async () => {
    const approved = plugin('approve', CEREMONY, '--signer', 'carol', '--key', openssl.path('carol.pem'));
    assert.match(approved, new RegExp(`carol signed ${challenge}`));
    ceremony = await eventually(
      'AwaitingWitnesses',
      async () => {
        const c = await getCeremony();
        assert.notEqual(c.status?.phase, 'Failed', conditionOf(c, 'Ready')?.message);
        return c.status?.phase === 'AwaitingWitnesses' ? c : undefined;
      },
      60_000,
    );
    assert.deepEqual(
      ceremony.status?.steps?.map((s) => `${s.name}: ${s.state}`),
      [
        'Preparation: Done',
        'HSM Initialization: Done',
        'Key Share Distribution: Done',
        'Root Key Generation: Done',
        'Root Certificate Signing: Done',
        'Verification & Audit: Done',
        'Secure Storage: Done',
      ],
    );
    assert.ok(ceremony.status.steps.every((s) => s.transcriptSeq !== undefined));
    assert.equal(conditionOf(ceremony, 'QuorumReached')?.status, 'True');
    const shown = plugin('ceremony', 'status', CEREMONY);
    assert.match(shown, /phase AwaitingWitnesses/);
    assert.match(shown, /approvals: 3 of 3 \(alice, bob, carol\)/);
    assert.match(shown, /Done {5}Root Certificate Signing \(transcript #\d+\)/);
  });

  it('the transcript is an immutable hash chain from the challenge to the head in status', async () => {
    const map = await getConfigMap(`${CEREMONY}-transcript`);
    assert.equal(map.immutable, true);
    const entries = parseTranscript(map.data?.['transcript.jsonl'] ?? '');
    assert.equal(verifyChain(entries, challenge), undefined);
    assert.equal(entries.at(-1)?.hash, ceremony.status?.transcript?.headHash);
    assert.equal(entries.length, ceremony.status?.transcript?.entries);
    assert.ok(
      entries.some(
        (e) =>
          e.step === 'Verification & Audit' &&
          e.detail.certificateFingerprint === ceremony.status?.certificate?.fingerprint,
      ),
    );
    const tampered = entries.map((e) =>
      e.step === 'Dual Control' && e.actor === 'carol' ? { ...e, actor: 'mallory' } : e,
    );
    assert.match(verifyChain(tampered, challenge) ?? '', /was changed after it was written/);
  });

  let secret: Buffer;
  it('each custodian opens their share with openssl cms; any 3 rebuild the activation secret, 2 do not', async () => {
    const shares = ceremony.status?.shares ?? [];
    assert.deepEqual(
      shares.map((s) => s.custodian),
      Object.keys(CUSTODIANS),
    );
    const opened = shares.map((s) => openssl.decryptShare(s.custodian, s.encryptedShare));
    plugin(
      'share',
      'decrypt',
      CEREMONY,
      '--custodian',
      'alice',
      '--key',
      openssl.path('alice.pem'),
      '--out',
      openssl.path('alice.share'),
    );
    assert.deepEqual(openssl.read('alice.share'), opened[0]);
    docs('share', { ME: 'bob' });
    assert.deepEqual(openssl.read('bob.share'), opened[1]);
    const managedKey = await client.get<ManagedKeyObject>(managedKeyType, `${CEREMONY}-key`, NAMESPACE);
    const authenticator = managedKey.metadata.annotations?.[AUTHENTICATOR_ANNOTATION] ?? '';
    const uid = ceremony.metadata.uid ?? '';
    const [a, b, c, d, e] = opened;
    assert.ok(a && b && c && d && e);
    for (const three of [
      [a, b, c],
      [a, d, e],
      [c, d, e],
      [b, c, e],
    ]) {
      assert.ok(matchesAuthenticator(await combineShares(three), uid, authenticator));
    }
    for (const two of [
      [a, b],
      [d, e],
    ]) {
      assert.equal(matchesAuthenticator(await combineShares(two), uid, authenticator), false);
    }
    secret = await combineShares([b, d, e]);
    recordActivationSecret(secret, uid);
  });

  it('the root key is in the token, never extractable, and the only key there', () => {
    const pins = tokenPins(secret, ceremony.metadata.uid ?? '');
    const objects = softhsm.listObjects({
      label: LABEL,
      pin: pins.user.toString('ascii'),
      soPin: '',
      slotId: 0,
    });
    assert.equal(objects.length, 2, JSON.stringify(objects));
    const privateKey = objects.find((o) => o.kind === 'Private Key');
    assert.ok(privateKey);
    assert.ok(privateKey.access.includes('never extractable'), privateKey.access.join(','));
    assert.ok(privateKey.access.includes('sensitive'));
  });

  it('the root certificate passes openssl verify and zlint, and its SHA-256 is in status', async () => {
    const map = await getConfigMap(ceremony.status?.certificate?.configMapName ?? '');
    const pem = map.data?.['ca.crt'] ?? '';
    const file = openssl.write('root.pem', pem);
    assert.equal(openssl.text(['verify', '-CAfile', file, file]).trim(), `${file}: OK`);
    const text = openssl.text(['x509', '-in', file, '-noout', '-text']);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA384/);
    assert.match(text, /Basic Constraints: critical\s+CA:TRUE/);
    const der = openssl.run(['x509', '-in', file, '-outform', 'DER']);
    const fingerprint = `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`;
    assert.equal(ceremony.status?.certificate?.fingerprint, fingerprint);
    const { errors } = await zlint(pem);
    assert.deepEqual(errors, []);
    const years =
      (Date.parse(ceremony.status.certificate.notAfter) - Date.parse(ceremony.status.certificate.notBefore)) /
      (365 * 86_400_000);
    assert.ok(years > 19.99 && years <= 20, String(years));
    // The ManagedKey records the key, with the fingerprint of the certificate's public key, and is offline.
    const managedKey = await client.get<ManagedKeyObject>(managedKeyType, `${CEREMONY}-key`, NAMESPACE);
    assert.equal(managedKey.status?.currentVersion, 1);
    assert.equal(managedKey.spec.rotation, undefined);
    const spki = execFileSync('openssl', ['x509', '-in', file, '-noout', '-pubkey']).toString();
    const spkiDer = openssl.run(['pkey', '-pubin', '-outform', 'DER'], spki);
    assert.equal(
      managedKey.status.publicKeyFingerprint,
      `SHA256:${createHash('sha256').update(spkiDer).digest('base64').replace(/=+$/, '')}`,
    );
    assert.equal(conditionOf(managedKey, 'Ready')?.status, 'False');
    assert.match(conditionOf(managedKey, 'Ready')?.message ?? '', /offline/i);
  });

  it('witnesses sign the head: a wrong digest is refused, then both signatures complete the ceremony', async () => {
    const head = ceremony.status?.transcript?.headHash ?? '';
    const early = await approve('walter', challenge, { role: 'Witness' });
    assert.equal(conditionOf(await approvalVerdict(early), 'Verified')?.reason, Refusal.DigestMismatch);
    docs('approve', { ME: 'walter', ROLE: 'Witness', FIELD: '.status.transcript.headHash' });
    const walter = await approvalVerdict(`${CEREMONY}-walter-witness`);
    assert.equal(walter.spec.signedDigest, head);
    assert.equal(walter.status?.verified, true);
    assert.throws(() => plugin('transcript', 'verify', CEREMONY), /witness wendy has no valid signature/);
    plugin('approve', CEREMONY, '--signer', 'wendy', '--role', 'Witness', '--key', openssl.path('wendy.pem'));
    const done = await eventually('Completed', async () => {
      const c = await getCeremony();
      return c.status?.phase === 'Completed' ? c : undefined;
    });
    assert.equal(conditionOf(done, 'Witnessed')?.status, 'True');
    assert.equal(conditionOf(done, 'Ready')?.reason, 'Completed');
    assert.match(
      plugin('transcript', 'verify', CEREMONY),
      /verifies: \d+ entries, head sha256:[0-9a-f]{64}, signed by walter, wendy/,
    );
    const metrics = await operator.manager.metrics.registry.metrics();
    assert.match(metrics, /keyward_ceremonies_total\{result="Completed"\} 1/);
    assert.match(metrics, /keyward_ceremonies_total\{result="Failed"\} 1/);
    assert.match(
      metrics,
      new RegExp(`keyward_ceremony_approvals\\{namespace="${NAMESPACE}",name="${CEREMONY}"\\} 3`),
    );
    assert.match(metrics, /keyward_ceremony_phase\{phase="Completed"\} [1-9]/);
    const events = await client.list<KubeObject & { reason?: string; note?: string }>(
      builtinResources.events,
      {
        namespace: NAMESPACE,
      },
    );
    const notes = events.items.filter((e) => e.reason === 'StepDone').map((e) => e.note ?? '');
    for (const step of [
      'Preparation',
      'HSM Initialization',
      'Key Share Distribution',
      'Root Key Generation',
      'Root Certificate Signing',
      'Verification & Audit',
      'Secure Storage',
    ]) {
      assert.ok(
        notes.some((note) => note.startsWith(`${step}:`)),
        `an event for ${step}`,
      );
    }
  });

  it('a ceremony not completed by its deadline ends Expired, and the transcript says so', async () => {
    const expiring = ceremonyManifest('expiring') as KubeObject & { spec: { deadline: string } };
    expiring.spec.deadline = '1h';
    await client.create(keyCeremonyType, expiring);
    await eventually('AwaitingQuorum', async () =>
      (await getCeremony('expiring')).status?.phase === 'AwaitingQuorum' ? true : undefined,
    );
    operator.clock.advance(2 * 3_600_000);
    await client.patch(keyCeremonyType, 'expiring', NAMESPACE, 'merge', {
      metadata: { annotations: { nudge: '1' } },
    });
    const expired = await eventually('Expired', async () => {
      const c = await getCeremony('expiring');
      return c.status?.phase === 'Expired' ? c : undefined;
    });
    assert.match(
      conditionOf(expired, 'Ready')?.message ?? '',
      /deadline \(1h after creation\) passed.*no key was generated/,
    );
    const transcript = parseTranscript(
      (await getConfigMap('expiring-transcript')).data?.['transcript.jsonl'] ?? '',
    );
    assert.equal(transcript.at(-1)?.detail.event, 'ceremony expired');
  });

  it('transcript verify fails on a tampered copy of the transcript', async () => {
    const text = (await getConfigMap(`${CEREMONY}-transcript`)).data?.['transcript.jsonl'] ?? '';
    const file = openssl.path('tampered.jsonl');
    writeFileSync(file, text.replace('"actor":"carol"', '"actor":"mallory"'));
    assert.notEqual(text, openssl.read('tampered.jsonl').toString());
    assert.throws(
      () => plugin('transcript', 'verify', CEREMONY, '--file', file),
      (error: { status?: number; stderr?: string }) =>
        error.status === 1 && /was changed after it was written/.test(error.stderr ?? ''),
    );
  });

  it('no PIN, share or activation secret in plaintext in any object in the API server or in the operator log', async () => {
    const pins = tokenPins(secret, ceremony.metadata.uid ?? '');
    const opened = (ceremony.status?.shares ?? []).map((s) =>
      openssl.decryptShare(s.custodian, s.encryptedShare),
    );
    const needles = [
      pins.user.toString('ascii'),
      pins.so.toString('ascii'),
      secret.toString('hex'),
      secret.toString('base64'),
    ];
    for (const share of opened) needles.push(share.toString('hex'), share.toString('base64'));
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
    assert.ok(
      haystack.includes(ceremony.status?.shares?.[0]?.encryptedShare.slice(30, 80) ?? 'x'),
      'the haystack has the objects',
    );
  });
});
