// When a key rotates: its cryptoperiod ends, then the next maintenance window opens (if there are any), with an
// exponential delay after failed attempts. Pure functions over milliseconds, so tests can drive months of time.
import { Cron } from 'croner';
import { parseDuration } from '../../runtime/duration.ts';

export interface MaintenanceWindow {
  cron: string;
  duration: string;
  timeZone: string;
}

/** A maintenance window whose cron expression or time zone cannot be read. */
export class InvalidWindowError extends Error {
  override name = 'InvalidWindowError';
}

function cronOf(window: MaintenanceWindow): Cron {
  try {
    new Intl.DateTimeFormat('en', { timeZone: window.timeZone }); // throws RangeError for an unknown zone
    // 5-part POSIX cron; day-of-month and day-of-week OR'ed together as classic cron does.
    return new Cron(window.cron, {
      timezone: window.timeZone,
      mode: '5-part',
      domAndDow: false,
      paused: true,
    });
  } catch (error) {
    throw new InvalidWindowError(
      `maintenance window "${window.cron}" (${window.timeZone}) cannot be read: ${(error as Error).message}`,
    );
  }
}

/**
 * The earliest time at or after `due` when one of the windows is open, or `due` itself when there are no windows.
 * Undefined when no window opens within `horizonMs` after `due`.
 */
export function nextWindowOpening(
  windows: readonly MaintenanceWindow[],
  due: number,
  horizonMs: number,
): number | undefined {
  if (windows.length === 0) return due;
  let earliest: number | undefined;
  for (const window of windows) {
    const length = parseDuration(window.duration);
    // The first start after (due - length): at or before due, the window is open at due; after it, it opens then.
    const start = cronOf(window)
      .nextRun(new Date(due - length))
      ?.getTime();
    if (start === undefined) continue;
    const opening = Math.max(start, due);
    if (earliest === undefined || opening < earliest) earliest = opening;
  }
  return earliest !== undefined && earliest - due <= horizonMs ? earliest : undefined;
}

/** First retry one hour after a failure, doubling with each further failure, at most a day apart. */
export const ROTATION_RETRY_BASE_MS = 3_600_000;
export const ROTATION_RETRY_MAX_MS = 86_400_000;

export function rotationRetryDelay(failedAttempts: number): number {
  if (failedAttempts <= 0) return 0;
  return Math.min(ROTATION_RETRY_BASE_MS * 2 ** (failedAttempts - 1), ROTATION_RETRY_MAX_MS);
}
