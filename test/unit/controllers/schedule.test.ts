import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  InvalidWindowError,
  nextWindowOpening,
  rotationRetryDelay,
} from '../../../src/controllers/managedkey/schedule.ts';

const at = (iso: string) => Date.parse(iso);
const WEEK = 7 * 86_400_000;
const weekdayNights = { cron: '0 2 * * 1-5', duration: '4h', timeZone: 'Europe/Berlin' };

describe('nextWindowOpening', () => {
  it('is the due time itself without windows', () => {
    assert.equal(nextWindowOpening([], at('2026-11-27T12:00:00Z'), WEEK), at('2026-11-27T12:00:00Z'));
  });

  it('waits for the next window when due outside one (in the window time zone)', () => {
    // Friday 12:00 UTC: the next weekday 02:00 in Berlin (UTC+1 in winter) is Monday 01:00 UTC.
    assert.equal(
      nextWindowOpening([weekdayNights], at('2026-11-27T12:00:00Z'), WEEK),
      at('2026-11-30T01:00:00Z'),
    );
  });

  it('rotates at once when due inside an open window', () => {
    // Thursday 03:30 Berlin = 02:30 UTC, inside the 02:00-06:00 window.
    assert.equal(
      nextWindowOpening([weekdayNights], at('2026-11-26T02:30:00Z'), WEEK),
      at('2026-11-26T02:30:00Z'),
    );
  });

  it('does not count a window that closes exactly at the due time', () => {
    // Thursday 06:00 Berlin: that window just closed; Friday's opens at 02:00 Berlin.
    assert.equal(
      nextWindowOpening([weekdayNights], at('2026-11-26T05:00:00Z'), WEEK),
      at('2026-11-27T01:00:00Z'),
    );
  });

  it('follows daylight saving time', () => {
    // In summer Berlin is UTC+2: Monday 02:00 Berlin is 00:00 UTC.
    assert.equal(
      nextWindowOpening([weekdayNights], at('2026-07-03T12:00:00Z'), WEEK),
      at('2026-07-06T00:00:00Z'),
    );
  });

  it('takes the earliest of several windows', () => {
    const sundays = { cron: '0 10 * * 0', duration: '1h', timeZone: 'UTC' };
    assert.equal(
      nextWindowOpening([weekdayNights, sundays], at('2026-11-27T12:00:00Z'), WEEK),
      at('2026-11-29T10:00:00Z'),
    );
  });

  it('is undefined when no window opens within the horizon', () => {
    const leapDays = { cron: '0 0 29 2 *', duration: '1h', timeZone: 'UTC' };
    assert.equal(nextWindowOpening([leapDays], at('2026-11-27T12:00:00Z'), WEEK), undefined);
  });

  it('reports a window it cannot read', () => {
    assert.throws(
      () => nextWindowOpening([{ ...weekdayNights, cron: '0 25 * * *' }], at('2026-11-27T12:00:00Z'), WEEK),
      InvalidWindowError,
    );
    assert.throws(
      () =>
        nextWindowOpening([{ ...weekdayNights, timeZone: 'Mars/Olympus' }], at('2026-11-27T12:00:00Z'), WEEK),
      InvalidWindowError,
    );
  });
});

describe('rotationRetryDelay', () => {
  it('doubles from one hour and caps at a day', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 5, 6, 20].map((n) => rotationRetryDelay(n) / 3_600_000),
      [0, 1, 2, 4, 16, 24, 24],
    );
  });
});
