// Client-side helpers shared by the local run (scripts/run.ts) and the tests: manifest loading, server-side apply
// and CRD installation. Objects go to the API server as plain JSON, as written (a typed serializer such as
// client-node's would drop schema keywords such as `enum` and `x-kubernetes-validations` from a CRD).
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import { resourceTypeOf, builtinResources, resourcePath } from '../src/kube/resource.ts';
import type { ResourceType } from '../src/kube/resource.ts';
import type { KubeClient } from '../src/kube/client.ts';
import type { KubeObject } from '../src/kube/object.ts';
import { isNotFound } from '../src/kube/errors.ts';
import { RESOURCES } from '../src/api/v1alpha1/index.ts';
import { CRD_DIR, renderCrdFiles } from './crds.ts';

const FIELD_MANAGER = 'keyward-dev';

/** The kinds a manifest here may contain: Kubernetes' own that Keyward uses, and Keyward's. */
const KNOWN_RESOURCES: readonly ResourceType[] = [
  ...Object.values(builtinResources),
  ...RESOURCES.map((resource) => resourceTypeOf(resource)),
];

/** What server-side apply needs of an object. */
export interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
}

function resourceOf(manifest: Manifest): ResourceType {
  const resource = KNOWN_RESOURCES.find(
    (r) =>
      r.kind === manifest.kind &&
      (r.group === '' ? r.version : `${r.group}/${r.version}`) === manifest.apiVersion,
  );
  if (!resource)
    throw new Error(`no resource known for ${manifest.apiVersion ?? '?'} ${manifest.kind ?? '?'}`);
  return resource;
}

/** Every object in the YAML files of a folder, files in name order. */
export async function loadManifests(dir: string): Promise<{ file: string; object: Manifest }[]> {
  const manifests = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const object of loadAll(await readFile(path.join(dir, file), 'utf8')) as (Manifest | null)[]) {
      if (object) manifests.push({ file, object });
    }
  }
  return manifests;
}

/** Server-side apply, as `kubectl apply --server-side --force-conflicts` does. */
export async function apply(
  client: KubeClient,
  object: Manifest,
  options: { dryRun?: boolean } = {},
): Promise<KubeObject> {
  const { name, namespace } = object.metadata ?? {};
  return client.request<KubeObject>('PATCH', resourcePath(resourceOf(object), { name, namespace }), {
    body: object,
    contentType: 'application/apply-patch+yaml',
    query: { fieldManager: FIELD_MANAGER, force: true, dryRun: options.dryRun ? 'All' : undefined },
  });
}

/** Deletes an object; one that is already gone is fine. */
export async function remove(client: KubeClient, object: Manifest): Promise<void> {
  const { name = '', namespace } = object.metadata ?? {};
  await client.delete(resourceOf(object), name, namespace).catch((error: unknown) => {
    if (!isNotFound(error)) throw error;
  });
}

/** Installs the CRDs exactly as generated from src/api and waits until the API server serves them. */
export async function installCrds(client: KubeClient, timeoutMs = 30_000): Promise<void> {
  const crds = [...renderCrdFiles()]
    .filter(([file]) => file.startsWith(`${CRD_DIR}/`))
    .flatMap(([, yaml]) => loadAll(yaml) as Manifest[]);
  for (const crd of crds) await apply(client, crd);
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    for (;;) {
      const current = await client.get<
        KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
      >(builtinResources.customResourceDefinitions, name);
      if (current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline)
        throw new Error(`CRD ${name} was not established within ${timeoutMs / 1000}s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
