// Test access to the local control plane: a client, manifest loading, server-side apply and CRD installation.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import {
  ApiException,
  ApiextensionsV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
} from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';
import { ensureControlPlane } from '../../scripts/testenv/controlplane.ts';
import { renderCrdFiles, CRD_DIR } from '../../scripts/crds.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const FIELD_MANAGER = 'keyward-tests';

export interface TestCluster {
  kubeConfig: KubeConfig;
  objects: KubernetesObjectApi;
  kubeconfigPath: string;
}

/** Starts (or reuses) the local control plane and returns clients for it. */
export async function testCluster(): Promise<TestCluster> {
  const controlPlane = await ensureControlPlane({ log: (line) => console.error(`[testenv] ${line}`) });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(controlPlane.kubeconfig);
  return {
    kubeConfig,
    objects: KubernetesObjectApi.makeApiClient(kubeConfig),
    kubeconfigPath: controlPlane.kubeconfig,
  };
}

/** Every object in the YAML files of a folder, in file order. */
export async function loadManifests(dir: string): Promise<{ file: string; object: KubernetesObject }[]> {
  const manifests = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const object of loadAllYaml(await readFile(path.join(dir, file), 'utf8')) as KubernetesObject[]) {
      if (object) manifests.push({ file, object });
    }
  }
  return manifests;
}

/** Server-side apply, as `kubectl apply --server-side` does. */
export async function apply<T extends KubernetesObject>(cluster: TestCluster, object: T, dryRun = false): Promise<T> {
  return cluster.objects.patch(
    object,
    undefined,
    dryRun ? 'All' : undefined,
    FIELD_MANAGER,
    true,
    PatchStrategy.ServerSideApply,
  );
}

/** Installs the CRDs exactly as generated and waits until the API server serves them. */
export async function installCrds(cluster: TestCluster): Promise<void> {
  const crds = [...renderCrdFiles()]
    .filter(([file]) => file.startsWith(`${CRD_DIR}/`))
    .flatMap(([, yaml]) => loadAllYaml(yaml) as KubernetesObject[]);
  for (const crd of crds) await apply(cluster, crd);
  const api = cluster.kubeConfig.makeApiClient(ApiextensionsV1Api);
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    for (let attempt = 0; ; attempt++) {
      const { status } = await api.readCustomResourceDefinition({ name });
      if (status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (attempt > 100) throw new Error(`CRD ${name} was not established within 10s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** The message of a Kubernetes API error (the Status object's message), or rethrows anything else. */
export function apiErrorMessage(error: unknown): string {
  if (error instanceof ApiException) {
    const body: unknown = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
    return (body as { message?: string }).message ?? String(error.body);
  }
  throw error;
}
