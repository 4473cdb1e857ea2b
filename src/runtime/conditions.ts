// metav1.Condition semantics (k8s.io/apimachinery meta.SetStatusCondition): one condition per type;
// lastTransitionTime moves only when `status` changes; reason, message and observedGeneration follow the
// latest observation.

import { formatTime } from './clock.ts';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  /** The metadata.generation the condition was computed from. */
  observedGeneration?: number;
  /** RFC 3339 time of the last change of `status`. */
  lastTransitionTime: string;
  /** CamelCase machine-readable cause. */
  reason: string;
  /** Human-readable detail; never a secret. */
  message: string;
}

export type ConditionUpdate = Omit<Condition, 'lastTransitionTime'>;

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/**
 * Returns the conditions with `update` applied, without mutating the input. The result is element-wise
 * identical (same objects) to the input when nothing changed, so callers can compare cheaply.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  nowMs: number,
): Condition[] {
  const current = conditions ?? [];
  const existing = findCondition(current, update.type);
  if (!existing) return [...current, { ...update, lastTransitionTime: formatTime(nowMs) }];
  const lastTransitionTime =
    existing.status === update.status ? existing.lastTransitionTime : formatTime(nowMs);
  const next: Condition = { ...update, lastTransitionTime };
  if (sameCondition(existing, next)) return [...current];
  return current.map((condition) => (condition === existing ? next : condition));
}

export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((condition) => condition.type !== type);
}

function sameCondition(a: Condition, b: Condition): boolean {
  return (
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.observedGeneration === b.observedGeneration &&
    a.lastTransitionTime === b.lastTransitionTime
  );
}

/**
 * kstatus's `Stalled` condition (sigs.k8s.io/cli-utils, what Flux's health checks and `kubectl wait`-style tools
 * read): True, with Ready's reason and message, while the object has failed in a way that retrying will not fix;
 * absent otherwise. Without it kstatus can only call a Ready=False object InProgress, and Flux waits for its
 * timeout instead of failing at once.
 */
export function withStalled(
  conditions: readonly Condition[] | undefined,
  stalled: boolean,
  nowMs: number,
): Condition[] {
  const ready = findCondition(conditions, 'Ready');
  if (!stalled || !ready) return removeCondition(conditions, 'Stalled');
  const { reason, message, observedGeneration } = ready;
  return setCondition(
    conditions,
    { type: 'Stalled', status: 'True', reason, message, observedGeneration },
    nowMs,
  );
}
