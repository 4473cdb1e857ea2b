// The operator killed (SIGKILL, through a failpoint) between generating a key and recording it in status: the next
// operator adopts the key it finds under the derived identity instead of generating a second one.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { installCrds } from '../../../scripts/cluster.ts';
import type { ManagedKeyObject } from '../../../src/api/v1alpha1/index.ts';
import { keyBackendType } from '../../../src/controllers/keybackend/controller.ts';
import { managedKeyType } from '../../../src/controllers/managedkey/controller.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import type { KubeObject } from '../../../src/kube/object.ts';
import { builtinResources } from '../../../src/kube/resource.ts';
import { baseArgs, mainPath, startOperator } from '../../fixtures/operator-process.ts';
import type { OperatorProcess } from '../../fixtures/operator-process.ts';
import { testCluster } from '../../support/kube.ts';
import { eventually } from '../../support/operator.ts';
import { SOFTHSM_MODULE, SoftHsm } from '../../support/softhsm.ts';
import type { SoftHsmToken } from '../../support/softhsm.ts';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `crash-${RUN}`;

let client: KubeClient;
let kubeconfig: string;
let softhsm: SoftHsm;
let token: SoftHsmToken;
const operators: OperatorProcess[] = [];

function operator(name: string, failpoints = ''): OperatorProcess {
  const started = startOperator(name, baseArgs(kubeconfig, NAMESPACE), {
    script: mainPath,
    env: { ...process.env, KEYWARD_FAILPOINTS: failpoints },
  });
  operators.push(started);
  return started;
}

before(async () => {
  ({ client, kubeconfigPath: kubeconfig } = await testCluster());
  await installCrds(client);
  softhsm = SoftHsm.create(); // sets SOFTHSM2_CONF, which the operators inherit
  token = softhsm.initToken(`crash-${RUN}`);
  await client.create(builtinResources.namespaces, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NAMESPACE },
  });
  await client.create(builtinResources.secrets, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'pin', namespace: NAMESPACE },
    data: { pin: Buffer.from(token.pin).toString('base64') },
  } as KubeObject);
  await client.create(keyBackendType, {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'KeyBackend',
    metadata: { name: `crash-${RUN}` },
    spec: {
      fipsLevel: 1,
      healthCheckInterval: '10s',
      pkcs11: {
        modulePath: SOFTHSM_MODULE,
        vendor: 'softhsm2',
        token: { label: token.label },
        pinSecretRef: { namespace: NAMESPACE, name: 'pin', key: 'pin' },
        maxSessions: 2,
      },
    },
  } as KubeObject);
});

after(async () => {
  for (const started of operators) started.child.kill('SIGKILL');
  await Promise.all(operators.map((started) => started.exited));
  softhsm.cleanup();
});

it('a key generated just before a crash is adopted, not generated again', async () => {
  const crashing = operator('crashing', 'managedkey-after-generate');
  await client.create(managedKeyType, {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'ManagedKey',
    metadata: { name: 'survivor', namespace: NAMESPACE },
    spec: { backendRef: { name: `crash-${RUN}` }, algorithm: 'EC_P256', usages: ['sign', 'verify'] },
  } as KubeObject);
  const { signal } = await crashing.exited;
  assert.equal(signal, 'SIGKILL');

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
});
