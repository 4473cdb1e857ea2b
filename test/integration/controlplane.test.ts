// The local control plane (scripts/testenv): a real kube-apiserver + etcd that keeps its address and
// its data across a restart, reached with the credentials of the kubeconfig it writes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import {
  type ControlPlane,
  ensureControlPlane,
  stopControlPlane,
} from '../../scripts/testenv/controlplane.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';

const log = (line: string): void => {
  console.error(`[testenv] ${line}`);
};

interface Response {
  status: number;
  body: Record<string, unknown>;
}

/** One request with Node's https and the server and client credentials of the kubeconfig. */
async function call(kubeconfig: string, method: string, urlPath: string, body?: unknown): Promise<Response> {
  const { kubeConfig, server } = loadKubeConfig({ path: kubeconfig });
  const auth = await kubeConfig.requestOptions();
  const headers = { ...auth.headers, accept: 'application/json' };
  const options: RequestOptions = { ...auth, method, headers, agent: false };
  return new Promise((resolve, reject) => {
    const req = request(new URL(urlPath, server), options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
      });
    });
    req.once('error', reject);
    if (body !== undefined) {
      req.setHeader('content-type', 'application/json');
      req.write(JSON.stringify(body));
    }
    req.end();
  });
}

const goMod = readFileSync(path.join(import.meta.dirname, '../../hack/controlplane/go.mod'), 'utf8');
const kubernetesVersion = /^\s*k8s\.io\/kubernetes (v\S+)/m.exec(goMod)?.[1];

describe('local control plane', () => {
  let controlPlane: ControlPlane;
  const namespace = `testenv-${randomUUID().slice(0, 8)}`;

  before(async () => {
    controlPlane = await ensureControlPlane({ log });
  });

  after(async () => {
    // Without kube-controller-manager nothing finalizes a deleted namespace, so drop its finalizer here.
    const kubeconfig = controlPlane.kubeconfig;
    await call(kubeconfig, 'DELETE', `/api/v1/namespaces/${namespace}`);
    const finalize = { metadata: { name: namespace }, spec: { finalizers: [] } };
    await call(kubeconfig, 'PUT', `/api/v1/namespaces/${namespace}/finalize`, finalize);
  });

  it('serves the Kubernetes version that hack/controlplane/go.mod requires', async () => {
    assert.ok(path.isAbsolute(controlPlane.kubeconfig));
    assert.match(controlPlane.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    const version = await call(controlPlane.kubeconfig, 'GET', '/version');
    assert.equal(version.status, 200);
    assert.equal(version.body.gitVersion, kubernetesVersion);
  });

  it('comes with a kubectl of the same version', async () => {
    const { stdout } = await promisify(execFile)(controlPlane.kubectl, [
      '--kubeconfig',
      controlPlane.kubeconfig,
      'version',
      '--output=json',
    ]);
    const versions = JSON.parse(stdout) as Record<string, { gitVersion?: string } | undefined>;
    assert.equal(versions.clientVersion?.gitVersion, kubernetesVersion);
    assert.equal(versions.serverVersion?.gitVersion, kubernetesVersion);
  });

  it('keeps its address and its objects across a restart', async () => {
    const created = await call(controlPlane.kubeconfig, 'POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace },
    });
    assert.equal(created.status, 201);
    const uid = (created.body.metadata as { uid: string }).uid;

    assert.equal(await stopControlPlane(), true);
    assert.equal(await stopControlPlane(), false, 'nothing runs after a stop');
    await assert.rejects(call(controlPlane.kubeconfig, 'GET', '/version'), { code: 'ECONNREFUSED' });

    const restarted = await ensureControlPlane({ log });
    assert.deepEqual(restarted, controlPlane);
    const fetched = await call(restarted.kubeconfig, 'GET', `/api/v1/namespaces/${namespace}`);
    assert.equal(fetched.status, 200);
    assert.equal((fetched.body.metadata as { uid: string }).uid, uid);
  });

  it('reuses a running control plane', async () => {
    assert.deepEqual(await ensureControlPlane({ log }), controlPlane);
  });
});
