// The leak scan (scripts/leak-scan.ts) can fail: a recorded secret planted in a ConfigMap annotation is found in the
// API server and in etcd, one in a captured log line is found in the file, and the same secret in a Secret is not
// reported (that is where credentials belong). The planted objects are removed again, so the scan at the end of the
// suite stays clean.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { scanForLeaks } from '../../scripts/leak-scan.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import type { KubeObject } from '../../src/kube/object.ts';
import { builtinResources } from '../../src/kube/resource.ts';
import { testCluster } from '../support/kube.ts';
import { captureFile, recordTestSecret } from '../support/test-secrets.ts';

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `leak-scan-${RUN}`;

describe('the leak scan', () => {
  let client: KubeClient;
  const planted = randomBytes(16);
  const label = `planted secret ${RUN}`;
  const logFile = captureFile('planted', 'log');

  before(async () => {
    ({ client } = await testCluster());
    recordTestSecret(planted, label);
    await client.create(builtinResources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NAMESPACE },
    });
    await client.create(builtinResources.configMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'planted', namespace: NAMESPACE, annotations: { note: planted.toString('hex') } },
    });
    await client.create(builtinResources.secrets, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'held', namespace: NAMESPACE },
      data: { value: planted.toString('base64') },
    } as KubeObject);
    writeFileSync(logFile, `{"msg":"oops","value":"${planted.toString('base64')}"}\n`, { mode: 0o600 });
  });

  after(async () => {
    rmSync(logFile, { force: true });
    await client.delete(builtinResources.namespaces, NAMESPACE);
    await client.delete(builtinResources.configMaps, 'planted', NAMESPACE).catch(() => undefined);
  });

  it('finds a planted secret in the API server, in etcd and in a captured log, and not in a Secret', async () => {
    const result = await scanForLeaks();
    const found = result.leaks.filter((leak) => leak.secret === label).map((leak) => leak.where);
    assert.ok(found.includes(`api configmaps ${NAMESPACE}/planted`), found.join('\n'));
    assert.ok(found.includes(`etcd /registry/configmaps/${NAMESPACE}/planted`), found.join('\n'));
    assert.ok(found.includes(`file ${logFile}:1`), found.join('\n'));
    assert.deepEqual(
      found.filter((where) => where.includes('secrets')),
      [],
      'a secret held in a Secret is where it belongs',
    );
    assert.equal(found.length, 3, found.join('\n'));
    assert.ok(result.etcdKeys > 100 && result.secrets > 0);
  });
});
