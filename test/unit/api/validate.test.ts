import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadManifests } from '../../../scripts/cluster.ts';
import { objectSchema } from '../../../src/api/resource.ts';
import { validate } from '../../../src/api/schema.ts';
import { RESOURCES } from '../../../src/api/v1alpha1/index.ts';

const examples = path.resolve(import.meta.dirname, '../../../examples');

test('every Keyward object in examples/ and examples/cloud/ passes runtime validation', async () => {
  let checked = 0;
  for (const dir of [examples, path.join(examples, 'cloud')]) {
    for (const { file, object } of await loadManifests(dir)) {
      const resource = RESOURCES.find((r) => r.kind === object.kind);
      if (!resource) continue;
      assert.deepEqual(validate(objectSchema(resource), object), [], `${file}: ${object.kind}`);
      checked++;
    }
  }
  assert.ok(checked >= 8, `only ${checked} Keyward objects in examples/`);
});

test('runtime validation reports where and what is wrong', () => {
  const [keyBackend] = RESOURCES;
  const violations = validate(objectSchema(keyBackend), {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'KeyBackend',
    metadata: { name: 'x' },
    spec: { fipsLevel: 5 },
  });
  assert.ok(
    violations.some((v) => v.path === '/spec/fipsLevel' && /4/.test(v.message)),
    JSON.stringify(violations),
  );
});
