import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { metricsHandler, parseBindAddress, probesHandler, serve } from '../../../src/server/http.ts';

describe('bind addresses', () => {
  it('parse like Go listen addresses, with "0" meaning disabled', () => {
    assert.deepEqual(parseBindAddress(':8080'), { host: undefined, port: 8080 });
    assert.deepEqual(parseBindAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseBindAddress('[::1]:9443'), { host: '::1', port: 9443 });
    assert.equal(parseBindAddress('0'), undefined);
    assert.throws(() => parseBindAddress('8080'), /invalid bind address/);
    assert.throws(() => parseBindAddress('host:'), /invalid port/);
  });
});

describe('probe and metrics servers', () => {
  it('answer /healthz, /readyz and /metrics', async () => {
    let ready = false;
    const probes = await serve('127.0.0.1:0', probesHandler({ healthy: () => true, ready: () => ready }));
    const metrics = await serve(
      '127.0.0.1:0',
      metricsHandler({
        exposition: () => Promise.resolve({ contentType: 'text/plain; version=0.0.4', body: 'm 1\n' }),
      }),
    );
    assert.ok(probes && metrics);
    try {
      const get = async (address: string, path: string) => {
        const response = await fetch(`http://${address}${path}`);
        return `${response.status} ${await response.text()}`;
      };
      assert.equal(await get(probes.address, '/healthz'), '200 ok');
      assert.equal(await get(probes.address, '/readyz'), '503 not ready');
      ready = true;
      assert.equal(await get(probes.address, '/readyz'), '200 ok');
      assert.equal(await get(probes.address, '/metrics'), '404 not found');
      assert.equal(await get(metrics.address, '/metrics'), '200 m 1\n');
    } finally {
      await probes.close();
      await metrics.close();
    }
    assert.equal(await serve('0', probesHandler({ healthy: () => true, ready: () => true })), undefined);
  });
});
