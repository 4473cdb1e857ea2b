// examples/gitops: each cluster's directory renders with kustomize (kubectl's own), validates with kubeconform
// -strict against the control plane's schemas, and is admitted by the real API server (server-side dry-run; the
// Namespace is made for real so the namespaced objects can be admitted into it). The Argo CD Applications and the Flux
// Kustomizations have no CRDs here: the test checks that each points at a directory of the repository that renders.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { load, loadAll } from 'js-yaml';

import { ensureControlPlane } from '../../scripts/testenv/controlplane.ts';
import type { KubeObject } from '../../src/kube/object.ts';
import { REPO_ROOT, testCluster } from '../support/kube.ts';
import { chartTools } from './helm.ts';
import type { Tools } from './helm.ts';
import { controlPlaneSchemas, kubeconform } from './schemas.ts';

const run = promisify(execFile);
const GITOPS = path.join(REPO_ROOT, 'examples', 'gitops');
const CLUSTERS = ['staging', 'production'];

interface ManagedKey extends KubeObject {
  spec: { rotation: { trigger?: string; period: string } };
}

describe('examples/gitops', { timeout: 300_000 }, () => {
  let tools: Tools;
  let kubectl: string;
  let kubeconfig: string;
  let schemas: string;

  const kustomize = async (dir: string): Promise<{ yaml: string; objects: KubeObject[] }> => {
    const { stdout } = await run(kubectl, ['kustomize', dir]);
    return { yaml: stdout, objects: (loadAll(stdout) as (KubeObject | null)[]).filter((o) => o !== null) };
  };
  const kubectlApply = (args: readonly string[], yaml: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = execFile(
        kubectl,
        ['--kubeconfig', kubeconfig, 'apply', ...args, '-f', '-'],
        (error, stdout, stderr) => {
          if (error) reject(new Error(stderr || error.message));
          else resolve(stdout);
        },
      );
      child.stdin?.end(yaml);
    });

  before(async () => {
    tools = await chartTools();
    ({ kubectl, kubeconfig } = await ensureControlPlane({ log: () => undefined }));
    schemas = (await controlPlaneSchemas((await testCluster()).client)).dir;
  });

  after(async () => {
    await rm(schemas, { recursive: true, force: true });
  });

  for (const cluster of CLUSTERS) {
    it(`renders clusters/${cluster}: valid (kubeconform -strict) and admitted by the API server`, async () => {
      const { yaml, objects } = await kustomize(path.join(GITOPS, 'clusters', cluster));
      const results = await kubeconform(tools.kubeconform, schemas, yaml);
      assert.equal(results.length, objects.length);
      assert.deepEqual(
        results.filter((r) => r.status !== 'statusValid'),
        [],
        'objects kubeconform refused',
      );
      const kinds = objects.map((o) => o.kind).sort();
      assert.deepEqual(kinds, ['KeyBackend', 'ManagedKey', 'ManagedKey', 'Namespace']);

      const namespaces = objects.filter((o) => o.kind === 'Namespace');
      await kubectlApply(['--server-side'], namespaces.map((o) => `---\n${JSON.stringify(o)}\n`).join(''));
      const out = await kubectlApply(['--server-side', '--dry-run=server'], yaml);
      assert.match(out, /^managedkey\.keyward\.io\/payments-signing serverside-applied \(server dry run\)$/m);
      assert.match(out, /^keybackend\.keyward\.io\/keys serverside-applied \(server dry run\)$/m);
    });
  }

  it('rotates by commit in production: the patch sets the trigger and keeps the rest of the rotation', async () => {
    const { objects } = await kustomize(path.join(GITOPS, 'clusters', 'production'));
    const key = objects.find(
      (o) => o.kind === 'ManagedKey' && o.metadata.name === 'payments-signing',
    ) as ManagedKey;
    const base = load(
      await readFile(path.join(GITOPS, 'base', 'payments-signing.yaml'), 'utf8'),
    ) as ManagedKey;
    assert.equal(key.spec.rotation.trigger, '2026-11');
    assert.equal(key.spec.rotation.period, base.spec.rotation.period);
    const readme = await readFile(path.join(GITOPS, 'README.md'), 'utf8');
    assert.match(
      readme,
      /^- {4}trigger: '2026-11'$/m,
      'the README shows the commit that changes this trigger',
    );
  });

  it('has Argo CD Applications and Flux Kustomizations that point at directories which render', async () => {
    const manifests = [
      ...(loadAll(await readFile(path.join(GITOPS, 'argocd', 'keyward.yaml'), 'utf8')) as KubeObject[]),
      ...(loadAll(await readFile(path.join(GITOPS, 'flux', 'sync.yaml'), 'utf8')) as KubeObject[]),
    ] as (KubeObject & { spec: { path?: string; source?: { path?: string } } })[];
    const paths = manifests
      .filter((m) => m.kind === 'Application' || m.kind === 'Kustomization')
      .map((m) => (m.spec.source?.path ?? m.spec.path ?? '').replace(/^\.\//, ''));
    assert.deepEqual(paths.sort(), [
      'examples/gitops/clusters/production',
      'examples/gitops/clusters/production',
      'examples/gitops/flux/operator',
      'helm/keyward',
    ]);
    for (const dir of paths.filter((p) => p.startsWith('examples/'))) {
      const { objects } = await kustomize(path.join(REPO_ROOT, dir));
      assert.ok(objects.length > 0, `${dir} renders`);
    }
    assert.ok(existsSync(path.join(REPO_ROOT, 'helm', 'keyward', 'Chart.yaml')));
    const helmRelease = (await kustomize(path.join(GITOPS, 'flux', 'operator'))).objects[0] as KubeObject & {
      spec: { chart: { spec: { chart: string } } };
    };
    assert.ok(existsSync(path.join(REPO_ROOT, helmRelease.spec.chart.spec.chart, 'Chart.yaml')));
  });
});
