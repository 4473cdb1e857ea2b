// Status writes through the status subresource, only when something changed.
//
// The write is a JSON merge patch computed from the cached status to the desired one (a field that is gone
// becomes null), guarded by the cached resourceVersion: if the object changed since the reconcile read it,
// the API server answers 409 Conflict and the controller retries with fresh data. A desired status equal to
// the current one writes nothing, so a reconcile in steady state makes no API call at all.

import type { ApiAccess } from '../kube/access.ts';
import type { KubeClient } from '../kube/client.ts';
import type { KubeObject } from '../kube/object.ts';
import type { ResourceType } from '../kube/resource.ts';

export interface ObjectWithStatus<S> extends KubeObject {
  status?: S;
}

/** What updateStatus needs on a resource. */
export const statusAccess = (resource: ResourceType): ApiAccess => ({
  resource,
  subresource: 'status',
  verbs: ['patch'],
});

/**
 * Writes `desired` as the object's status if it differs from the current one. Returns the updated object,
 * or undefined when nothing needed writing. Throws the API error (409 on a stale resourceVersion).
 */
export async function updateStatus<T extends ObjectWithStatus<unknown>>(
  client: KubeClient,
  resource: ResourceType,
  object: T,
  desired: NonNullable<T['status']>,
): Promise<T | undefined> {
  const patch = mergePatch(object.status ?? {}, desired);
  if (patch === undefined) return undefined;
  const { name, namespace, resourceVersion } = object.metadata;
  if (name === undefined) throw new Error('updateStatus needs an object with metadata.name');
  return client.patch<T>(
    resource,
    name,
    namespace,
    'merge',
    { metadata: { resourceVersion }, status: patch },
    { subresource: 'status' },
  );
}

/**
 * An RFC 7386 JSON merge patch that turns `from` into `to`, or undefined when they are equal. Objects are
 * diffed key by key (removed keys become null); arrays and scalars are replaced whole.
 */
export function mergePatch(from: unknown, to: unknown): unknown {
  if (!isPlainObject(from) || !isPlainObject(to)) return deepEqual(from, to) ? undefined : (to ?? null);
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(from)) {
    if (!(key in to) || to[key] === undefined) {
      if (from[key] !== undefined) patch[key] = null;
    }
  }
  for (const [key, value] of Object.entries(to)) {
    if (value === undefined) continue;
    const child = key in from ? mergePatch(from[key], value) : value;
    if (child !== undefined) patch[key] = child;
  }
  return Object.keys(patch).length === 0 ? undefined : patch;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const aKeys = Object.keys(a).filter((key) => a[key] !== undefined);
    const bKeys = Object.keys(b).filter((key) => b[key] !== undefined);
    return aKeys.length === bKeys.length && aKeys.every((key) => deepEqual(a[key], b[key]));
  }
  return false;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
