// A token that goes away and comes back (a network HSM's partition restarting, a USB token pulled and plugged in
// again; here SoftHSM2's token directory moved away and back) is found again at the next health check, and the keys
// asked for meanwhile are made. Found by the chaos scenario token-unavailable: TokenNotFound was held until the
// KeyBackend changed, so the operator never looked again.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import type { KeyBackendObject, ManagedKeyObject } from '../../../src/api/v1alpha1/index.ts';
import { keyBackendType } from '../../../src/controllers/keybackend/controller.ts';
import { managedKeyType } from '../../../src/controllers/managedkey/names.ts';
import { baseArgs, mainPath, startOperator } from '../../fixtures/operator-process.ts';
import type { OperatorProcess } from '../../fixtures/operator-process.ts';
import { managedKeyManifest, setUpSoftHsmBackend } from '../../support/keyward.ts';
import type { SoftHsmSetup } from '../../support/keyward.ts';
import { eventually } from '../../support/operator.ts';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `outage-${RUN}`;
const BACKEND = `outage-${RUN}`;

let setup: SoftHsmSetup;
let operator: OperatorProcess;

before(async () => {
  setup = await setUpSoftHsmBackend(BACKEND, { namespace: NAMESPACE }); // its SOFTHSM2_CONF reaches the operator
  // A process of its own: SoftHSM2 scans its token directory when the module is initialized, so the module must be
  // this operator's alone to be initialized again.
  operator = startOperator('outage', [...baseArgs(setup.kubeconfigPath, NAMESPACE), '--leader-elect=false'], {
    script: mainPath,
  });
});

after(async () => {
  operator.child.kill('SIGTERM');
  await operator.exited;
  await setup.cleanup();
});

const ready = (object: {
  status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
}) => object.status?.conditions?.find((c) => c.type === 'Ready');

it('a token that disappears and comes back is used again without a change to the KeyBackend', async () => {
  const { client, softhsm } = setup;
  const key = (name: string) => client.get<ManagedKeyObject>(managedKeyType, name, NAMESPACE);
  await client.create(
    managedKeyType,
    managedKeyManifest('before', NAMESPACE, { backendRef: { name: BACKEND } }),
  );
  await eventually('before Ready', async () => ready(await key('before'))?.status === 'True', 60_000);

  const tokens = join(softhsm.dir, 'tokens');
  const [tokenDir = ''] = readdirSync(tokens);
  renameSync(join(tokens, tokenDir), join(softhsm.dir, 'away'));
  const lost = await eventually(
    'the KeyBackend not Ready',
    async () => {
      const condition = ready(await client.get<KeyBackendObject>(keyBackendType, BACKEND));
      return condition?.status === 'False' ? condition : undefined;
    },
    60_000,
  );
  await client.create(
    managedKeyType,
    managedKeyManifest('during', NAMESPACE, { backendRef: { name: BACKEND } }),
  );
  // Past a health check with the token gone (10 s): the connection was given up and reopened, finding no token.
  await eventually(
    'TokenNotFound',
    async () =>
      ready(await client.get<KeyBackendObject>(keyBackendType, BACKEND))?.reason === 'TokenNotFound',
    60_000,
  );
  renameSync(join(softhsm.dir, 'away'), join(tokens, tokenDir));

  await eventually(
    'the KeyBackend Ready again',
    async () => ready(await client.get<KeyBackendObject>(keyBackendType, BACKEND))?.status === 'True',
    60_000,
  );
  const made = await eventually('during Ready', async () => {
    const object = await key('during');
    return ready(object)?.status === 'True' ? object : undefined;
  });
  assert.equal(made.status?.currentVersion, 1);
  assert.ok(lost.message.length > 0, 'the outage was reported with a message');
  const privateKeys = softhsm
    .listObjects(setup.token)
    .filter((o) => o.kind === 'Private Key' && o.label.startsWith(`${NAMESPACE}/`));
  assert.deepEqual(privateKeys.map((o) => o.label).sort(), [
    `${NAMESPACE}/before/v1`,
    `${NAMESPACE}/during/v1`,
  ]);
});
