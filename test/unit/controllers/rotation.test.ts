import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KeyVersion, ManagedKeyObject, ManagedKeyStatus } from '../../../src/api/v1alpha1/index.ts';
import {
  ROTATE_ANNOTATION,
  ageVersions,
  dueForDestruction,
  planRotation,
  recordRotation,
  recordRotationFailure,
} from '../../../src/controllers/managedkey/rotation.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-01-05T12:00:00Z'); // a Monday
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

function key(
  rotation: Partial<NonNullable<ManagedKeyObject['spec']['rotation']>>,
  annotations = {},
): ManagedKeyObject {
  return {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'ManagedKey',
    metadata: { name: 'k', namespace: 'n', uid: 'u', annotations },
    spec: {
      backendRef: { name: 'b' },
      algorithm: 'EC_P256',
      usages: ['sign', 'verify'],
      protection: { exportable: false },
      deletionPolicy: 'Retain',
      destroyAfter: '24h',
      rotation: { period: '720h', retainVersions: 2, ...rotation },
    },
  };
}

const version = (n: number, state: KeyVersion['state'], created: number, archived?: number): KeyVersion => ({
  version: n,
  state,
  keyRef: `pkcs11:object=v${n}`,
  createdTime: iso(created),
  ...(archived === undefined ? {} : { archivedTime: iso(archived) }),
});
const status = (versions: KeyVersion[], extra: ManagedKeyStatus = {}): ManagedKeyStatus => ({
  currentVersion: versions.find((v) => v.state === 'Active')?.version,
  versions,
  ...extra,
});

describe('planRotation', () => {
  it('is due when the cryptoperiod of the current version ends', () => {
    const s = status([version(1, 'Active', T0)]);
    assert.equal(planRotation(key({}), s, T0 + 719 * HOUR).due, undefined);
    assert.equal(planRotation(key({}), s, T0 + 720 * HOUR).due, 'period');
    assert.equal(planRotation(key({}), s, T0).next, T0 + 720 * HOUR);
  });

  it('waits for a maintenance window', () => {
    const windows = [{ cron: '0 2 * * *', duration: '1h', timeZone: 'UTC' }];
    const plan = planRotation(key({ windows }), status([version(1, 'Active', T0)]), T0 + 720 * HOUR);
    assert.equal(plan.due, undefined);
    assert.equal(plan.next, Date.parse('2026-02-05T02:00:00Z'));
  });

  it('rotates once for a new trigger and once for a new rotation request', () => {
    const s = status([version(1, 'Active', T0)], { lastRotationTrigger: '2026-01' });
    assert.equal(planRotation(key({ trigger: '2026-01' }), s, T0).due, undefined);
    assert.equal(planRotation(key({ trigger: '2026-02' }), s, T0).due, 'trigger');
    assert.equal(
      planRotation(key({ trigger: '2026-01' }, { [ROTATE_ANNOTATION]: 'now' }), s, T0).due,
      'request',
    );
    assert.equal(
      planRotation(
        key({ trigger: '2026-01' }, { [ROTATE_ANNOTATION]: 'now' }),
        { ...s, lastRotationRequest: 'now' },
        T0,
      ).due,
      undefined,
    );
  });

  it('backs off after failures, 1h then 2h', () => {
    const s = recordRotationFailure(status([version(1, 'Active', T0)]), T0 + 720 * HOUR);
    assert.equal(s.failedRotationAttempts, 1);
    assert.equal(planRotation(key({}), s, T0 + 720 * HOUR + 59 * 60_000).due, undefined);
    assert.equal(planRotation(key({}), s, T0 + 721 * HOUR).due, 'period');
    assert.equal(
      Date.parse(recordRotationFailure(s, T0 + 721 * HOUR).nextRotationTime ?? ''),
      T0 + 723 * HOUR,
    );
  });

  it('retries a failed trigger rotation when the backoff ends, not a cryptoperiod later', () => {
    // Found by the chaos scenario token-unavailable (seed 102): the schedule written while backing off was the
    // period's, so the next reconcile read the retry as a cryptoperiod away and the new version stayed Generating.
    const k = key({ trigger: 'b' });
    const failed = recordRotationFailure(
      status([version(1, 'Active', T0)], { lastRotationTrigger: 'a' }),
      T0 + HOUR,
    );
    const waiting = planRotation(k, failed, T0 + HOUR + 60_000);
    assert.equal(waiting.backingOff, true);
    assert.equal(waiting.next, T0 + 2 * HOUR);
    const scheduled = { ...failed, nextRotationTime: iso(waiting.next ?? 0) };
    assert.equal(planRotation(k, scheduled, T0 + 2 * HOUR).due, 'trigger');
  });
});

