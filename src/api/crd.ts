// Builds apiextensions.k8s.io/v1 CustomResourceDefinitions from the resource definitions.
import type { TObject } from 'typebox';
import { CATEGORY, objectSchema } from './resource.ts';
import type { AnyResource } from './resource.ts';

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames?: string[];
      categories: string[];
    };
    scope: 'Namespaced' | 'Cluster';
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: JsonSchema };
      subresources?: { status: Record<string, never> };
      additionalPrinterColumns: object[];
    }[];
  };
}

type JsonSchema = { [key: string]: unknown };

/**
 * A field with a default is never required in the CRD: the API server checks `required` before it applies
 * defaults, so it would refuse the object the default was meant to complete. (The static types still show the field
 * as present, as it is in every object the API server returns.)
 */
function optionalWhenDefaulted(node: JsonSchema): JsonSchema {
  const properties = node['properties'] as Record<string, JsonSchema> | undefined;
  const items = node['items'] as JsonSchema | undefined;
  const result: JsonSchema = { ...node };
  if (properties) {
    result['properties'] = Object.fromEntries(
      Object.entries(properties).map(([name, child]) => [name, optionalWhenDefaulted(child)]),
    );
    const required = (node['required'] as string[] | undefined)?.filter(
      (name) => !('default' in (properties[name] ?? {})),
    );
    if (required?.length) result['required'] = required;
    else delete result['required'];
  }
  if (items) result['items'] = optionalWhenDefaulted(items);
  return result;
}

/** A plain JSON copy of a TypeBox schema (TypeBox keeps internal markers as symbols; JSON drops them). */
function plainSchema(schema: TObject): JsonSchema {
  const json = optionalWhenDefaulted(JSON.parse(JSON.stringify(schema)) as JsonSchema);
  // The API server owns metadata's schema; a CRD may only say it is an object.
  json['properties'] = { ...(json['properties'] as JsonSchema), metadata: { type: 'object' } };
  return json;
}

export function customResourceDefinition(resource: AnyResource): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${resource.plural}.${resource.group}`,
      labels: { 'app.kubernetes.io/part-of': 'keyward' },
    },
    spec: {
      group: resource.group,
      names: {
        kind: resource.kind,
        listKind: `${resource.kind}List`,
        plural: resource.plural,
        singular: resource.singular,
        ...(resource.shortNames.length > 0 ? { shortNames: [...resource.shortNames] } : {}),
        categories: [CATEGORY],
      },
      scope: resource.scope,
      versions: [
        {
          name: resource.version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: plainSchema(objectSchema(resource)) },
          ...(resource.status ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: resource.printerColumns.map((column) => ({ ...column })),
        },
      ],
    },
  };
}
