import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { RBAC_TEMPLATE, controllerNeeds, renderRbacTemplate } from '../../../scripts/chart-rbac.ts';

const root = path.resolve(import.meta.dirname, '../../..');

test('the chart RBAC matches what npm run generate derives from the controllers', async () => {
  const committed = await readFile(path.join(root, RBAC_TEMPLATE), 'utf8');
  assert.equal(
    committed,
    renderRbacTemplate(),
    `${RBAC_TEMPLATE} differs from the controllers: run npm run generate`,
  );
});

test('every controller API call the chart grants is one the code declares or an informer makes', () => {
  const needs = controllerNeeds();
  const granted = (plural: string, verb: string): string[] =>
    needs.filter((n) => n.resource.plural === plural && n.verbs.includes(verb as never)).map((n) => n.by);
  // Informers list and watch; writes come from the controllers' declarations.
  assert.ok(granted('managedkeys', 'watch').includes('informer'));
  assert.deepEqual(granted('secrets', 'get'), ['keybackend']);
  assert.deepEqual(
    needs.filter((n) => n.resource.plural === 'secrets').flatMap((n) => n.verbs),
    ['get'],
    'Secrets are only ever read by name',
  );
  assert.ok(!needs.some((n) => n.resource.plural === 'pods'));
  assert.ok(!needs.some((n) => n.verbs.includes('delete')), 'the operator deletes nothing through the API');
});

test('the template never grants a wildcard, pods, RBAC objects or a Secret write', () => {
  const template = renderRbacTemplate();
  assert.doesNotMatch(template, /\*/);
  assert.doesNotMatch(template, /resources: \[(pods|serviceaccounts|roles|rolebindings|clusterroles)/);
  for (const rule of template.matchAll(/resources: \[secrets\]\n\s+verbs: \[([^\]]*)\]/g)) {
    assert.equal(rule[1], 'get');
  }
});
