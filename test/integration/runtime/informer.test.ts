// Informers and the kube client against the real API server, with the network broken in between by a TCP
// proxy: refused connections, cut connections, frozen (half-open) connections.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { KubeClient } from '../../../src/kube/client.ts';
import type { KubeObject } from '../../../src/kube/object.ts';
import { builtinResources } from '../../../src/kube/resource.ts';
import { Informer } from '../../../src/runtime/informer.ts';
import type { ConfigMap } from '../../fixtures/fixture-controller.ts';
import { startTcpProxy } from '../../fixtures/tcp-proxy.ts';
import type { TcpProxy } from '../../fixtures/tcp-proxy.ts';
import {
  clientFor,
  createNamespace,
  eventually,
  kubeconfigVia,
  recordingLogger,
  runtimeTestEnv,
} from '../../fixtures/runtime-env.ts';
import type { RuntimeTestEnv } from '../../fixtures/runtime-env.ts';

const configMaps = builtinResources.configMaps;

describe('informer against a real API server behind a faulty network', () => {
  let env: RuntimeTestEnv;
  let proxy: TcpProxy;
  let viaProxy: KubeClient;
  let namespace: string;
  const informers: Informer<KubeObject>[] = [];

  const configMap = (name: string, data: Record<string, string> = {}): ConfigMap => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace },
    data,
  });

  const startInformer = (client: KubeClient, log: ReturnType<typeof recordingLogger>['log']) => {
    const informer = new Informer<ConfigMap>(client, configMaps, {
      namespace,
      log,
      staleWatchMs: 2_000,
      backoff: { initialMs: 50, maxMs: 500 },
    });
    informers.push(informer);
    informer.start();
    return informer;
  };

  /** Resolves once the informer's watch is established (it delivered a change made after its list). */
  const watchIsLive = async (informer: Informer<ConfigMap>, name: string): Promise<void> => {
    await informer.waitForSync();
    await env.client.create(configMaps, configMap(name));
    await eventually(`the informer to see ${name}`, () => informer.get(namespace, name));
  };

  before(async () => {
    env = await runtimeTestEnv();
    const { hostname, port } = new URL(env.server);
    proxy = await startTcpProxy(hostname, Number(port));
    viaProxy = clientFor(kubeconfigVia(env, proxy.address), { requestTimeoutMs: 5_000 });
    namespace = await createNamespace(env.client, 'informer');
  });

  after(async () => {
    await Promise.all(informers.map((informer) => informer.stop()));
    await proxy.close();
  });

  it('is synced only after a list has really succeeded', async () => {
    await env.client.create(configMaps, configMap('before-sync', { a: '1' }));
    proxy.refuseNew(true);
    const { log, records } = recordingLogger();
    const informer = startInformer(viaProxy, log);
    await eventually(
      'three failed list attempts',
      () => records.filter((r) => r.msg === 'list/watch failed; retrying').length >= 3,
    );
    assert.equal(informer.hasSynced, false);
    assert.equal(informer.list().length, 0);

    proxy.refuseNew(false);
    assert.equal(await informer.waitForSync(AbortSignal.timeout(30_000)), true);
    assert.deepEqual(informer.get(namespace, 'before-sync')?.data, { a: '1' });
  });

  it('recovers when its watch connection is cut, and sees what changed meanwhile', async () => {
    const informer = startInformer(viaProxy, recordingLogger().log);
    await watchIsLive(informer, 'live-before-cut');
    const connections = proxy.connectionsAccepted;
    proxy.cut();
    await env.client.create(configMaps, configMap('after-cut', { b: '2' }));
    const seen = await eventually('the informer to see the new ConfigMap', () =>
      informer.get(namespace, 'after-cut'),
    );
    assert.deepEqual(seen.data, { b: '2' });
    assert.ok(proxy.connectionsAccepted > connections, 'the informer reconnected');
  });

  it('restarts a watch that went silent (half-open connection) and catches up', async () => {
    const { log, records } = recordingLogger();
    const informer = startInformer(viaProxy, log);
    await watchIsLive(informer, 'live-before-freeze');
    proxy.freezeOpenConnections();
    await env.client.create(configMaps, configMap('after-freeze', { c: '3' }));
    await eventually('the informer to see the ConfigMap made while frozen', () =>
      informer.get(namespace, 'after-freeze'),
    );
    assert.ok(records.some((r) => r.msg === 'watch delivered nothing for too long; restarting it'));
  });

  it('dispatches add, update and delete, keeps frozen objects and serves index lookups', async () => {
    const informer = new Informer<ConfigMap>(env.client, configMaps, { namespace });
    informers.push(informer);
    const seen: string[] = [];
    informer.addHandlers({
      add: (o) => seen.push(`add ${o.metadata.name ?? ''}`),
      update: (old, o) =>
        seen.push(`update ${o.metadata.name ?? ''} ${old.data?.v ?? ''}->${o.data?.v ?? ''}`),
      delete: (o) => seen.push(`delete ${o.metadata.name ?? ''}`),
    });
    informer.addIndex('byValue', (o) => (o.data?.v ? [o.data.v] : []));
    informer.start();
    await informer.waitForSync();
    await env.client.create(configMaps, configMap('events', { v: '1' }));
    await eventually('add', () => informer.get(namespace, 'events'));
    await env.client.patch(configMaps, 'events', namespace, 'merge', { data: { v: '2' } });
    await eventually('update', () => informer.byIndex('byValue', '2').length === 1);
    assert.equal(informer.byIndex('byValue', '1').length, 0);
    await env.client.delete(configMaps, 'events', namespace);
    await eventually('delete', () => informer.get(namespace, 'events') === undefined);
    assert.ok(
      seen.includes('add events') && seen.includes('update events 1->2') && seen.includes('delete events'),
    );

    const cached = informer.get(namespace, 'before-sync');
    assert.ok(cached && Object.isFrozen(cached) && Object.isFrozen(cached.metadata));
    assert.equal(cached.metadata.managedFields, undefined, 'managedFields are not cached');
  });

  it('pools connections: 200 requests use a handful of TCP connections', async () => {
    // A proxy of its own, so that the other tests' informers do not add to the count.
    const { hostname, port } = new URL(env.server);
    const counting = await startTcpProxy(hostname, Number(port));
    try {
      const client = clientFor(kubeconfigVia(env, counting.address));
      for (let i = 0; i < 200; i++) await client.get(configMaps, 'before-sync', namespace);
      assert.ok(counting.connectionsAccepted <= 2, `opened ${counting.connectionsAccepted} connections`);
    } finally {
      await counting.close();
    }
  });

  it('drops a pooled connection that went half-open, so only one request fails', async () => {
    const client = clientFor(kubeconfigVia(env, proxy.address), { requestTimeoutMs: 1_000 });
    await client.get(configMaps, 'before-sync', namespace);
    proxy.freezeOpenConnections();
    await assert.rejects(client.get(configMaps, 'before-sync', namespace), { name: 'TimeoutError' });
    const object = await client.get<ConfigMap>(configMaps, 'before-sync', namespace);
    assert.deepEqual(object.data, { a: '1' });
  });
});
