// Client-side helpers shared by the local run (scripts/run.ts) and the tests: server-side apply, manifest loading,
// CRD installation.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ApiextensionsV1Api, KubernetesObjectApi, PatchStrategy, loadAllYaml } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { CRD_DIR, renderCrdFiles } from './crds.ts';

const FIELD_MANAGER = 'keyward-dev';

/** Every object in the YAML files of a folder, files in name order. */
export async function loadManifests(dir: string): Promise<{ file: string; object: KubernetesObject }[]> {
  const manifests = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const object of loadAllYaml(
      await readFile(path.join(dir, file), 'utf8'),
    ) as (KubernetesObject | null)[]) {
      if (object) manifests.push({ file, object });
    }
  }
  return manifests;
}

/** What server-side apply needs of an object; Keyward's own types carry timestamps as strings, as JSON does. */
export interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
}

/** Server-side apply, as `kubectl apply --server-side --force-conflicts` does. */
export async function apply(
  kubeConfig: KubeConfig,
  object: Manifest,
  options: { dryRun?: boolean } = {},
): Promise<KubernetesObject> {
  return KubernetesObjectApi.makeApiClient(kubeConfig).patch<KubernetesObject>(
    object,
    undefined,
    options.dryRun ? 'All' : undefined,
    FIELD_MANAGER,
    true,
    PatchStrategy.ServerSideApply,
  );
}

/** Installs the CRDs exactly as generated from src/api and waits until the API server serves them. */
export async function installCrds(kubeConfig: KubeConfig, timeoutMs = 30_000): Promise<void> {
  const crds = [...renderCrdFiles()]
    .filter(([file]) => file.startsWith(`${CRD_DIR}/`))
    .flatMap(([, yaml]) => loadAllYaml(yaml) as KubernetesObject[]);
  for (const crd of crds) await apply(kubeConfig, crd);
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    for (;;) {
      const { status } = await api.readCustomResourceDefinition({ name });
      if (status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline)
        throw new Error(`CRD ${name} was not established within ${timeoutMs / 1000}s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
