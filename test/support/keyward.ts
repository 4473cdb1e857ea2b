// What every controller test sets up: a namespace of its own, a SoftHSM2 token with its PIN in a Secret there, and
// a KeyBackend for the token; and the manifests of KeyBackends and ManagedKeys.
import { installCrds, remove } from '../../scripts/cluster.ts';
import type { KeyBackendObject, ManagedKeyObject } from '../../src/api/v1alpha1/index.ts';
import { keyBackendType } from '../../src/controllers/keybackend/controller.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import type { KubeObject } from '../../src/kube/object.ts';
import { builtinResources } from '../../src/kube/resource.ts';
import { testCluster } from './kube.ts';
import { recordTestSecret } from './test-secrets.ts';
import { SOFTHSM_MODULE, SoftHsm } from './softhsm.ts';
import type { SoftHsmToken } from './softhsm.ts';

export const PIN_SECRET = 'hsm-pin';

export interface KeyBackendOptions {
  namespace: string;
  token: SoftHsmToken;
  fipsLevel?: number;
  secretName?: string;
  /** Overrides of spec.pkcs11 (a module or token that does not exist, say). */
  pkcs11?: Partial<NonNullable<KeyBackendObject['spec']['pkcs11']>>;
}

export function keyBackendManifest(name: string, options: KeyBackendOptions): KeyBackendObject {
  return {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'KeyBackend',
    metadata: { name },
    spec: {
      fipsLevel: options.fipsLevel ?? 1,
      healthCheckInterval: '10s',
      pkcs11: {
        modulePath: SOFTHSM_MODULE,
        vendor: 'softhsm2',
        token: { label: options.token.label },
        pinSecretRef: { namespace: options.namespace, name: options.secretName ?? PIN_SECRET, key: 'pin' },
        maxSessions: 4,
        ...options.pkcs11,
      },
    },
  };
}

export function managedKeyManifest(
  name: string,
  namespace: string,
  spec: Partial<ManagedKeyObject['spec']> & Pick<ManagedKeyObject['spec'], 'backendRef'>,
): KubeObject {
  return {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'ManagedKey',
    metadata: { name, namespace },
    spec: { algorithm: 'EC_P256', usages: ['sign', 'verify'], ...spec },
  } as KubeObject;
}

export function pinSecret(namespace: string, name: string, pin: string): KubeObject {
  recordTestSecret(pin, `PIN in Secret ${namespace}/${name}`);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    data: { pin: Buffer.from(pin).toString('base64') },
  } as KubeObject;
}

export interface SoftHsmSetup {
  client: KubeClient;
  kubeconfigPath: string;
  softhsm: SoftHsm;
  token: SoftHsmToken;
  /** Removes the KeyBackend and the token directory. */
  cleanup(): Promise<void>;
}

/**
 * The control plane with the CRDs, a token (SOFTHSM2_CONF now points at it, for this process and the operators
 * it starts), the namespace with the PIN Secret, and a KeyBackend called `backend` for the token.
 */
export async function setUpSoftHsmBackend(
  backend: string,
  options: Omit<KeyBackendOptions, 'token'>,
): Promise<SoftHsmSetup> {
  const { client, kubeconfigPath } = await testCluster();
  await installCrds(client);
  const softhsm = SoftHsm.create();
  const token = softhsm.initToken(backend);
  await client.create(builtinResources.namespaces, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: options.namespace },
  });
  await client.create(builtinResources.secrets, pinSecret(options.namespace, PIN_SECRET, token.pin));
  await client.create(keyBackendType, keyBackendManifest(backend, { ...options, token }));
  return {
    client,
    kubeconfigPath,
    softhsm,
    token,
    cleanup: async () => {
      await remove(client, {
        apiVersion: 'keyward.io/v1alpha1',
        kind: 'KeyBackend',
        metadata: { name: backend },
      });
      softhsm.cleanup();
    },
  };
}
