import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { load } from 'js-yaml';
import { CHART_CRD_DIR, CRD_DIR, renderCrdFiles } from '../../../scripts/crds.ts';
import { customResourceDefinition } from '../../../src/api/crd.ts';
import { RESOURCES } from '../../../src/api/v1alpha1/index.ts';

const root = path.resolve(import.meta.dirname, '../../..');

test('committed CRDs and chart CRD templates match what npm run generate writes', async () => {
  const expected = renderCrdFiles();
  for (const [file, content] of expected) {
    const committed = await readFile(path.join(root, file), 'utf8').catch(() => undefined);
    assert.ok(committed !== undefined, `${file} is missing: run npm run generate`);
    assert.equal(committed, content, `${file} differs from its source in src/api: run npm run generate`);
  }
  for (const dir of [CRD_DIR, CHART_CRD_DIR]) {
    for (const name of await readdir(path.join(root, dir))) {
      assert.ok(expected.has(`${dir}/${name}`), `${dir}/${name} is not generated from src/api: remove it`);
    }
  }
});

test('each CRD file holds exactly the CRD built from src/api (no keyword lost on the way to YAML)', () => {
  const files = renderCrdFiles();
  for (const resource of RESOURCES) {
    const crd = customResourceDefinition(resource);
    const [, yaml] = [...files].find(
      ([file]) => file === `${CRD_DIR}/${crd.spec.group}_${resource.plural}.yaml`,
    )!;
    assert.deepEqual(load(yaml), JSON.parse(JSON.stringify(crd)));
  }
});
