// The operator killed (SIGKILL, through a failpoint) at each step of a root key ceremony's HSM work. The activation
// secret dies with the process, so the ceremony cannot finish; it must fail cleanly: ended as Interrupted by the
// next operator, no token initialised twice, no second key, and no lost share (any 3 of the 5 shares in status
// still open the token that was initialised). And a KeyActivation whose operator restarts while it waits for
// shares: its recipient key lived only in memory, so it fails cleanly, and a new activation still works.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { installCrds, remove } from '../../../scripts/cluster.ts';
import type { KeyCeremonyObject } from '../../../src/api/v1alpha1/keyceremony.ts';
import type { ManagedKeyObject } from '../../../src/api/v1alpha1/managedkey.ts';
import { matchesAuthenticator, tokenPins } from '../../../src/ceremony/activation.ts';
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
import { baseArgs, mainPath, startOperator } from '../../fixtures/operator-process.ts';
import type { OperatorProcess } from '../../fixtures/operator-process.ts';
import {
  activationManifest,
  approvalManifest,
  ceremonyManifest,
  offlineBackendManifest,
  recordActivationSecret,
} from '../../support/ceremony.ts';
import { testCluster } from '../../support/kube.ts';
import { OpenSsl } from '../../support/openssl.ts';
import { eventually } from '../../support/operator.ts';
import { SoftHsm } from '../../support/softhsm.ts';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `ceremony-crash-${RUN}`;
const CUSTODIANS = ['alice', 'bob', 'carol', 'dave', 'erin'];
const FAILPOINTS = [
  'ceremony-after-token-init',
  'ceremony-after-key-generation',
  'ceremony-after-certificate',
];

