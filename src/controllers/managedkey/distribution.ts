// Publishes a ManagedKey's usable public keys to the ConfigMap its spec names, owned by the ManagedKey so that it
// goes when the key goes. A ConfigMap of that name that Keyward does not own is never overwritten.
import type { KeyVersion, ManagedKeyObject } from '../../api/v1alpha1/managedkey.ts';
import type { KeyBackend } from '../../backends/backend.ts';
import type { ApiAccess } from '../../kube/access.ts';
import type { KubeClient } from '../../kube/client.ts';
import { isAlreadyExists } from '../../kube/errors.ts';
import type { KubeObject } from '../../kube/object.ts';
import { builtinResources } from '../../kube/resource.ts';
import type { Informer } from '../../runtime/informer.ts';
import { deepEqual } from '../../runtime/status.ts';
import { publicKeyData } from './public-keys.ts';
import { keyIdentity, usableVersions } from './versions.ts';

export interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/** The label on every ConfigMap Keyward writes; the operator only watches ConfigMaps that carry it. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'keyward';

/** What became of the distribution: a Distributed condition. */
/** The public-key ConfigMaps: read by name, created, replaced; never deleted (their ownerReference does that). */
export const distributionAccess: ApiAccess = {
  resource: builtinResources.configMaps,
  verbs: ['get', 'create', 'update'],
};

export interface DistributionResult {
  status: 'True' | 'False';
  reason: string;
  message: string;
}

/** Public keys by version identity, read from the backend once per process: they never change for a version. */
export class PublicKeyCache {
  readonly #spki = new Map<string, Buffer>();

  async get(backend: KeyBackend, key: ManagedKeyObject, version: KeyVersion): Promise<Buffer> {
    const id = `${key.metadata.uid ?? ''}/${version.version}`;
    let spki = this.#spki.get(id);
    if (!spki) {
      const publicKey = await backend.publicKey(keyIdentity(key, version.version, version));
      // The fingerprint recorded at generation is checked before the key is handed to anyone.
      if (publicKey.fingerprint !== version.fingerprint) {
        throw new FingerprintMismatchError(
          `version ${version.version} in the backend has fingerprint ${publicKey.fingerprint}, not the ${version.fingerprint ?? '(none)'} recorded when it was generated`,
        );
      }
      spki = publicKey.spki;
      this.#spki.set(id, spki);
    }
    return spki;
  }

  forget(key: ManagedKeyObject): void {
    const prefix = `${key.metadata.uid ?? ''}/`;
    for (const id of this.#spki.keys()) if (id.startsWith(prefix)) this.#spki.delete(id);
  }
}

export class FingerprintMismatchError extends Error {
  override name = 'FingerprintMismatchError';
}

function ownerReference(key: ManagedKeyObject) {
  return {
    apiVersion: key.apiVersion,
    kind: key.kind,
    name: key.metadata.name ?? '',
    uid: key.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

export async function distributePublicKeys(
  key: ManagedKeyObject,
  versions: readonly KeyVersion[],
  deps: {
    backend: KeyBackend;
    client: KubeClient;
    configMaps: Informer<ConfigMap>;
    publicKeys: PublicKeyCache;
  },
): Promise<DistributionResult> {
  const name = key.spec.distribution?.publicKey?.configMapName;
  const namespace = key.metadata.namespace ?? '';
  if (!name) return { status: 'False', reason: 'NotConfigured', message: 'no distribution is configured' };

  const published = [];
  for (const version of usableVersions(versions)) {
    const spki = await deps.publicKeys.get(deps.backend, key, version);
    published.push({ version: version.version, spki, current: version.state === 'Active' });
  }
  const data = publicKeyData(key.spec.algorithm, key.spec.usages, published);

  const existing = deps.configMaps.get(namespace, name) ?? (await create(key, name, data, deps.client));
  if (!existing) return publishedResult(namespace, name, published.length);
  const owned = existing.metadata.ownerReferences?.some((ref) => ref.uid === key.metadata.uid) ?? false;
  if (!owned) return notOwned(namespace, name);
  if (!deepEqual(existing.data ?? {}, data)) {
    await deps.client.replace<ConfigMap>(builtinResources.configMaps, { ...existing, data });
  }
  return publishedResult(namespace, name, published.length);
}

/** Creates the ConfigMap; if one of that name exists already (not yet in the cache, or not ours), returns it. */
async function create(
  key: ManagedKeyObject,
  name: string,
  data: Record<string, string>,
  client: KubeClient,
): Promise<ConfigMap | undefined> {
  const namespace = key.metadata.namespace ?? '';
  try {
    await client.create<ConfigMap>(builtinResources.configMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        namespace,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
        ownerReferences: [ownerReference(key)],
      },
      data,
    });
    return undefined;
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    return client.get<ConfigMap>(builtinResources.configMaps, name, namespace);
  }
}

function publishedResult(namespace: string, name: string, count: number): DistributionResult {
  return {
    status: 'True',
    reason: 'Published',
    message: `${count} public key${count === 1 ? '' : 's'} published in ConfigMap ${namespace}/${name}`,
  };
}

function notOwned(namespace: string, name: string): DistributionResult {
  return {
    status: 'False',
    reason: 'ConfigMapNotOwned',
    message: `ConfigMap ${namespace}/${name} exists and is not managed by this ManagedKey; choose another name or delete it`,
  };
}
