import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { customResourceDefinition } from '../../../src/api/crd.ts';
import { RESOURCES } from '../../../src/api/v1alpha1/index.ts';

type Node = Record<string, unknown>;

// What a structural schema may say (apiextensions.k8s.io/v1 JSONSchemaProps); anything else is a generator bug.
const ALLOWED = new Set([
  'type',
  'description',
  'properties',
  'required',
  'items',
  'additionalProperties',
  'enum',
  'default',
  'format',
  'pattern',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
]);

/** Every schema node below the root, with its path. */
function* nodes(schema: Node, at = ''): Generator<[string, Node]> {
  for (const [name, child] of Object.entries((schema['properties'] ?? {}) as Record<string, Node>)) {
    yield [`${at}.${name}`, child];
    yield* nodes(child, `${at}.${name}`);
  }
  const items = schema['items'] as Node | undefined;
  if (items) {
    yield [`${at}[]`, items];
    yield* nodes(items, `${at}[]`);
  }
}

for (const resource of RESOURCES) {
  describe(`${resource.kind} CRD`, () => {
    const crd = customResourceDefinition(resource);
    const version = crd.spec.versions[0]!;
    const schema = version.schema.openAPIV3Schema;

    it('documents every field (kubectl explain shows these)', () => {
      const undocumented = [...nodes(schema)]
        .filter(([field, node]) => field !== '.metadata' && !node['description'])
        .map(([field]) => field);
      assert.deepEqual(undocumented, []);
    });

    it('uses only structural-schema keywords', () => {
      const unknown = [...nodes(schema)].flatMap(([field, node]) =>
        Object.keys(node)
          .filter((k) => !ALLOWED.has(k))
          .map((k) => `${field}: ${k}`),
      );
      assert.deepEqual(unknown, []);
    });

    it('gives every CEL rule a message in plain words', () => {
      for (const [field, node] of nodes(schema)) {
        for (const rule of (node['x-kubernetes-validations'] ?? []) as { rule: string; message?: string }[]) {
          assert.ok(rule.message && rule.message.length > 10, `${field}: rule ${rule.rule} has no message`);
        }
      }
    });

    it('is in the keyward category, with short names, printer columns and a status subresource', () => {
      assert.deepEqual(crd.spec.names.categories, ['keyward']);
      assert.ok(version.additionalPrinterColumns.length >= 3);
      assert.deepEqual(version.subresources, { status: {} });
      assert.ok((crd.spec.names.shortNames ?? []).length > 0);
    });
  });
}
