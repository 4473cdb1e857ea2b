/** Wall-clock time in milliseconds since the epoch. Injectable so tests can drive months of time. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Kubernetes metav1.Time: RFC 3339 in UTC with whole seconds (`2024-05-01T10:00:00Z`). */
export function formatTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Kubernetes metav1.MicroTime: RFC 3339 in UTC with exactly six fractional digits, as the API server
 * requires for Event.eventTime and Lease renewTime (`2024-05-01T10:00:00.123456Z`).
 */
export function formatMicroTime(ms: number): string {
  const wholeMs = Math.floor(ms);
  const micros = Math.floor((ms - wholeMs) * 1000);
  return new Date(wholeMs).toISOString().replace('Z', `${String(micros).padStart(3, '0')}Z`);
}
