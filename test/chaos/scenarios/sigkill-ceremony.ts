// SIGKILL during a root key ceremony: RootKeyGeneration with 3 of 5 custodians and a witness, the operator killed
// at a step of its HSM work (`ceremony-after-token-init`, `-key-generation`, `-certificate`) or after a random
// delay anywhere in the flow. The ceremony must end Completed or Failed (Interrupted), its transcript chain intact,
// and the token it initialised must hold at most one root key.
import { tokenPins } from '../../../src/ceremony/activation.ts';
import { combineShares } from '../../../src/ceremony/shares.ts';
import type { KeyCeremonyObject } from '../../../src/api/v1alpha1/keyceremony.ts';
import { keyBackendType } from '../../../src/controllers/keybackend/controller.ts';
import { keyApprovalType, keyCeremonyType } from '../../../src/controllers/keyceremony/context.ts';
import { remove } from '../../../scripts/cluster.ts';
import { builtinResources } from '../../../src/kube/resource.ts';
import { approvalManifest, ceremonyManifest, offlineBackendManifest } from '../../support/ceremony.ts';
import { SoftHsm } from '../../support/softhsm.ts';
import { pkcs11Inventory } from '../inventory.ts';
import type { Scenario } from '../scenario.ts';
import type { Trial } from '../trial.ts';
import { CUSTODIANS, WITNESS } from '../world.ts';
import type { World } from '../world.ts';

const FAILPOINTS = [
  'ceremony-after-token-init',
  'ceremony-after-key-generation',
  'ceremony-after-certificate',
];
const NAME = 'root';

/** Approves as the custodians (3 of the 5, chosen by the PRNG) and the witness as the ceremony asks, until it ends. */
async function drive(trial: Trial, world: World): Promise<KeyCeremonyObject> {
  const { openssl } = world.people();
  const signers = [...CUSTODIANS].sort(() => trial.prng.next() - 0.5).slice(0, 3);
  const approve = async (signer: string, digest: string, role?: 'Witness') => {
    await trial.client.create(
      keyApprovalType,
      approvalManifest(openssl, {
        name: `${NAME}-${signer}`,
        namespace: trial.namespace,
        ceremony: NAME,
        signer,
        digest,
        type: 'ec-p256',
        ...(role ? { role } : {}),
      }),
    );
    trial.note(`${signer} approved`);
  };
  let approved = false;
  let witnessed = false;
  return trial.waitFor(
    'the ceremony to end',
    async () => {
      const ceremony = await trial.client.get<KeyCeremonyObject>(keyCeremonyType, NAME, trial.namespace);
      const { phase, challenge, transcript } = ceremony.status ?? {};
      if (phase === 'Completed' || phase === 'Failed') return ceremony;
      if (!approved && challenge) {
        approved = true;
        for (const signer of signers) await approve(signer, challenge);
      }
      if (!witnessed && phase === 'AwaitingWitnesses' && transcript?.headHash) {
        witnessed = true;
        await approve(WITNESS, transcript.headHash, 'Witness');
      }
      return undefined;
    },
    240_000,
  );
}

export const sigkillCeremony: Scenario = {
  name: 'sigkill-ceremony',
  summary: 'SIGKILL the operator during a root key generation ceremony (a step failpoint or random delay)',
  async run(trial, world) {
    const { openssl, publicKeys } = world.people();
    const softhsm = SoftHsm.create(); // the operators find the token the ceremony initialises through SOFTHSM2_CONF
    trial.onCleanup(() => {
      softhsm.cleanup();
    });
    await trial.client.create(builtinResources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: trial.namespace },
    });
    const backend = trial.namespace;
    const label = `root-${String(trial.seed)}`.slice(0, 32);
    await trial.client.create(keyBackendType, offlineBackendManifest(backend, label));
    trial.onCleanup(() =>
      remove(trial.client, {
        apiVersion: 'keyward.io/v1alpha1',
        kind: 'KeyBackend',
        metadata: { name: backend },
      }),
    );

    const moment = trial.moment(FAILPOINTS, 20_000);
    const crashing = trial.operator('crashing', {
      leaderElect: false,
      failpoints: moment.failpoint ? [moment.failpoint] : [],
    });
    await trial.client.create(
      keyCeremonyType,
      ceremonyManifest(NAME, {
        namespace: trial.namespace,
        backend,
        custodians: CUSTODIANS.map((n) => ({ name: n, publicKey: publicKeys[n] ?? '' })),
        witnesses: [{ name: WITNESS, publicKey: publicKeys[WITNESS] ?? '' }],
      }),
    );
    trial.trackCeremony(NAME);
    const ended = drive(trial, world);
    await trial.killAt(crashing, moment);
    trial.operator('recovering');
    const ceremony = await ended;
    trial.note(
      `the ceremony ended ${ceremony.status?.phase ?? ''}: ${ceremony.status?.conditions?.find((c) => c.type === 'Ready')?.reason ?? ''}`,
    );

    // The token's PIN from any 3 shares in status (what custodians would do), to count the keys on it.
    const shares = (ceremony.status?.shares ?? []).map((s) =>
      openssl.decryptShare(s.custodian, s.encryptedShare),
    );
    if (shares.length < 3) return; // killed before the shares were made: nothing on a token yet
    const secret = await combineShares(shares.slice(0, 3));
    const pin = tokenPins(secret, ceremony.metadata.uid ?? '').user.toString('ascii');
    secret.fill(0);
    if (ceremony.status?.phase === 'Completed') await trial.trackKey(`${NAME}-key`, { offline: true });
    const token = { label, pin, soPin: '', slotId: 0 };
    trial.watchBackend(pkcs11Inventory(softhsm, token, trial));
  },
};
