import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KeyBackendObject } from '../../../src/api/v1alpha1/keybackend.ts';
import { cloudHsmBackupAge, cloudHsmClusterHsms } from '../../../src/controllers/keybackend/metrics.ts';

const backend = (name: string, spec: object, info: object): KeyBackendObject =>
  ({ metadata: { name }, spec: { fipsLevel: 3, ...spec }, status: { info } }) as unknown as KeyBackendObject;

describe('CloudHSM metrics from KeyBackend status', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');
  const backends = [
    backend('cluster-a', { awsCloudHSM: {} }, { hsmCount: 1, latestBackupTime: '2026-12-01T11:00:00Z' }),
    backend('cluster-b', { awsCloudHSM: {} }, { hsmCount: 3 }),
    backend('token', { pkcs11: {} }, { hsmCount: 7, latestBackupTime: '2026-11-01T00:00:00Z' }),
  ];

  it('reports the HSM count of each CloudHSM cluster, and nothing for other backends', () => {
    assert.deepEqual(cloudHsmClusterHsms(backends), [
      { labels: { backend: 'cluster-a' }, value: 1 },
      { labels: { backend: 'cluster-b' }, value: 3 },
    ]);
  });

  it('reports the age of the newest backup where the cluster has one', () => {
    assert.deepEqual(cloudHsmBackupAge(backends, now), [{ labels: { backend: 'cluster-a' }, value: 3600 }]);
  });
});
