import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { addFinalizerPatch, hasFinalizer, removeFinalizerPatch } from '../../../src/runtime/finalizers.ts';
import { deepEqual, mergePatch } from '../../../src/runtime/status.ts';

const f = 'keyward.io/cleanup';

describe('finalizer patches', () => {
  it('test the list they change', () => {
    assert.deepEqual(addFinalizerPatch({ metadata: {} }, f), [
      { op: 'test', path: '/metadata/finalizers', value: null },
      { op: 'add', path: '/metadata/finalizers', value: [f] },
    ]);
    assert.deepEqual(addFinalizerPatch({ metadata: { finalizers: ['other'] } }, f), [
      { op: 'test', path: '/metadata/finalizers', value: ['other'] },
      { op: 'add', path: '/metadata/finalizers/-', value: f },
    ]);
    assert.deepEqual(removeFinalizerPatch({ metadata: { finalizers: ['other', f] } }, f), [
      { op: 'test', path: '/metadata/finalizers/1', value: f },
      { op: 'remove', path: '/metadata/finalizers/1' },
    ]);
  });

  it('are empty when there is nothing to do', () => {
    assert.deepEqual(addFinalizerPatch({ metadata: { finalizers: [f] } }, f), []);
    assert.deepEqual(removeFinalizerPatch({ metadata: { finalizers: ['other'] } }, f), []);
    assert.ok(hasFinalizer({ metadata: { finalizers: [f] } }, f));
    assert.ok(!hasFinalizer({ metadata: {} }, f));
  });
});

describe('status merge patch', () => {
  it('is undefined when nothing changed, however the keys are ordered', () => {
    const status = {
      observedGeneration: 2,
      conditions: [{ type: 'Ready', status: 'True' }],
      phase: 'Active',
    };
    assert.equal(
      mergePatch(status, {
        phase: 'Active',
        conditions: [{ status: 'True', type: 'Ready' }],
        observedGeneration: 2,
      }),
      undefined,
    );
    assert.equal(mergePatch({}, {}), undefined);
    assert.equal(mergePatch({ a: 1 }, { a: 1, b: undefined }), undefined);
  });

  it('carries only what changed, null for what is gone, and arrays whole', () => {
    assert.deepEqual(
      mergePatch(
        { phase: 'Pending', versions: [{ v: 1 }], info: { serial: 'a', model: 'x' }, old: 1 },
        { phase: 'Active', versions: [{ v: 1 }, { v: 2 }], info: { serial: 'a', model: 'y' } },
      ),
      { phase: 'Active', versions: [{ v: 1 }, { v: 2 }], info: { model: 'y' }, old: null },
    );
  });

  it('compares deeply', () => {
    assert.ok(deepEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }));
    assert.ok(!deepEqual({ a: [1, 2] }, { a: [2, 1] }));
    assert.ok(!deepEqual({ a: 1 }, { a: '1' }));
    assert.ok(!deepEqual(null, {}));
  });
});