describe('planRotation inside maintenance windows', () => {
  const windows = [{ cron: '0 2 * * *', duration: '1h', timeZone: 'UTC' }];
  const due = T0 + 720 * HOUR; // 2026-02-04T12:00Z; windows open 02:00-03:00 UTC daily
  const open = Date.parse('2026-02-05T02:00:00Z');

  it('rotates while a window is open', () => {
    const plan = planRotation(key({ windows }), status([version(1, 'Active', T0)]), open + 30 * 60_000);
    assert.equal(plan.due, 'period');
  });

  it('after downtime across a window, waits for the next one instead of rotating outside it', () => {
    const afterWindow = open + 5 * HOUR; // the operator was down from before 02:00 until 07:00
    const plan = planRotation(key({ windows }), status([version(1, 'Active', T0)]), afterWindow);
    assert.equal(plan.due, undefined);
    assert.equal(plan.next, Date.parse('2026-02-06T02:00:00Z'));
  });

  it('after a failed attempt in a window, retries in a window, not when the backoff ends', () => {
    const failed = recordRotationFailure(status([version(1, 'Active', T0)]), open + 50 * 60_000);
    const retryAt = Date.parse(failed.nextRotationTime ?? '');
    assert.equal(retryAt, open + 110 * 60_000, 'one hour after the failure: the window has closed');
    assert.equal(planRotation(key({ windows }), failed, retryAt).due, undefined);
    const plan = planRotation(key({ windows }), failed, retryAt);
    assert.equal(plan.next, Date.parse('2026-02-06T02:00:00Z'));
    assert.equal(planRotation(key({ windows }), failed, Date.parse('2026-02-06T02:10:00Z')).due, 'period');
    assert.ok(due < open);
  });
});

describe('recordRotation', () => {
  it('makes the new version current and archives the previous one', () => {
    const now = T0 + 720 * HOUR;
    const s = recordRotation(
      key({ trigger: 'x' }),
      status([version(1, 'Active', T0)]),
      version(2, 'Active', now),
      now,
    );
    assert.equal(s.currentVersion, 2);
    assert.deepEqual(
      s.versions?.map((v) => [v.version, v.state]),
      [
        [2, 'Active'],
        [1, 'Archived'],
      ],
    );
    assert.equal(s.lastRotationTrigger, 'x');
    assert.equal(s.nextRotationTime, iso(now + 720 * HOUR));
  });
});

describe('ageVersions', () => {
  it('disables archived versions beyond retainVersions', () => {
    const versions = [
      version(4, 'Active', T0),
      version(3, 'Archived', T0, T0),
      version(2, 'Archived', T0, T0),
    ];
    const { versions: aged, transitions } = ageVersions(key({ retainVersions: 1 }), versions, T0);
    assert.deepEqual(
      aged.map((v) => v.state),
      ['Active', 'Archived', 'Disabled'],
    );
    assert.deepEqual(transitions, [{ version: 2, from: 'Archived', to: 'Disabled' }]);
  });

  it('schedules destruction destroyArchivedAfter after archival, announced destroyAfter ahead', () => {
    const versions = [version(2, 'Active', T0 + DAY), version(1, 'Archived', T0, T0 + DAY)];
    const k = key({ destroyArchivedAfter: '48h' });
    assert.deepEqual(ageVersions(k, versions, T0 + 2 * DAY).transitions, []);
    const { versions: aged } = ageVersions(k, versions, T0 + 3 * DAY);
    const pending = aged.find((v) => v.version === 1);
    assert.equal(pending?.state, 'PendingDestruction');
    assert.equal(pending.destroyTime, iso(T0 + 4 * DAY));
    assert.deepEqual(dueForDestruction(aged, T0 + 4 * DAY - 1), []);
    assert.deepEqual(
      dueForDestruction(aged, T0 + 4 * DAY).map((v) => v.version),
      [1],
    );
  });

  it('leaves every version as it is when spec.rotation is removed', () => {
    const versions = [
      version(3, 'Active', T0),
      version(2, 'Archived', T0, T0),
      version(1, 'Archived', T0, T0),
    ];
    const unrotated = key({});
    delete unrotated.spec.rotation;
    const { versions: aged, transitions } = ageVersions(unrotated, versions, T0 + 400 * DAY);
    assert.deepEqual(aged, versions);
    assert.deepEqual(transitions, []);
  });

  it('archives a disabled version again when retainVersions grows', () => {
    const versions = [
      version(3, 'Active', T0),
      version(2, 'Archived', T0, T0),
      version(1, 'Disabled', T0, T0),
    ];
    const { versions: aged, transitions } = ageVersions(key({ retainVersions: 2 }), versions, T0);
    assert.deepEqual(
      aged.map((v) => v.state),
      ['Active', 'Archived', 'Archived'],
    );
    assert.deepEqual(transitions, [{ version: 1, from: 'Disabled', to: 'Archived' }]);
  });
});
