import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { formatMicroTime, formatTime } from '../../../src/runtime/clock.ts';
import { parseDuration } from '../../../src/runtime/duration.ts';

describe('parseDuration', () => {
  it('parses Go durations into milliseconds', () => {
    assert.equal(parseDuration('15s'), 15_000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('2160h'), 2160 * 3_600_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('-2s'), -2000);
    assert.equal(parseDuration('250us'), 0.25);
  });

  it('rejects anything else', () => {
    for (const bad of ['', '15', 's', '1d', '1h 30m', '1x', '-', '10S']) {
      assert.throws(() => parseDuration(bad), /invalid duration/, bad);
    }
  });
});

describe('Kubernetes time formats', () => {
  it('formats metav1.Time with whole seconds', () => {
    assert.equal(formatTime(Date.UTC(2024, 4, 1, 10, 0, 0, 999)), '2024-05-01T10:00:00Z');
  });

  it('formats metav1.MicroTime with exactly six fractional digits', () => {
    assert.equal(formatMicroTime(Date.UTC(2024, 4, 1, 10, 0, 0, 123)), '2024-05-01T10:00:00.123000Z');
    assert.equal(formatMicroTime(Date.UTC(2024, 4, 1, 10, 0, 0, 7) + 0.456), '2024-05-01T10:00:00.007456Z');
  });
});