describe('ceremonies killed or restarted in the middle', () => {
  let client: KubeClient;
  let kubeconfig: string;
  let softhsm: SoftHsm;
  const openssl = new OpenSsl();
  const publicKeys: Record<string, string> = {};
  const operators: OperatorProcess[] = [];
  const backends: string[] = [];

  const operator = (name: string, failpoints = ''): OperatorProcess => {
    const started = startOperator(name, baseArgs(kubeconfig, NAMESPACE), {
      script: mainPath,
      env: { ...process.env, KEYWARD_FAILPOINTS: failpoints },
    });
    operators.push(started);
    return started;
  };
  const stop = async (started: OperatorProcess) => {
    started.child.kill('SIGTERM');
    await started.exited;
  };

  before(async () => {
    ({ client, kubeconfigPath: kubeconfig } = await testCluster());
    await installCrds(client);
    softhsm = SoftHsm.create(); // SOFTHSM2_CONF reaches the operators through their environment
    for (const name of [...CUSTODIANS, 'walter']) publicKeys[name] = openssl.keygen(name, 'ec-p256');
    await client.create(builtinResources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NAMESPACE },
    });
  });

  after(async () => {
    for (const started of operators) started.child.kill('SIGTERM');
    await Promise.all(operators.map((started) => started.exited));
    for (const name of backends) {
      await remove(client, { apiVersion: 'keyward.io/v1alpha1', kind: 'KeyBackend', metadata: { name } });
    }
    softhsm.cleanup();
    openssl.remove();
  });

  for (const failpoint of FAILPOINTS) {
    it(`killed at ${failpoint}: fails cleanly, no second token or key, no lost share`, async () => {
      const name = failpoint.replace('ceremony-after-', 'crash-');
      const backend = `${name}-${RUN}`;
      const label = `${name.slice(0, 20)}-${RUN}`;
      backends.push(backend);
      await client.create(keyBackendType, offlineBackendManifest(backend, label));
      const crashing = operator(`crashing-${name}`, failpoint);
      await client.create(
        keyCeremonyType,
        ceremonyManifest(name, {
          namespace: NAMESPACE,
          backend,
          custodians: CUSTODIANS.map((n) => ({ name: n, publicKey: publicKeys[n] ?? '' })),
          witnesses: [{ name: 'walter', publicKey: publicKeys.walter ?? '' }],
        }),
      );
      const challenge = await eventually(
        'challenge',
        async () => (await getCeremony(name)).status?.challenge,
      );
      for (const signer of ['alice', 'bob', 'carol']) {
        await client.create(
          keyApprovalType,
          approvalManifest(openssl, {
            name: `${name}-${signer}`,
            namespace: NAMESPACE,
            ceremony: name,
            signer,
            digest: challenge,
            type: 'ec-p256',
          }),
        );
      }
      const exit = await Promise.race([
        crashing.exited,
        new Promise<never>((_, reject) =>
          setTimeout(() => {
            reject(new Error(`${failpoint} was not reached within 60s`));
          }, 60_000).unref(),
        ),
      ]);
      assert.equal(exit.signal, 'SIGKILL', `${failpoint} was reached`);

      const recovering = operator(`recovering-${name}`);
      const failed = await eventually(
        'the ceremony ended Failed',
        async () => {
          const c = await getCeremony(name);
          return c.status?.phase === 'Failed' ? c : undefined;
        },
        60_000,
      );
      await stop(recovering);
      const ready = failed.status?.conditions?.find((c) => c.type === 'Ready');
      assert.equal(ready?.reason, 'Interrupted');
      assert.match(ready.message, /HSM Initialization \((Running|Done)\)/);
      assert.ok(failed.status?.steps?.some((s) => s.state === 'Failed'));

      // Nothing lost: the shares in status rebuild the secret whose PIN opens the token that was initialised.
      const shares = (failed.status?.shares ?? []).map((s) =>
        openssl.decryptShare(s.custodian, s.encryptedShare),
      );
      assert.equal(shares.length, 5);
      const secret = await combineShares([shares[0], shares[2], shares[4]].filter((s) => s !== undefined));
      recordActivationSecret(secret, failed.metadata.uid ?? '');
      const pin = tokenPins(secret, failed.metadata.uid ?? '').user.toString('ascii');
      const objects = softhsm.listObjects({ label, pin, soPin: '', slotId: 0 });
      const privateKeys = objects.filter((o) => o.kind === 'Private Key');
      assert.equal(privateKeys.length, failpoint === 'ceremony-after-token-init' ? 0 : 1, 'no second key');
      if (failpoint !== 'ceremony-after-token-init') {
        const key = await client.get<ManagedKeyObject>(managedKeyType, `${name}-key`, NAMESPACE);
        const authenticator = key.metadata.annotations?.[AUTHENTICATOR_ANNOTATION] ?? '';
        assert.ok(matchesAuthenticator(secret, failed.metadata.uid ?? '', authenticator));
      }

      // The transcript says so, and its chain still holds.
      const map = await client.get<KubeObject & { data?: Record<string, string> }>(
        builtinResources.configMaps,
        `${name}-transcript`,
        NAMESPACE,
      );
      const entries = parseTranscript(map.data?.['transcript.jsonl'] ?? '');
      assert.equal(verifyChain(entries, challenge), undefined);
      assert.equal(entries.at(-1)?.detail.reason, 'Interrupted');
      const initialisations = entries.filter(
        (e) => e.step === 'HSM Initialization' && e.detail.state === 'Running',
      );
      assert.equal(initialisations.length, 1, 'the token was initialised once');
    });
  }

  it('a KeyActivation whose operator restarted fails RecipientKeyLost; a new activation with the same shares works', async () => {
    const backend = `activate-${RUN}`;
    backends.push(backend);
    await client.create(keyBackendType, offlineBackendManifest(backend, `activate-${RUN}`));
    const people = {
      namespace: NAMESPACE,
      backend,
      custodians: CUSTODIANS.map((n) => ({ name: n, publicKey: publicKeys[n] ?? '' })),
      witnesses: [{ name: 'walter', publicKey: publicKeys.walter ?? '' }],
    };
    const approveAll = async (
      ceremony: string,
      digest: string,
      signers: string[],
      share?: (signer: string) => string,
      role?: 'Witness',
    ) => {
      for (const signer of signers) {
        await client.create(
          keyApprovalType,
          approvalManifest(openssl, {
            name: `${ceremony}-${signer}-${role ?? 'custodian'}`.toLowerCase(),
            namespace: NAMESPACE,
            ceremony,
            signer,
            digest,
            type: 'ec-p256',
            ...(role ? { role } : {}),
            ...(share ? { share: share(signer) } : {}),
          }),
        );
      }
    };
    const phase = (name: string, wanted: string) =>
      eventually(
        `${name} ${wanted}`,
        async () => {
          const c = await getCeremony(name);
          return c.status?.phase === wanted ? c : undefined;
        },
        60_000,
      );

    let running = operator('activation-first');
    await client.create(keyCeremonyType, ceremonyManifest('activate-root', people));
    await approveAll(
      'activate-root',
      (await phase('activate-root', 'AwaitingQuorum')).status?.challenge ?? '',
      ['alice', 'bob', 'carol'],
    );
    const sealed = await phase('activate-root', 'AwaitingWitnesses');
    await approveAll(
      'activate-root',
      sealed.status?.transcript?.headHash ?? '',
      ['walter'],
      undefined,
      'Witness',
    );
    const root = await phase('activate-root', 'Completed');
    const shares = Object.fromEntries(
      (root.status?.shares ?? []).map((s) => [
        s.custodian,
        openssl.decryptShare(s.custodian, s.encryptedShare),
      ]),
    );
    const csr = () => {
      openssl.run([
        'genpkey',
        '-algorithm',
        'EC',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-out',
        'issuing.key',
      ]);
      return openssl.text([
        'req',
        '-new',
        '-key',
        'issuing.key',
        '-subj',
        '/C=DE/O=Example Corp/CN=Issuing CA',
      ]);
    };
    await client.create(
      keyCeremonyType,
      activationManifest('activate-lost', { ...people, key: 'activate-root-key', csr: csr() }),
    );
    const waiting = await phase('activate-lost', 'AwaitingQuorum');
    assert.ok(waiting.status?.recipientCertificate);
    await stop(running);

    running = operator('activation-second');
    const lost = await phase('activate-lost', 'Failed');
    const ready = lost.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, 'RecipientKeyLost');
    assert.match(ready.message, /Nothing is lost/);

    await client.create(
      keyCeremonyType,
      activationManifest('activate-again', { ...people, key: 'activate-root-key', csr: csr() }),
    );
    const again = await phase('activate-again', 'AwaitingQuorum');
    await approveAll('activate-again', again.status?.challenge ?? '', ['bob', 'dave', 'erin'], (signer) =>
      openssl.reencryptShare(
        signer,
        shares[signer] ?? Buffer.alloc(0),
        again.status?.recipientCertificate ?? '',
      ),
    );
    const signed = await phase('activate-again', 'AwaitingWitnesses');
    assert.ok(signed.status?.certificate?.configMapName);
    await stop(running);
  });

  function getCeremony(name: string) {
    return client.get<KeyCeremonyObject>(keyCeremonyType, name, NAMESPACE);
  }
});
