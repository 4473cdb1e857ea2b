// Finalizers added and removed with a JSON Patch that first `test`s the finalizer list the reconcile saw, so a
// concurrent change to the list (another controller's finalizer) makes the patch fail instead of being lost.
//
// Remove a finalizer only after its cleanup really succeeded: once it is gone the object may vanish, and with
// it the last record of, say, a key that still had to be destroyed.

import type { ApiAccess } from '../kube/access.ts';
import type { JsonPatchOperation, KubeClient } from '../kube/client.ts';
import type { KubeObject } from '../kube/object.ts';
import type { ResourceType } from '../kube/resource.ts';

/** What addFinalizer and removeFinalizer need on a resource. */
export const finalizerAccess = (resource: ResourceType): ApiAccess => ({ resource, verbs: ['patch'] });

export function hasFinalizer(object: KubeObject, finalizer: string): boolean {
  return object.metadata.finalizers?.includes(finalizer) ?? false;
}

export function isBeingDeleted(object: KubeObject): boolean {
  return object.metadata.deletionTimestamp !== undefined;
}

/** JSON Patch operations that add `finalizer`, or none if it is already there. */
export function addFinalizerPatch(object: KubeObject, finalizer: string): JsonPatchOperation[] {
  const finalizers = object.metadata.finalizers;
  if (finalizers?.includes(finalizer)) return [];
  if (finalizers === undefined || finalizers.length === 0) {
    // An absent list and an empty one look the same to a reader; test for the one the object has.
    return [
      { op: 'test', path: '/metadata/finalizers', value: finalizers ?? null },
      { op: 'add', path: '/metadata/finalizers', value: [finalizer] },
    ];
  }
  return [
    { op: 'test', path: '/metadata/finalizers', value: finalizers },
    { op: 'add', path: '/metadata/finalizers/-', value: finalizer },
  ];
}

/** JSON Patch operations that remove `finalizer`, or none if it is not there. */
export function removeFinalizerPatch(object: KubeObject, finalizer: string): JsonPatchOperation[] {
  const index = object.metadata.finalizers?.indexOf(finalizer) ?? -1;
  if (index < 0) return [];
  return [
    { op: 'test', path: `/metadata/finalizers/${index}`, value: finalizer },
    { op: 'remove', path: `/metadata/finalizers/${index}` },
  ];
}

/** Adds the finalizer; returns the updated object, or undefined if it was already there. */
export async function addFinalizer<T extends KubeObject>(
  client: KubeClient,
  resource: ResourceType,
  object: T,
  finalizer: string,
): Promise<T | undefined> {
  return applyPatch(client, resource, object, addFinalizerPatch(object, finalizer));
}

/** Removes the finalizer; returns the updated object, or undefined if it was not there. */
export async function removeFinalizer<T extends KubeObject>(
  client: KubeClient,
  resource: ResourceType,
  object: T,
  finalizer: string,
): Promise<T | undefined> {
  return applyPatch(client, resource, object, removeFinalizerPatch(object, finalizer));
}

async function applyPatch<T extends KubeObject>(
  client: KubeClient,
  resource: ResourceType,
  object: T,
  operations: JsonPatchOperation[],
): Promise<T | undefined> {
  if (operations.length === 0) return undefined;
  const { name, namespace } = object.metadata;
  if (name === undefined) throw new Error('a finalizer patch needs an object with metadata.name');
  return client.patch<T>(resource, name, namespace, 'json', operations);
}
