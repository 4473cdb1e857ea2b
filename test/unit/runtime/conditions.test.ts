import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  findCondition,
  isConditionTrue,
  removeCondition,
  setCondition,
  withStalled,
} from '../../../src/runtime/conditions.ts';
import type { Condition } from '../../../src/runtime/conditions.ts';

const t0 = Date.UTC(2024, 0, 1, 0, 0, 0);
const hour = 3_600_000;

describe('setCondition (metav1.Condition semantics)', () => {
  it('adds a missing condition with lastTransitionTime = now', () => {
    const conditions = setCondition(
      undefined,
      { type: 'Ready', status: 'False', reason: 'Pending', message: 'waiting', observedGeneration: 1 },
      t0,
    );
    assert.deepEqual(conditions, [
      {
        type: 'Ready',
        status: 'False',
        reason: 'Pending',
        message: 'waiting',
        observedGeneration: 1,
        lastTransitionTime: '2024-01-01T00:00:00Z',
      },
    ]);
  });

  it('keeps lastTransitionTime when only reason, message or generation change', () => {
    const first = setCondition([], { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, t0);
    const second = setCondition(
      first,
      { type: 'Ready', status: 'False', reason: 'B', message: 'b', observedGeneration: 2 },
      t0 + hour,
    );
    assert.equal(findCondition(second, 'Ready')?.lastTransitionTime, '2024-01-01T00:00:00Z');
    assert.equal(findCondition(second, 'Ready')?.reason, 'B');
    assert.equal(findCondition(second, 'Ready')?.observedGeneration, 2);
  });

  it('moves lastTransitionTime when status changes', () => {
    const first = setCondition([], { type: 'Ready', status: 'False', reason: 'A', message: '' }, t0);
    const second = setCondition(
      first,
      { type: 'Ready', status: 'True', reason: 'A', message: '' },
      t0 + hour,
    );
    assert.equal(findCondition(second, 'Ready')?.lastTransitionTime, '2024-01-01T01:00:00Z');
    assert.ok(isConditionTrue(second, 'Ready'));
  });

  it('returns the same condition objects when nothing changed, and never mutates its input', () => {
    const first = setCondition([], { type: 'Ready', status: 'True', reason: 'Ok', message: '' }, t0);
    const frozen: readonly Condition[] = Object.freeze(first.map((c) => Object.freeze({ ...c })));
    const again = setCondition(
      frozen,
      { type: 'Ready', status: 'True', reason: 'Ok', message: '' },
      t0 + hour,
    );
    assert.equal(again[0], frozen[0]);
    const changed = setCondition(
      frozen,
      { type: 'Ready', status: 'False', reason: 'No', message: '' },
      t0 + hour,
    );
    assert.notEqual(changed[0], frozen[0]);
    assert.equal(frozen[0]?.status, 'True');
  });

  it('keeps one condition per type and the order of the others', () => {
    let conditions = setCondition([], { type: 'A', status: 'True', reason: 'R', message: '' }, t0);
    conditions = setCondition(conditions, { type: 'B', status: 'True', reason: 'R', message: '' }, t0);
    conditions = setCondition(conditions, { type: 'A', status: 'False', reason: 'R', message: '' }, t0);
    assert.deepEqual(
      conditions.map((c) => `${c.type}=${c.status}`),
      ['A=False', 'B=True'],
    );
    assert.deepEqual(
      removeCondition(conditions, 'A').map((c) => c.type),
      ['B'],
    );
    assert.equal(isConditionTrue(undefined, 'A'), false);
  });
});

it('withStalled copies Ready onto Stalled while stalled, and removes it after', () => {
  const ready = setCondition(
    undefined,
    {
      type: 'Ready',
      status: 'False',
      reason: 'InsufficientProtection',
      message: 'level 3 needed',
      observedGeneration: 2,
    },
    0,
  );
  const stalled = withStalled(ready, true, 1000);
  assert.deepEqual(findCondition(stalled, 'Stalled'), {
    type: 'Stalled',
    status: 'True',
    reason: 'InsufficientProtection',
    message: 'level 3 needed',
    observedGeneration: 2,
    lastTransitionTime: '1970-01-01T00:00:01Z',
  });
  assert.equal(findCondition(withStalled(stalled, false, 2000), 'Stalled'), undefined);
  assert.equal(
    findCondition(withStalled(undefined, true, 0), 'Stalled'),
    undefined,
    'no Ready, nothing to copy',
  );
});
