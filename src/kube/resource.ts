// What the generic client and the controller runtime need to know about a resource type: where it lives in
// the REST API and whether it is namespaced.

export interface ResourceType {
  /** API group; '' for the core group. */
  group: string;
  version: string;
  kind: string;
  /** Lower-case plural used in REST paths (configmaps, managedkeys). */
  plural: string;
  namespaced: boolean;
}

export function apiVersionOf(resource: ResourceType): string {
  return resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
}

export function describeResource(resource: ResourceType): string {
  return resource.group === '' ? resource.plural : `${resource.plural}.${resource.group}`;
}

/**
 * The REST path of a collection (no name) or an object. For a namespaced resource without a namespace,
 * the collection path spans all namespaces.
 */
export function resourcePath(
  resource: ResourceType,
  target: {
    namespace?: string | undefined;
    name?: string | undefined;
    subresource?: string | undefined;
  } = {},
): string {
  const prefix =
    resource.group === '' ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  const namespace =
    resource.namespaced && target.namespace ? `/namespaces/${encodeURIComponent(target.namespace)}` : '';
  let path = `${prefix}${namespace}/${resource.plural}`;
  if (target.name !== undefined) path += `/${encodeURIComponent(target.name)}`;
  if (target.subresource !== undefined) path += `/${target.subresource}`;
  return path;
}

/** Built-in resources the runtime itself uses. */
export const builtinResources = {
  configMaps: { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  secrets: { group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  namespaces: { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  leases: { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true },
  events: { group: 'events.k8s.io', version: 'v1', kind: 'Event', plural: 'events', namespaced: true },
  customResourceDefinitions: {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    kind: 'CustomResourceDefinition',
    plural: 'customresourcedefinitions',
    namespaced: false,
  },
} as const satisfies Record<string, ResourceType>;

/** A ResourceType from a CRD-style definition with a `scope`, such as the kinds in src/api. */
export function resourceTypeOf(definition: {
  group: string;
  version: string;
  kind: string;
  plural: string;
  scope: 'Namespaced' | 'Cluster';
}): ResourceType {
  const { group, version, kind, plural, scope } = definition;
  return { group, version, kind, plural, namespaced: scope === 'Namespaced' };
}
