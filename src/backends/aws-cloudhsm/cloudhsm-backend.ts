// KeyBackend over an AWS CloudHSM cluster: keys through the CloudHSM PKCS#11 library (the PKCS#11 backend with the
// cloudhsm vendor profile: unique labels, CKA_PRIVATE on public keys, `user:password` logins), health from the
// cluster API as well (state, HSMs, Availability Zones, backups). The versions it reports are on the cluster, not on
// the token the library presents, so that a KeyBackend pointed at another cluster is noticed.

import type { KeyUsage } from '../algorithms.ts';
import type {
  BackendCapabilities,
  BackendHealth,
  BackendTarget,
  CallOptions,
  CreateResult,
  DestroyRequest,
  DestroyResult,
  KeyBackend,
  KeySpec,
  ObservedVersion,
  SignInput,
  SignOptions,
} from '../backend.ts';
import type { KeyIdentity } from '../identity.ts';
import type { PublicKeyInfo } from '../public-key.ts';
import type { CloudHsmClusterClient } from './cluster-client.ts';

export class AwsCloudHsmBackend implements KeyBackend {
  readonly type = 'awsCloudHSM';
  readonly target: BackendTarget;
  readonly #keys: KeyBackend;
  readonly #cluster: CloudHsmClusterClient;

  /** `keys` is the PKCS#11 backend connected through the CloudHSM library; both are closed with this one. */
  constructor(region: string, cluster: CloudHsmClusterClient, keys: KeyBackend) {
    this.#cluster = cluster;
    this.#keys = keys;
    this.target = {
      id: `aws-cloudhsm:${region}/${cluster.clusterId}`,
      description: `CloudHSM cluster ${cluster.clusterId} in ${region}`,
    };
  }

  capabilities(): BackendCapabilities {
    // Recovery backups are not offered through CloudHSM: its wrapping rules (trusted keys, CKA_WRAP_TEMPLATE) have
    // not been tried against a real cluster.
    return { ...this.#keys.capabilities(), recoveryWrap: false };
  }

  async health(options?: CallOptions): Promise<BackendHealth> {
    const cluster = await this.#cluster.health(options);
    const keys = await this.#keys.health(options);
    const { hsmType, ...clusterInfo } = cluster.info;
    return {
      info: {
        ...keys.info,
        ...clusterInfo,
        model: hsmType === undefined ? keys.info.model : `${keys.info.model} (${hsmType})`,
      },
      warnings: [...cluster.warnings, ...keys.warnings],
    };
  }

  async observe(identity: KeyIdentity, options?: CallOptions): Promise<ObservedVersion | undefined> {
    const observed = await this.#keys.observe(onToken(identity), options);
    return observed && this.#onCluster(observed);
  }

  async versions(identity: KeyIdentity, options?: CallOptions): Promise<ObservedVersion[]> {
    return (await this.#keys.versions(onToken(identity), options)).map((v) => this.#onCluster(v));
  }

  async create(identity: KeyIdentity, spec: KeySpec, options?: CallOptions): Promise<CreateResult> {
    const result = await this.#keys.create(onToken(identity), spec, options);
    return { ...result, version: this.#onCluster(result.version) };
  }

  publicKey(identity: KeyIdentity, options?: CallOptions): Promise<PublicKeyInfo> {
    return this.#keys.publicKey(onToken(identity), options);
  }

  sign(identity: KeyIdentity, input: SignInput, options?: SignOptions & CallOptions): Promise<Buffer> {
    return this.#keys.sign(onToken(identity), input, options);
  }

  verify(
    identity: KeyIdentity,
    input: SignInput,
    signature: Buffer,
    options?: SignOptions & CallOptions,
  ): Promise<boolean> {
    return this.#keys.verify(onToken(identity), input, signature, options);
  }

  setUsages(identity: KeyIdentity, usages: readonly KeyUsage[], options?: CallOptions): Promise<void> {
    return this.#keys.setUsages(onToken(identity), usages, options);
  }

  destroy(identity: KeyIdentity, request: DestroyRequest): Promise<DestroyResult> {
    return this.#keys.destroy(onToken(identity), request);
  }

  refresh(options?: CallOptions): Promise<void> {
    return this.#keys.refresh(options);
  }

  async close(): Promise<void> {
    this.#cluster.close();
    await this.#keys.close();
  }

  #onCluster(version: ObservedVersion): ObservedVersion {
    return { ...version, target: this.target.id };
  }
}

/** The identity as the PKCS#11 backend sees it: the recorded target is the cluster, which that backend does not know. */
function onToken({ target: _cluster, ...identity }: KeyIdentity): KeyIdentity {
  return identity;
}
