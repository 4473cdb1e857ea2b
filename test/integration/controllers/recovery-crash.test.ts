// The operator killed (SIGKILL, through a failpoint) at each step of a recovery backup: after the in-token wrap
// (before the ConfigMap), after the ConfigMap (before the seal), and after the seal (before status). After each,
// nothing is marked recoverable that is not, and the next operator finishes with exactly one key, sealed, whose
// backup's shares rebuild the KEK status names.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ManagedKeyObject } from '../../../src/api/v1alpha1/index.ts';
import { activationAuthenticator } from '../../../src/ceremony/activation.ts';
import { combineShares } from '../../../src/ceremony/shares.ts';
import { managedKeyType } from '../../../src/controllers/managedkey/controller.ts';
import { kekSalt, shareKey } from '../../../src/controllers/managedkey/recovery.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import type { KubeObject } from '../../../src/kube/object.ts';
import { builtinResources } from '../../../src/kube/resource.ts';
import { baseArgs, mainPath, startOperator } from '../../fixtures/operator-process.ts';
import type { OperatorProcess } from '../../fixtures/operator-process.ts';
import { OpenSsl } from '../../support/openssl.ts';
import { eventually } from '../../support/operator.ts';
import type { SoftHsm, SoftHsmToken } from '../../support/softhsm.ts';
import { setUpSoftHsmBackend } from '../../support/keyward.ts';
import type { SoftHsmSetup } from '../../support/keyward.ts';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `recovery-crash-${RUN}`;
const BACKEND = `recovery-crash-${RUN}`;
const CUSTODIANS = ['alice', 'bob', 'carol'];

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

let client: KubeClient;
let kubeconfig: string;
let softhsm: SoftHsm;
let token: SoftHsmToken;
let setup: SoftHsmSetup;
const openssl = new OpenSsl();
const publicKeys: Record<string, string> = {};
const operators: OperatorProcess[] = [];

function operator(name: string, failpoints = ''): OperatorProcess {
  const started = startOperator(name, [...baseArgs(kubeconfig, NAMESPACE), '--leader-elect=false'], {
    script: mainPath,
    env: { ...process.env, KEYWARD_FAILPOINTS: failpoints },
  });
  operators.push(started);
  return started;
}

async function stopAll(): Promise<void> {
  for (const started of operators) started.child.kill('SIGTERM');
  await Promise.all(operators.map((started) => started.exited));
}

async function crashOf(started: OperatorProcess): Promise<NodeJS.Signals | null> {
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => {
      reject(new Error(`${started.name} did not reach its failpoint within 60s`));
    }, 60_000).unref(),
  );
  return (await Promise.race([started.exited, timeout])).signal;
}

before(async () => {
  setup = await setUpSoftHsmBackend(BACKEND, { namespace: NAMESPACE });
  ({ client, kubeconfigPath: kubeconfig, softhsm, token } = setup);
  for (const name of CUSTODIANS) publicKeys[name] = openssl.keygen(name, 'ec-p256');
});

after(async () => {
  await stopAll();
  await setup.cleanup();
  openssl.remove();
});

const STEPS = ['recovery-after-wrap', 'recovery-after-configmap', 'managedkey-after-generate'] as const;

for (const [index, step] of STEPS.entries()) {
  it(`a crash at ${step} leaves nothing marked recoverable that is not, and one sealed key after the restart`, async () => {
    const name = `key-${index}`;
    const crashing = operator(`crashing-${index}`, step);
    await client.create(managedKeyType, {
      apiVersion: 'keyward.io/v1alpha1',
      kind: 'ManagedKey',
      metadata: { name, namespace: NAMESPACE },
      spec: {
        backendRef: { name: BACKEND },
        algorithm: 'AES_256',
        usages: ['wrap', 'unwrap'],
        recovery: {
          threshold: 2,
          custodians: CUSTODIANS.map((c) => ({ name: c, publicKey: publicKeys[c] ?? '' })),
        },
      },
    } as KubeObject);
    assert.equal(await crashOf(crashing), 'SIGKILL');

    const label = `${NAMESPACE}/${name}/v1`;
    const objects = () => softhsm.listObjects(token).filter((o) => o.label === label);
    assert.equal(objects().length, 1, 'the key was generated before the crash');
    const crashed = await client.get<ManagedKeyObject>(managedKeyType, name, NAMESPACE);
    const entry = crashed.status?.versions?.[0];
    assert.equal(entry?.state, 'Generating', 'status never recorded the version');
    assert.equal(entry.recovery, undefined, 'nor a backup');
    assert.ok(
      !crashed.status?.conditions?.some((c) => c.type === 'Recoverable' && c.status === 'True'),
      'nothing says recoverable',
    );
    const maps = await client.list<ConfigMap>(builtinResources.configMaps, { namespace: NAMESPACE });
    const backups = maps.items.filter((m) => m.metadata.name?.startsWith(`${name}-recovery-v1-`));
    assert.equal(backups.length, step === 'recovery-after-wrap' ? 0 : 1);
    const sealedBefore = !(objects()[0]?.access ?? []).includes('extractable');
    assert.equal(sealedBefore, step === 'managedkey-after-generate', 'sealed only once the ConfigMap exists');

    const steady = operator(`steady-${index}`);
    const key = await eventually(`${name} recoverable after the restart`, async () => {
      const k = await client.get<ManagedKeyObject>(managedKeyType, name, NAMESPACE);
      return k.status?.conditions?.some((c) => c.type === 'Recoverable' && c.status === 'True')
        ? k
        : undefined;
    });
    const recovery = key.status?.versions?.[0]?.recovery;
    assert.ok(recovery);
    assert.equal(objects().length, 1, 'exactly one key object: never generated twice');
    assert.ok(!(objects()[0]?.access ?? []).includes('extractable'), 'sealed');
    const map = await client.get<ConfigMap>(builtinResources.configMaps, recovery.configMapName, NAMESPACE);
    const shares = ['alice', 'carol'].map((c) => openssl.decryptShare(c, map.data?.[shareKey(c)] ?? ''));
    const kek = await combineShares(shares);
    assert.equal(activationAuthenticator(kek, kekSalt(key, 1), 'recovery'), recovery.kekAuthenticator);
    steady.child.kill('SIGTERM');
    await steady.exited;
  });
}
