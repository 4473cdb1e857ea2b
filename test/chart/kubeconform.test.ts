// kubeconform -strict validates the rendered chart offline, against JSON schemas made from this control plane's own
// OpenAPI (built-in kinds and Keyward's CRDs; test/chart/schemas.ts). The Prometheus Operator's kinds are skipped:
// the control plane has no monitoring.coreos.com CRDs, so no schema of theirs exists here to check against, and
// chart.test.ts checks the PrometheusRule's rules with promtool instead.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dump, load } from 'js-yaml';

import { REPO_ROOT, testCluster } from '../support/kube.ts';
import { CHART_DIR, chartTools, everyOption, helmTemplate } from './helm.ts';
import type { Tools } from './helm.ts';
import { PROMETHEUS_OPERATOR_KINDS, controlPlaneSchemas, kubeconform } from './schemas.ts';

describe('kubeconform against the control plane’s own schemas', { timeout: 300_000 }, () => {
  let tools: Tools;
  let schemas: string;
  let kinds: Set<string>;

  before(async () => {
    tools = await chartTools();
    const { client } = await testCluster();
    ({ dir: schemas, kinds } = await controlPlaneSchemas(client));
  });

  after(async () => {
    await rm(schemas, { recursive: true, force: true });
  });

  it('has a schema for each built-in kind the chart uses and each Keyward kind', () => {
    for (const kind of [
      'apps/v1/Deployment',
      '/v1/ServiceAccount',
      'rbac.authorization.k8s.io/v1/ClusterRole',
      'apiextensions.k8s.io/v1/CustomResourceDefinition',
      'keyward.io/v1alpha1/ManagedKey',
      'keyward.io/v1alpha1/KeyBackend',
      'keyward.io/v1alpha1/KeyCeremony',
      'keyward.io/v1alpha1/KeyCeremonyApproval',
    ]) {
      assert.ok(kinds.has(kind), kind);
    }
  });

  it('validates every object of the chart rendered with every optional part on (-strict)', async () => {
    const { yaml, objects } = await helmTemplate(tools, 'kw', 'keyward-system', everyOption('keys'));
    const results = await kubeconform(tools.kubeconform, schemas, yaml, PROMETHEUS_OPERATOR_KINDS);
    assert.equal(results.length, objects.length, 'kubeconform reported each rendered object');
    const notValid = results.filter((r) => r.status !== 'statusValid' && r.status !== 'statusSkipped');
    assert.deepEqual(notValid, [], 'objects kubeconform refused');
    const skipped = results.filter((r) => r.status === 'statusSkipped').map((r) => r.kind);
    assert.deepEqual(skipped.sort(), ['PrometheusRule', 'ServiceMonitor']);
    const valid = new Set(results.filter((r) => r.status === 'statusValid').map((r) => r.kind));
    for (const kind of [
      'CustomResourceDefinition',
      'Deployment',
      'ClusterRole',
      'NetworkPolicy',
      'ConfigMap',
    ])
      assert.ok(valid.has(kind), `${kind} was validated`);
  });

  it('refuses an object with a wrong field type or an unknown field (the check can fail)', async () => {
    const deployment = (spec: string): string =>
      [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata: { name: bad, namespace: keys }',
        'spec:',
        '  selector: { matchLabels: { app: bad } }',
        '  template:',
        '    metadata: { labels: { app: bad } }',
        `    spec: { containers: [{ name: c, image: "registry.example/c:1" }] }`,
        spec,
      ].join('\n');
    const cases = [
      { yaml: deployment('  replicas: "two"'), error: /\/spec\/replicas.*got string, want integer/ },
      { yaml: deployment('  replica: 2'), error: /additional properties 'replica' not allowed/ },
      {
        yaml: [
          'apiVersion: keyward.io/v1alpha1',
          'kind: ManagedKey',
          'metadata: { name: bad, namespace: keys }',
          'spec: { backendRef: { name: hsm }, algorithm: EC_P256, usages: [sign], rotaton: { period: 720h } }',
        ].join('\n'),
        error: /additional properties 'rotaton' not allowed/,
      },
    ];
    for (const { yaml, error } of cases) {
      const [result] = await kubeconform(tools.kubeconform, schemas, yaml);
      assert.equal(result?.status, 'statusInvalid', yaml);
      assert.match(result.msg ?? '', error);
    }
    const [good] = await kubeconform(tools.kubeconform, schemas, deployment('  replicas: 2'));
    assert.equal(good?.status, 'statusValid', good?.msg);
  });

  it('validates the chart with each values block of docs/install.md', async () => {
    const values = load(await readFile(path.join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<
      string,
      unknown
    >;
    const docs = await readFile(path.join(REPO_ROOT, 'docs', 'install.md'), 'utf8');
    // A block of chart values: every top-level key is one of values.yaml's (the argocd-cm block is not).
    const blocks = [...docs.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((m) => load(m[1] ?? '') as Record<string, unknown>)
      .filter((block) => Object.keys(block).every((key) => key in values));
    assert.ok(blocks.length >= 2, 'the kind and the Luna examples');
    for (const block of blocks) {
      const file = path.join(schemas, 'values.yaml');
      await writeFile(file, dump(block));
      const { yaml } = await helmTemplate(tools, 'kw', 'keyward-system', {}, ['-f', file]);
      const results = await kubeconform(tools.kubeconform, schemas, yaml, PROMETHEUS_OPERATOR_KINDS);
      assert.deepEqual(
        results.filter((r) => r.status !== 'statusValid' && r.status !== 'statusSkipped'),
        [],
        dump(block),
      );
    }
  });
});
