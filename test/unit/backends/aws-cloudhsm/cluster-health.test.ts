// Cluster states moto cannot make (DEGRADED, UNINITIALIZED, several HSMs in several zones, stale backups), as
// DescribeClusters and DescribeBackups responses shaped as the CloudHSM v2 API reference documents them.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Backup, Cluster, Hsm } from '@aws-sdk/client-cloudhsm-v2';
import { clusterHealth } from '../../../../src/backends/aws-cloudhsm/cluster-health.ts';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const ID = 'cluster-igklspoyj5v';

function hsm(zone: string, state = 'ACTIVE', id = `hsm-${zone}`): Hsm {
  return {
    AvailabilityZone: zone,
    ClusterId: ID,
    HsmId: id,
    State: state,
    SubnetId: `subnet-${zone}`,
    EniIp: '10.0.0.1',
  };
}

function cluster(state: string, hsms: Hsm[], extra: Partial<Cluster> = {}): Cluster {
  return { ClusterId: ID, State: state, Hsms: hsms, HsmType: 'hsm2m.medium', ...extra };
}

const freshBackup: Backup = {
  BackupId: 'backup-1',
  BackupState: 'READY',
  ClusterId: ID,
  CreateTimestamp: new Date(NOW - 3600_000),
};

describe('cluster health', () => {
  test('ACTIVE with HSMs in three zones and a fresh backup: no warnings, numbers for the metrics', () => {
    const health = clusterHealth(
      ID,
      cluster('ACTIVE', [hsm('eu-west-1a'), hsm('eu-west-1b'), hsm('eu-west-1c')]),
      [freshBackup],
      NOW,
    );
    assert.deepEqual(health.warnings, []);
    assert.deepEqual(health.info, {
      state: 'ACTIVE',
      hsmCount: 3,
      availabilityZones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
      latestBackupTime: NOW - 3600_000,
      hsmType: 'hsm2m.medium',
    });
  });

  test('one HSM: a warning about availability and key durability', () => {
    const health = clusterHealth(ID, cluster('ACTIVE', [hsm('eu-west-1a')]), [freshBackup], NOW);
    assert.equal(health.info.hsmCount, 1);
    assert.equal(health.warnings.length, 1);
    assert.match(health.warnings[0] ?? '', /one HSM: no high availability/);
  });

  test('two HSMs in one zone: a warning that one zone takes the cluster down', () => {
    const health = clusterHealth(
      ID,
      cluster('ACTIVE', [hsm('eu-west-1a', 'ACTIVE', 'hsm-1'), hsm('eu-west-1a', 'ACTIVE', 'hsm-2')]),
      [freshBackup],
      NOW,
    );
    assert.deepEqual(health.warnings, [
      'all 2 HSMs are in one Availability Zone (eu-west-1a): an outage of that zone stops the cluster',
    ]);
  });

  test('DEGRADED is usable with warnings, among them the HSM that is not ACTIVE', () => {
    const health = clusterHealth(
      ID,
      cluster('DEGRADED', [hsm('eu-west-1a'), hsm('eu-west-1b', 'DEGRADED')], {
        StateMessage: 'HSM unreachable',
      }),
      [freshBackup],
      NOW,
    );
    assert.equal(health.info.state, 'DEGRADED');
    assert.equal(health.info.hsmCount, 2);
    assert.match(health.warnings[0] ?? '', /DEGRADED/);
    assert.ok(health.warnings.some((w) => w.includes('HSM hsm-eu-west-1b is DEGRADED')));
    assert.ok(
      health.warnings.some((w) => /one HSM/.test(w)),
      'one HSM is left active',
    );
  });

  test('UNINITIALIZED and INITIALIZED need a person; CREATE_IN_PROGRESS passes by itself; DELETED is gone', () => {
    assert.throws(() => clusterHealth(ID, cluster('UNINITIALIZED', []), [], NOW), {
      code: 'Misconfigured',
      message: /initialize and activate/,
    });
    assert.throws(() => clusterHealth(ID, cluster('INITIALIZED', [hsm('a')]), [], NOW), {
      code: 'Misconfigured',
    });
    assert.throws(() => clusterHealth(ID, cluster('CREATE_IN_PROGRESS', []), [], NOW), { code: 'Retryable' });
    assert.throws(() => clusterHealth(ID, cluster('DELETED', []), [], NOW), { code: 'TokenNotFound' });
  });

  test('a missing cluster is TokenNotFound', () => {
    assert.throws(() => clusterHealth(ID, undefined, [], NOW), {
      code: 'TokenNotFound',
      message: /does not exist/,
    });
  });

  test('no completed backup, or only an old one, is a warning; HSMs being deleted do not count', () => {
    const hsms = [hsm('a'), hsm('b'), hsm('c', 'DELETED')];
    const none = clusterHealth(
      ID,
      cluster('ACTIVE', hsms),
      [{ ...freshBackup, BackupState: 'CREATE_IN_PROGRESS' }],
      NOW,
    );
    assert.equal(none.info.hsmCount, 2);
    assert.equal(none.info.latestBackupTime, undefined);
    assert.match(none.warnings.join('\n'), /no completed backup/);
    const old = { ...freshBackup, CreateTimestamp: new Date(NOW - 3 * 86_400_000) };
    const stale = clusterHealth(
      ID,
      cluster('ACTIVE', hsms),
      [old, { ...old, CreateTimestamp: new Date(NOW - 5 * 86_400_000) }],
      NOW,
    );
    assert.equal(stale.info.latestBackupTime, NOW - 3 * 86_400_000);
    assert.match(stale.warnings.join('\n'), /more than two days ago/);
  });
});
