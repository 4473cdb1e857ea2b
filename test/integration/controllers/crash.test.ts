// The operator killed (SIGKILL, through a failpoint) between generating a key and recording it in status: the next
// operator adopts the key it finds under the derived identity instead of generating a second one.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ManagedKeyObject } from '../../../src/api/v1alpha1/index.ts';
import { managedKeyType } from '../../../src/controllers/managedkey/controller.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import type { KubeObject } from '../../../src/kube/object.ts';
import { builtinResources } from '../../../src/kube/resource.ts';
import { baseArgs, mainPath, startOperator } from '../../fixtures/operator-process.ts';
import type { OperatorProcess } from '../../fixtures/operator-process.ts';
import { eventually } from '../../support/operator.ts';
import type { SoftHsm } from '../../support/softhsm.ts';
import { setUpSoftHsmBackend } from '../../support/keyward.ts';
import type { SoftHsmSetup } from '../../support/keyward.ts';
import type { SoftHsmToken } from '../../support/softhsm.ts';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `crash-${RUN}`;
const BACKEND = `crash-${RUN}`;

let client: KubeClient;
let kubeconfig: string;
let softhsm: SoftHsm;
let token: SoftHsmToken;
const operators: OperatorProcess[] = [];

function operator(name: string, failpoints = ''): OperatorProcess {
  // One operator at a time, each after one that was killed: with leader election each would first wait for the
  // dead one's Lease to expire (15 s).
  const started = startOperator(name, [...baseArgs(kubeconfig, NAMESPACE), '--leader-elect=false'], {
    script: mainPath,
    env: { ...process.env, KEYWARD_FAILPOINTS: failpoints },
  });
  operators.push(started);
  return started;
}

let setup: SoftHsmSetup;
before(async () => {
  setup = await setUpSoftHsmBackend(BACKEND, { namespace: NAMESPACE }); // its SOFTHSM2_CONF reaches the operators
  ({ client, kubeconfigPath: kubeconfig, softhsm, token } = setup);
});

/** Stops every operator this file started (two at once would race each other to the work). */
async function stopAll(): Promise<void> {
  for (const started of operators) started.child.kill('SIGTERM');
  await Promise.all(operators.map((started) => started.exited));
}

/** How a crashing operator ended, or a failure if it never reached its failpoint. */
async function crashOf(started: OperatorProcess): Promise<NodeJS.Signals | null> {
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => {
      reject(new Error(`${started.name} did not reach its failpoint within 60s`));
    }, 60_000).unref(),
  );
  return (await Promise.race([started.exited, timeout])).signal;
}

after(async () => {
  await stopAll();
  await setup.cleanup();
});

it('a key generated just before a crash is adopted, not generated again', async () => {
  const crashing = operator('crashing', 'managedkey-after-generate');
  await client.create(managedKeyType, {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'ManagedKey',
    metadata: { name: 'survivor', namespace: NAMESPACE },
    spec: { backendRef: { name: BACKEND }, algorithm: 'EC_P256', usages: ['sign', 'verify'] },
  } as KubeObject);
  assert.equal(await crashOf(crashing), 'SIGKILL');

  const label = `${NAMESPACE}/survivor/v1`;
  const privateKeys = () =>
    softhsm.listObjects(token).filter((o) => o.label === label && o.kind === 'Private Key');
  assert.equal(privateKeys().length, 1, 'the key was generated before the crash');
  const unrecorded = await client.get<ManagedKeyObject>(managedKeyType, 'survivor', NAMESPACE);
  assert.equal(unrecorded.status?.currentVersion, undefined, 'and the crash came before status recorded it');

  operator('recovering');
  const key = await eventually('the key Ready after the restart', async () => {
    const object = await client.get<ManagedKeyObject>(managedKeyType, 'survivor', NAMESPACE);
    return object.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
      ? object
      : undefined;
  });
  assert.equal(key.status?.currentVersion, 1);
  assert.equal(privateKeys().length, 1, 'exactly one key object after the restart');
  const events = await client.list<KubeObject & { reason?: string }>(builtinResources.events, {
    namespace: NAMESPACE,
  });
  assert.ok(events.items.some((event) => event.reason === 'KeyAdopted'));
  await stopAll();
});

