// HTTP and TCP faults in front of a cloud peer while keys are generated and rotated: the Key Vault peer (429 and 500
// with Retry-After from the peer; resets and frozen or stalled connections from a TCP proxy, TLS passing through),
// moto's KMS (429, 500, a response lost after the work was done, resets and requests never answered, from the HTTP
// fault proxy), the Cloud KMS gRPC peer (resets and stalls from a TCP proxy). The operator runs in this process
// (the peers do too); nothing is killed, the faults stop, and the world must settle.
import { setTimeout as sleep } from 'node:timers/promises';
import type { KeyBackendObject } from '../../../src/api/v1alpha1/index.ts';
import { keyBackendType } from '../../../src/controllers/keybackend/controller.ts';
import { builtinResources } from '../../../src/kube/resource.ts';
import type { KubeObject } from '../../../src/kube/object.ts';
import { startHttpFaultProxy } from '../../fixtures/http-fault-proxy.ts';
import type { Fault } from '../../fixtures/http-fault-proxy.ts';
import { startTcpProxy } from '../../fixtures/tcp-proxy.ts';
import type { TcpProxy } from '../../fixtures/tcp-proxy.ts';
import { peerSpec } from '../../support/gcp-kms-peer.ts';
import { MOTO_CREDENTIALS_FILE } from '../../support/moto.ts';
import { startTestOperator } from '../../support/operator.ts';
import { awsInventory, gcpInventory, keyVaultInventory } from '../inventory.ts';
import type { Scenario } from '../scenario.ts';
import { randomKey } from '../scenario.ts';
import type { Trial } from '../trial.ts';

const AWS_REGION = 'eu-west-1';

type Injector = () => Promise<string>;

function secret(namespace: string, name: string, key: string, value: Buffer): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    data: { [key]: value.toString('base64') },
  } as KubeObject;
}

/** TCP faults: every connection reset, or open ones frozen and new ones stalled for a while (timeouts). */
function tcpFaults(trial: Trial, proxy: TcpProxy): Injector[] {
  return [
    () => {
      proxy.cut();
      return Promise.resolve('TCP reset of every connection');
    },
    async () => {
      const ms = trial.prng.int(1_000, 5_000);
      proxy.freezeOpenConnections();
      proxy.stallNew(true);
      await sleep(ms);
      proxy.stallNew(false);
      return `TCP connections frozen and new ones stalled for ${ms} ms`;
    },
  ];
}

export const cloudFaults: Scenario = {
  name: 'cloud-faults',
  summary:
    'HTTP 429/500, lost responses, resets and timeouts in front of a cloud peer during generation and rotation',
  async run(trial, world) {
    const { vault, gcp, moto } = await world.cloud();
    const { client, namespace } = trial;
    await client.create(builtinResources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace },
    });
    const kind = trial.prng.pick(['azureKeyVault', 'awsKMS', 'gcpKMS'] as const);
    trial.note(`backend ${kind}`);
    let spec: Partial<KeyBackendObject['spec']>;
    let faults: Injector[];
    if (kind === 'azureKeyVault') {
      const url = new URL(vault.vaultUrl);
      const proxy = await startTcpProxy(url.hostname, Number(url.port));
      trial.onCleanup(() => proxy.close());
      const principal = {
        tenantId: vault.tenantId,
        clientId: vault.clientId,
        clientSecret: vault.clientSecret,
      };
      await client.create(
        builtinResources.secrets,
        secret(namespace, 'azure-sp', 'sp.json', Buffer.from(JSON.stringify(principal))),
      );
      spec = {
        fipsLevel: 2,
        azureKeyVault: {
          vaultUrl: `https://${proxy.address}`,
          vaultType: 'KeyVault',
          authorityHost: vault.authorityHost,
          disableChallengeResourceVerification: true,
          credentialsSecretRef: { namespace, name: 'azure-sp', key: 'sp.json' },
        },
      };
      faults = [
        ...tcpFaults(trial, proxy),
        () => {
          const [count, status] = [trial.prng.int(1, 4), trial.prng.pick([429, 500, 503])];
          vault.fail(count, status, 1);
          return Promise.resolve(`the vault answers the next ${count} requests ${status}`);
        },
      ];
      trial.watchBackend(keyVaultInventory(vault, trial));
    } else if (kind === 'awsKMS') {
      const proxy = await startHttpFaultProxy(moto.endpoint);
      trial.onCleanup(() => proxy.close());
      await client.create(
        builtinResources.secrets,
        secret(namespace, 'aws', 'credentials', Buffer.from(MOTO_CREDENTIALS_FILE)),
      );
      spec = {
        fipsLevel: 1,
        awsKMS: {
          region: AWS_REGION,
          endpoint: proxy.endpoint,
          credentialsSecretRef: { namespace, name: 'aws', key: 'credentials' },
        },
      };
      const kinds: { what: string; fault: Fault }[] = [
        {
          what: '429 ThrottlingException',
          fault: { status: 400, type: 'ThrottlingException', message: 'Rate exceeded' },
        },
        {
          what: '500 KMSInternalException',
          fault: { status: 500, type: 'KMSInternalException', message: 'internal' },
        },
        { what: 'a lost response', fault: { lose: true } },
        { what: 'a connection reset', fault: { drop: 'reset' } },
        { what: 'no answer (a timeout)', fault: { drop: 'hang' } },
      ];
      faults = [
        () => {
          const { what, fault } = trial.prng.pick(kinds);
          const [count, operation] = [
            trial.prng.int(1, 3),
            trial.prng.pick(['*', 'CreateKey', 'TagResource', 'ListKeys', 'DescribeKey']),
          ];
          proxy.fail(operation, fault, count);
          return Promise.resolve(`KMS ${operation}: ${what} x${count}`);
        },
      ];
      trial.watchBackend(awsInventory(moto.endpoint, AWS_REGION, trial));
    } else {
      const proxy = await startTcpProxy('127.0.0.1', gcp.port);
      trial.onCleanup(() => proxy.close());
      const ring = { project: 'keyward-test', location: 'europe-west1', keyRing: namespace };
      spec = { fipsLevel: 1, gcpKMS: { ...peerSpec(gcp, namespace), endpoint: `http://${proxy.address}` } };
      faults = tcpFaults(trial, proxy);
      trial.watchBackend(gcpInventory(gcp, ring, trial));
    }
    const backend = namespace;
    await client.create(keyBackendType, {
      apiVersion: 'keyward.io/v1alpha1',
      kind: 'KeyBackend',
      metadata: { name: backend },
      spec: { healthCheckInterval: '10s', ...spec },
    } as KeyBackendObject);
    trial.onCleanup(() => client.delete(keyBackendType, backend, undefined).catch(() => undefined));
    const operator = await startTestOperator(client, namespace);
    trial.onCleanup(() => operator.stop());

    const storm = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        await sleep(trial.prng.int(0, 1_500));
        trial.note(await trial.prng.pick(faults)());
      }
    };
    const algorithm = { algorithm: 'EC_P256' as const, usages: ['sign' as const, 'verify' as const] };
    await trial.createKey(
      randomKey(trial, 'rotating', backend, {
        ...algorithm,
        rotation: { period: '8760h', trigger: 't0', retainVersions: 2 },
      }),
    );
    if (trial.prng.chance(0.5)) await trial.createKey(randomKey(trial, 'second', backend, algorithm));
    await storm(trial.prng.int(2, 5));
    await trial.keyReady('rotating', undefined, 180_000);
    await trial.patchKey('rotating', { spec: { rotation: { trigger: 't1' } } });
    await storm(trial.prng.int(2, 5));
  },
};
