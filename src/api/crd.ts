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

/** A plain JSON copy of a TypeBox schema (TypeBox keeps internal markers as symbols; JSON drops them). */
function plainSchema(schema: TObject): JsonSchema {
  const json = JSON.parse(JSON.stringify(schema)) as JsonSchema;
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