it('a key deleted after a crash during its first generation is disabled, not left live and unrecorded', async () => {
  const crashing = operator('crashing-first', 'managedkey-after-generate');
  await client.create(managedKeyType, {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'ManagedKey',
    metadata: { name: 'rolled-back', namespace: NAMESPACE },
    spec: {
      backendRef: { name: BACKEND },
      algorithm: 'EC_P256',
      usages: ['sign', 'verify'],
      deletionPolicy: 'Disable',
    },
  } as KubeObject);
  assert.equal(await crashOf(crashing), 'SIGKILL');
  const inFlight = await client.get<ManagedKeyObject>(managedKeyType, 'rolled-back', NAMESPACE);
  assert.deepEqual(
    inFlight.status?.versions?.map((v) => `${String(v.version)}:${v.state}`),
    ['1:Generating'],
    'status marked version 1 in flight before the backend made it',
  );
  // Applied and deleted again (a Helm rollback) while no operator runs.
  await client.delete(managedKeyType, 'rolled-back', NAMESPACE);
  operator('cleaning-up');
  await eventually('the ManagedKey gone', async () =>
    (await client.get(managedKeyType, 'rolled-back', NAMESPACE).then(
      () => false,
      () => true,
    ))
      ? true
      : undefined,
  );
  const [privateKey] = softhsm
    .listObjects(token)
    .filter((o) => o.label === `${NAMESPACE}/rolled-back/v1` && o.kind === 'Private Key');
  assert.ok(privateKey, 'the key made before the crash is still in the token (Disable keeps it)');
  assert.ok(!privateKey.usage.includes('sign'), `it can no longer sign: ${privateKey.usage.join(',')}`);
  await stopAll();
});

it('a rotation killed at each step leaves one current version, no lost version and no extra key object', async () => {
  await client.create(managedKeyType, {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'ManagedKey',
    metadata: { name: 'rotating', namespace: NAMESPACE },
    spec: {
      backendRef: { name: BACKEND },
      algorithm: 'EC_P256',
      usages: ['sign', 'verify'],
      rotation: { period: '8760h', trigger: 'step-0', retainVersions: 5 },
    },
  } as KubeObject);
  let steady = operator('steady-0');
  const current = (version: number) =>
    eventually(`version ${version} current and Ready`, async () => {
      const key = await client.get<ManagedKeyObject>(managedKeyType, 'rotating', NAMESPACE);
      const ready = key.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      return key.status?.currentVersion === version && ready ? key : undefined;
    });
  await current(1);

  const steps = ['rotation-after-generate', 'rotation-after-record'];
  for (const [index, step] of steps.entries()) {
    steady.child.kill('SIGTERM');
    await steady.exited;
    const crashing = operator(`crashing-${step}`, step);
    await client.patch(managedKeyType, 'rotating', NAMESPACE, 'merge', {
      spec: { rotation: { trigger: `step-${index + 1}` } },
    });
    assert.equal(await crashOf(crashing), 'SIGKILL', `${step} was reached`);

    steady = operator(`steady-${index + 1}`);
    const key = await current(index + 2);
    const versions = key.status?.versions ?? [];
    assert.deepEqual(
      versions.map((v) => v.version),
      Array.from({ length: index + 2 }, (_, i) => index + 2 - i),
      `${step}: every version recorded, none twice`,
    );
    assert.equal(versions.filter((v) => v.state === 'Active').length, 1, `${step}: one current version`);
    const privateKeys = softhsm
      .listObjects(token)
      .filter((o) => o.kind === 'Private Key' && o.label.startsWith(`${NAMESPACE}/rotating/`));
    assert.equal(privateKeys.length, versions.length, `${step}: one key object per version`);
  }
});
