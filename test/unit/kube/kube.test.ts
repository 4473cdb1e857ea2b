import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { KubeConfigError, loadKubeConfig } from '../../../src/kube/config.ts';
import {
  KubeApiError,
  isAlreadyExists,
  isConflict,
  isGone,
  isNotFound,
  statusCode,
} from '../../../src/kube/errors.ts';
import { keyOf, objectKey, splitKey } from '../../../src/kube/object.ts';
import { apiVersionOf, builtinResources, resourcePath } from '../../../src/kube/resource.ts';
import type { ResourceType } from '../../../src/kube/resource.ts';

const managedKeys: ResourceType = {
  group: 'keyward.io',
  version: 'v1alpha1',
  kind: 'ManagedKey',
  plural: 'managedkeys',
  namespaced: true,
};

describe('resource paths', () => {
  it('builds core, group, namespaced, cluster-scoped and subresource paths', () => {
    assert.equal(
      resourcePath(builtinResources.configMaps, { namespace: 'a' }),
      '/api/v1/namespaces/a/configmaps',
    );
    assert.equal(resourcePath(builtinResources.configMaps), '/api/v1/configmaps');
    assert.equal(
      resourcePath(managedKeys, { namespace: 'ns', name: 'k', subresource: 'status' }),
      '/apis/keyward.io/v1alpha1/namespaces/ns/managedkeys/k/status',
    );
    assert.equal(
      resourcePath(builtinResources.namespaces, { namespace: 'x', name: 'y' }),
      '/api/v1/namespaces/y',
    );
    assert.equal(apiVersionOf(managedKeys), 'keyward.io/v1alpha1');
    assert.equal(apiVersionOf(builtinResources.secrets), 'v1');
  });

  it('keys objects as namespace/name and splits keys back', () => {
    assert.equal(objectKey({ metadata: { namespace: 'ns', name: 'a' } }), 'ns/a');
    assert.equal(objectKey({ metadata: { name: 'cluster-wide' } }), 'cluster-wide');
    assert.deepEqual(splitKey(keyOf('ns', 'a')), { namespace: 'ns', name: 'a' });
    assert.deepEqual(splitKey('cluster-wide'), { namespace: '', name: 'cluster-wide' });
  });
});

describe('API error helpers', () => {
  it('classify by status code and reason', () => {
    assert.ok(isNotFound(new KubeApiError(404, 'x', 'NotFound')));
    assert.ok(isConflict(new KubeApiError(409, 'x', 'Conflict')));
    assert.ok(!isConflict(new KubeApiError(409, 'x', 'AlreadyExists')));
    assert.ok(isAlreadyExists(new KubeApiError(409, 'x', 'AlreadyExists')));
    assert.ok(isGone(new KubeApiError(410, 'x', 'Expired')));
    assert.ok(isGone({ kind: 'Status', code: 410 }), 'a watch ERROR Status');
    assert.equal(statusCode({ statusCode: 503 }), 503);
    assert.equal(statusCode(new Error('fetch failed')), undefined);
    assert.equal(statusCode(undefined), undefined);
  });
});

describe('loadKubeConfig', () => {
  const kubeconfig = (server: string): string =>
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: c, cluster: {server: "' + server + '", insecure-skip-tls-verify: true}}]',
      'users: [{name: u, user: {token: abc}}]',
      'contexts: [{name: x, context: {cluster: c, user: u}}]',
      'current-context: x',
    ].join('\n');

  it('prefers --kubeconfig, then KUBECONFIG, then in-cluster, then ~/.kube/config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubecfg-'));
    const flagFile = join(dir, 'flag.yaml');
    const envFile = join(dir, 'env.yaml');
    writeFileSync(flagFile, kubeconfig('https://flag:6443'));
    writeFileSync(envFile, kubeconfig('https://env:6443'));
    const home = join(dir, 'home');
    mkdirSync(join(home, '.kube'), { recursive: true });
    writeFileSync(join(home, '.kube', 'config'), kubeconfig('https://home:6443'));
    const root = join(dir, 'root');
    mkdirSync(join(root, 'var/run/secrets/kubernetes.io/serviceaccount'), { recursive: true });
    writeFileSync(join(root, 'var/run/secrets/kubernetes.io/serviceaccount/token'), 'token');
    const inCluster = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };

    const load = (path: string | undefined, env: NodeJS.ProcessEnv) =>
      loadKubeConfig({ path, env, home, inClusterRoot: root }).server;
    assert.equal(load(flagFile, { KUBECONFIG: envFile }), 'https://flag:6443');
    assert.equal(load(undefined, { KUBECONFIG: envFile, ...inCluster }), 'https://env:6443');
    assert.equal(load(undefined, inCluster), 'https://10.0.0.1:443');
    assert.equal(load(undefined, {}), 'https://home:6443');
  });

  it('says clearly what it tried when there is no configuration', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubecfg-'));
    assert.throws(
      () => loadKubeConfig({ env: {}, home: dir, inClusterRoot: dir }),
      (err: unknown) =>
        err instanceof KubeConfigError &&
        /KUBECONFIG are not set/.test(err.message) &&
        err.message.includes(join(dir, '.kube', 'config')),
    );
    assert.throws(
      () => loadKubeConfig({ env: { KUBECONFIG: join(dir, 'missing') }, home: dir }),
      /kubeconfig file .*missing \(from KUBECONFIG=.*\) does not exist/,
    );
  });
});
