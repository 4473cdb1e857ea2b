// A chaos scenario: sets up what it needs in the trial, brings a fault at a moment the trial's PRNG chooses, and
// leaves the operators running so that the world can settle; the runner then checks the invariants.
import { ALLOWED_USAGES } from '../../src/api/algorithms.ts';
import type { Algorithm } from '../../src/api/algorithms.ts';
import type { ManagedKeyObject } from '../../src/api/v1alpha1/managedkey.ts';
import type { KubeObject } from '../../src/kube/object.ts';
import { managedKeyManifest, setUpSoftHsmBackend } from '../support/keyward.ts';
import type { SoftHsmSetup } from '../support/keyward.ts';
import { pkcs11Inventory } from './inventory.ts';
import type { Trial } from './trial.ts';
import type { World } from './world.ts';

export interface Scenario {
  /** Stable and descriptive: docs/security.md cites scenarios by name. */
  readonly name: string;
  /** What the scenario does, one line. */
  readonly summary: string;
  run(trial: Trial, world: World): Promise<void>;
}

const ALGORITHMS: readonly Algorithm[] = ['EC_P256', 'RSA_2048', 'AES_256'];

/** A ManagedKey of an algorithm the PRNG picks, with every usage that algorithm allows. */
export function randomKey(
  trial: Trial,
  name: string,
  backend: string,
  spec: Partial<ManagedKeyObject['spec']> = {},
): KubeObject {
  const algorithm = trial.prng.pick(ALGORITHMS);
  return managedKeyManifest(name, trial.namespace, {
    backendRef: { name: backend },
    algorithm,
    usages: [...ALLOWED_USAGES[algorithm]],
    ...spec,
  });
}

/** The trial's namespace with a SoftHSM2 token, its PIN Secret and a KeyBackend, watched from the token's side. */
export async function pkcs11Backend(trial: Trial): Promise<SoftHsmSetup & { backend: string }> {
  const backend = trial.namespace;
  const setup = await setUpSoftHsmBackend(backend, { namespace: trial.namespace });
  trial.onCleanup(() => setup.cleanup());
  trial.watchBackend(pkcs11Inventory(setup.softhsm, setup.token, trial));
  return { ...setup, backend };
}
