// A custom resource kind as Keyward defines it: names, scope, schema and printer columns. Everything the operator and
// the CRD generator need to know about a kind is here, so neither repeats it.
import { type CelRule, celRules } from './schema.ts';
import Type from 'typebox';
import type { Static, TObject } from 'typebox';
import type { ObjectMeta } from '../kube/object.ts';

export const GROUP = 'keyward.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
/** kubectl get keyward lists every Keyward object. */
export const CATEGORY = 'keyward';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  description: string;
  jsonPath: string;
  priority?: number;
}

export interface ResourceDefinition<Spec extends TObject, Status extends TObject> {
  kind: string;
  plural: string;
  singular: string;
  shortNames: readonly string[];
  scope: 'Namespaced' | 'Cluster';
  description: string;
  spec: Spec;
  /** Absent for kinds whose state lives entirely in their spec (no status subresource). */
  status?: Status;
  printerColumns: readonly PrinterColumn[];
  /** CEL rules over the whole object, for what spans spec and status or guards status from being removed. */
  rules?: readonly CelRule[];
}

export interface Resource<Spec extends TObject, Status extends TObject> extends ResourceDefinition<
  Spec,
  Status
> {
  group: typeof GROUP;
  version: typeof VERSION;
  apiVersion: typeof API_VERSION;
}

/** Any Keyward kind, for code that handles every kind alike (CRD generation, validation). */
export type AnyResource = Resource<TObject, TObject>;

export function defineResource<Spec extends TObject, Status extends TObject>(
  definition: ResourceDefinition<Spec, Status>,
): Resource<Spec, Status> {
  return { ...definition, group: GROUP, version: VERSION, apiVersion: API_VERSION };
}

/** The static type of a whole object of a kind. */
export interface CustomObject<Spec, Status> {
  apiVersion: typeof API_VERSION;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}

export type ObjectOf<R> =
  R extends Resource<infer Spec, infer Status> ? CustomObject<Static<Spec>, Static<Status>> : never;

/** The schema of a whole object: what the API server stores and what validate() checks. */
export function objectSchema(resource: AnyResource) {
  return Type.Object(
    {
      apiVersion: Type.String({
        description:
          'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.',
      }),
      kind: Type.String({
        description:
          'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. In CamelCase.',
      }),
      metadata: Type.Object({}, { description: 'Standard object metadata.' }),
      spec: resource.spec,
      ...(resource.status ? { status: Type.Optional(unobservedByDefault(resource.status)) } : {}),
    },
    { description: resource.description, ...celRules(...(resource.rules ?? [])) },
  );
}

/**
 * The status schema with `default: {}` and `observedGeneration` defaulting to 0, so the API server shows an object
 * the operator has not reconciled yet as `status: {observedGeneration: 0}`, not as an object without status. kstatus
 * (Flux's health checks) calls an object without status Current: a ManagedKey just applied would pass Flux's `wait`
 * before the operator has even seen it. With generation 1 and observedGeneration 0 it is InProgress until reconciled.
 */
function unobservedByDefault<S extends TObject>(status: S): S {
  const observed = status.properties.observedGeneration;
  if (!observed) throw new Error('a status schema needs observedGeneration');
  return {
    ...status,
    default: {},
    properties: { ...status.properties, observedGeneration: { ...observed, default: 0 } },
  };
}
