// What every trial of a run shares: the control plane with the CRDs, the people of the ceremonies (their keys made
// once by openssl), and the cloud peers, started the first time a trial needs them.
import { installCrds } from '../../scripts/cluster.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { startGcpKmsPeer } from '../support/gcp-kms-peer.ts';
import type { GcpKmsPeer } from '../support/gcp-kms-peer.ts';
import { startKeyVaultPeer } from '../support/keyvault-peer/server.ts';
import type { KeyVaultPeer } from '../support/keyvault-peer/server.ts';
import { testCluster } from '../support/kube.ts';
import { startMoto } from '../support/moto.ts';
import type { Moto } from '../support/moto.ts';
import { OpenSsl } from '../support/openssl.ts';

export const CUSTODIANS = ['alice', 'bob', 'carol', 'dave', 'erin'] as const;
export const WITNESS = 'walter';

export interface CloudPeers {
  readonly vault: KeyVaultPeer;
  readonly gcp: GcpKmsPeer;
  readonly moto: Moto;
}

export class World {
  readonly client: KubeClient;
  readonly kubeconfig: string;
  #openssl: { openssl: OpenSsl; publicKeys: Record<string, string> } | undefined;
  #cloud: Promise<CloudPeers> | undefined;

  private constructor(client: KubeClient, kubeconfig: string) {
    this.client = client;
    this.kubeconfig = kubeconfig;
  }

  static async open(): Promise<World> {
    const { client, kubeconfigPath } = await testCluster();
    await installCrds(client);
    return new World(client, kubeconfigPath);
  }

  /** openssl as the ceremonies' people, with their EC P-256 keys. */
  people(): { openssl: OpenSsl; publicKeys: Record<string, string> } {
    if (!this.#openssl) {
      const openssl = new OpenSsl();
      const publicKeys: Record<string, string> = {};
      for (const name of [...CUSTODIANS, WITNESS]) publicKeys[name] = openssl.keygen(name, 'ec-p256');
      this.#openssl = { openssl, publicKeys };
    }
    return this.#openssl;
  }

  cloud(): Promise<CloudPeers> {
    this.#cloud ??= (async () => {
      const [vault, gcp, moto] = await Promise.all([
        startKeyVaultPeer({ kind: 'vault' }),
        startGcpKmsPeer({ pendingGenerationMs: 300 }),
        startMoto(),
      ]);
      return { vault, gcp, moto };
    })();
    return this.#cloud;
  }

  async close(): Promise<void> {
    this.#openssl?.openssl.remove();
    if (this.#cloud) {
      const { vault, gcp, moto } = await this.#cloud;
      await Promise.all([vault.stop(), gcp.stop(), moto.stop()]);
    }
  }
}
